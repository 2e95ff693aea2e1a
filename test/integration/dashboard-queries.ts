/**
 * The Grafana dashboard's queries (k8s/monitoring/dashboard.json), with its template variables
 * filled in the way Grafana's Prometheus data source fills them, so that a test can run each panel
 * query and each variable's `label_values` against a real Prometheus. Pure: no I/O but reading the
 * dashboard file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';

/** Where the dashboard lives, from the repository root. */
export const DASHBOARD_PATH = 'k8s/monitoring/dashboard.json';

/** The four filters of the seed (section 5.1.4.3), by template variable name. */
export const FILTER_VARIABLES = [
  'namespace',
  'livesynchronization',
  'object_namespace',
  'api_group',
] as const;
/** One of {@link FILTER_VARIABLES}. */
export type FilterVariable = (typeof FILTER_VARIABLES)[number];

/**
 * What is selected in each filter: a list of values, or `'all'` (Grafana's "All", which the
 * dashboard turns into `.*`). A variable left out is "All".
 */
export type Selection = Partial<Record<FilterVariable, string[] | 'all'>>;

/** Grafana's interval macros, as the panel's time range would set them. */
export interface Intervals {
  /** `$__rate_interval` (Grafana: max(4 × scrape interval, $__interval + scrape interval)). Default `2m`. */
  rateInterval?: string;
  /** `$__interval`. Default `30s`. */
  interval?: string;
  /** `$__range`: the dashboard's time range. Default `1h`. */
  range?: string;
}

/** The dashboard JSON, as far as this module reads it. */
export interface DashboardJson {
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query?: unknown; allValue?: string; multi?: boolean }[] };
}
/** A panel of the dashboard (rows included, whose `panels` are empty when not collapsed). */
export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  panels?: DashboardPanel[];
  targets?: { refId: string; expr: string; legendFormat?: string; instant?: boolean; range?: boolean }[];
}

/** One query of a panel, as written in the dashboard. */
export interface PanelTarget {
  panelId: number;
  panelTitle: string;
  refId: string;
  /** The PromQL with its `$variables`. */
  expr: string;
  /** True for an instant query (`/api/v1/query`), false for a range query (`/api/v1/query_range`). */
  instant: boolean;
}

/** Reads the dashboard JSON from the repository root (default: the current directory). */
export function loadDashboard(root = process.cwd()): DashboardJson {
  return JSON.parse(readFileSync(path.join(root, DASHBOARD_PATH), 'utf8')) as DashboardJson;
}

/** Every panel that is not a row, rows' nested panels included, in dashboard order. */
export function dataPanels(dashboard: DashboardJson): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** Every query target of the dashboard, unexpanded. */
export function panelTargets(dashboard: DashboardJson): PanelTarget[] {
  return dataPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panelId: p.id,
      panelTitle: p.title,
      refId: t.refId,
      expr: t.expr,
      instant: t.instant === true,
    })),
  );
}

/**
 * Escapes a value for a PromQL regex matcher inside a double-quoted string, as Grafana's
 * Prometheus data source does (`prometheusSpecialRegexEscape`): regex metacharacters get a
 * backslash, written twice because the PromQL string literal eats one.
 */
export function escapeRegexValue(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/**
 * The text Grafana puts in place of a multi-value variable in a Prometheus query: `.*` for All
 * (the dashboard's `allValue`), the escaped value for one value, `(a|b)` for several.
 */
export function formatVariable(values: string[] | 'all' | undefined): string {
  if (values === undefined || values === 'all') return '.*';
  if (values.length === 0) throw new Error('a selection needs at least one value, or "all"');
  const escaped = values.map(escapeRegexValue);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

/** The `$name` / `${name}` variables an expression uses, Grafana's `$__` macros left out. */
export function variablesOf(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\$(?:\{(\w+)\}|(\w+))/g)) {
    const name = m[1] ?? m[2];
    if (!name.startsWith('__')) names.add(name);
  }
  return [...names];
}

/**
 * Fills an expression's variables and interval macros. Throws on a variable that is not one of
 * the four filters, so a new variable cannot go unexpanded.
 */
export function expand(expr: string, selection: Selection = {}, intervals: Intervals = {}): string {
  const macros: Record<string, string> = {
    __rate_interval: intervals.rateInterval ?? '2m',
    __interval: intervals.interval ?? '30s',
    __range: intervals.range ?? '1h',
  };
  return expr.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (_all, braced: string | undefined, plain: string | undefined) => {
      const name = (braced ?? plain)!;
      if (name in macros) return macros[name];
      if ((FILTER_VARIABLES as readonly string[]).includes(name)) {
        return formatVariable(selection[name as FilterVariable]);
      }
      throw new Error(`unknown variable $${name} in ${expr}`);
    },
  );
}

/** A panel target with its variables filled in, ready for the Prometheus HTTP API. */
export interface ExpandedTarget extends PanelTarget {
  /** The PromQL to send. */
  query: string;
  /** The series selectors of {@link query} (each `metric{matchers}`), for `count(...)` narrowing checks. */
  selectors: string[];
}

/** Every panel query of the dashboard, expanded for a selection. */
export function expandedTargets(
  dashboard: DashboardJson,
  selection: Selection = {},
  intervals: Intervals = {},
): ExpandedTarget[] {
  return panelTargets(dashboard).map((t) => {
    const query = expand(t.expr, selection, intervals);
    return { ...t, query, selectors: vectorSelectors(query) };
  });
}

/** A query variable's `label_values(selector, label)`, expanded: Prometheus' `/api/v1/label/<label>/values?match[]=<match>`. */
export interface VariableQuery {
  name: string;
  label: string;
  match: string;
}

/** The four filter variables' queries, expanded for the selection of the variables before them. */
export function variableQueries(dashboard: DashboardJson, selection: Selection = {}): VariableQuery[] {
  return dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(String(v.query));
      if (!m)
        throw new Error(`variable ${v.name}: not a label_values(selector, label) query: ${String(v.query)}`);
      return { name: v.name, label: m[2], match: expand(m[1], selection) };
    });
}

/** A PromQL syntax error: the text around the first error node of the parse. */
export function syntaxError(query: string): string | undefined {
  let error: string | undefined;
  parser.parse(query).iterate({
    enter(node) {
      if (error === undefined && node.type.isError) {
        error = `at ${node.from}: …${query.slice(Math.max(0, node.from - 20), node.from + 20)}…`;
      }
    },
  });
  return error;
}

/** The vector selectors of a (variable-free) PromQL expression, as written in it. */
export function vectorSelectors(query: string): string[] {
  const found: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.name === 'VectorSelector') {
        found.push(query.slice(node.from, node.to));
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** The metric names a (variable-free) PromQL expression reads: the identifiers of its vector selectors. */
export function metricNames(query: string): string[] {
  const names = new Set<string>();
  parser.parse(query).iterate({
    enter(node) {
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.add(query.slice(id.from, id.to));
      }
      // {__name__=~"..."} selectors (the variables' label_values) name no single metric.
    },
  });
  return [...names];
}
