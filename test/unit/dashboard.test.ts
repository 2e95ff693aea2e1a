/**
 * The Grafana dashboard (k8s/monitoring/dashboard.json): its shape against Grafana's published
 * dashboard types, its layout, its queries (valid PromQL, only metrics that exist, only the four
 * filters of seed section 5.1.4.3, each filtering every metric that has its label) and the
 * variable filling that a test against a real Prometheus uses (test/integration/dashboard-queries.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { createMetrics } from '../../src/metrics/metrics.js';
import {
  dataPanels,
  escapeRegexValue,
  expand,
  expandedTargets,
  FILTER_VARIABLES,
  formatVariable,
  loadDashboard,
  metricNames,
  panelTargets,
  syntaxError,
  variableQueries,
  variablesOf,
  vectorSelectors,
  type DashboardJson,
} from '../integration/dashboard-queries.js';

const root = process.cwd();
const dashboard = loadDashboard(root);
const raw = JSON.parse(readFileSync(path.join(root, 'k8s/monitoring/dashboard.json'), 'utf8')) as Record<
  string,
  unknown
>;
const docs = readFileSync(path.join(root, 'docs/observability.md'), 'utf8');

// ---------------------------------------------------------------------------------------------
// Grafana's dashboard schema, as the TypeScript types Grafana publishes on npm: @grafana/schema
// (the Dashboard, Panel, RowPanel and VariableModel of the dashboard kind, and each panel
// plugin's Options and FieldConfig) and @grafana/grafana-foundation-sdk (the Prometheus query).
// The JSON is compiled as object literals of those types, so unknown keys (excess properties),
// missing required keys, wrong types and values outside an enum are all errors.

/** The panel types the dashboard may use, with the module of their options' types. */
const PANEL_TYPES: Record<string, { module: string; custom: string }> = {
  stat: {
    module: '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen',
    custom: 'Record<string, unknown>',
  },
  bargauge: {
    module: '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen',
    custom: 'Record<string, unknown>',
  },
  timeseries: {
    module: '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
    custom: 'timeseries.FieldConfig',
  },
};

/** The TypeScript source that types every part of the dashboard; one `const` per checked part. */
function typeCheckSource(d: DashboardJson & Record<string, unknown>): string {
  const lines = [
    "import type { Dashboard, FieldConfigSource } from '@grafana/schema';",
    "import type * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';",
    ...Object.entries(PANEL_TYPES).map(([name, t]) => `import type * as ${name} from '${t.module}';`),
    // JSON has no enums: a string enum accepts its values as string literals here.
    // `_implementsDataqueryVariant` is the SDK's type-only brand of a query, never in JSON.
    'type Json<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T :',
    '  T extends (infer U)[] ? Json<U>[] :',
    "  T extends object ? { [K in keyof T as K extends '_implementsDataqueryVariant' ? never : K]: Json<T[K]> } : T;",
    `export const dashboard: Json<Dashboard> = ${JSON.stringify(d)};`,
  ];
  for (const p of dataPanels(d) as (ReturnType<typeof dataPanels>[number] & Record<string, unknown>)[]) {
    const t = PANEL_TYPES[p.type];
    const at = `panel_${p.id}`;
    if (!t) {
      lines.push(
        `export const ${at}_type: ${Object.keys(PANEL_TYPES)
          .map((k) => `'${k}'`)
          .join(' | ')} = '${p.type}';`,
      );
      continue;
    }
    lines.push(`export const ${at}_options: Json<${p.type}.Options> = ${JSON.stringify(p.options)};`);
    lines.push(
      `export const ${at}_fieldConfig: Json<FieldConfigSource<${t.custom}>> = ${JSON.stringify(p.fieldConfig)};`,
    );
    lines.push(`export const ${at}_targets: Json<prometheus.dataquery>[] = ${JSON.stringify(p.targets)};`);
  }
  return lines.join('\n') + '\n';
}

/** Compiles the typed dashboard; returns each error as `<const>: <message>`. */
function typeErrors(d: DashboardJson & Record<string, unknown>): string[] {
  const file = path.join(root, 'test/unit/dashboard-typecheck.generated.ts');
  const source = typeCheckSource(d);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => f === file || fileExists.call(host, f);
  host.readFile = (f) => (f === file ? source : readFile.call(host, f));
  host.getSourceFile = (f, language, ...rest) =>
    f === file ? ts.createSourceFile(f, source, language) : getSourceFile.call(host, f, language, ...rest);
  const program = ts.createProgram([file], options, host);
  const sourceLines = source.split('\n');
  return ts.getPreEmitDiagnostics(program).map((diag) => {
    const message = ts.flattenDiagnosticMessageText(diag.messageText, '\n');
    if (!diag.file || diag.start === undefined) return message;
    const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
    const where = /^export const (\w+)/.exec(sourceLines[line] ?? '')?.[1] ?? `line ${line + 1}`;
    return `${where}: ${message}`;
  });
}

describe('the dashboard against Grafana’s published dashboard types', () => {
  it('type-checks as a Dashboard, each panel’s options and field config as its plugin’s, each query as a Prometheus query', () => {
    expect(typeErrors(raw as DashboardJson & Record<string, unknown>)).toEqual([]);
  });

  it('is not a vacuous check: a misspelt key, a wrong enum value and a wrong type are reported where they are', () => {
    const broken = structuredClone(raw) as DashboardJson & Record<string, unknown>;
    const panels = dataPanels(broken) as (ReturnType<typeof dataPanels>[number] & Record<string, unknown>)[];
    const stat = panels.find((p) => p.type === 'stat')!;
    const series = panels.find((p) => p.type === 'timeseries')!;
    (stat.options as Record<string, unknown>).colorMode = 'rainbow';
    (series.targets![0] as Record<string, unknown>).legendFormatt = '{{kind}}';
    broken.graphTooltip = 'shared';
    (broken.templating.list[1] as Record<string, unknown>).multiple = true;
    const errors = typeErrors(broken);
    expect(errors).toEqual([
      expect.stringMatching(/^dashboard: .*not assignable to type 'DashboardCursorSync \| undefined'/),
      expect.stringMatching(/^dashboard: Object literal may only specify known properties, and '"multiple"'/),
      expect.stringMatching(new RegExp(`^panel_${stat.id}_options: Type '"rainbow"' is not assignable`)),
      expect.stringMatching(
        new RegExp(
          `^panel_${series.id}_targets: Object literal may only specify known properties, and '"legendFormatt"'`,
        ),
      ),
    ]);
  });

  it('uses a current schemaVersion, a stable uid and the Prometheus data source variable everywhere', () => {
    expect(raw.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(raw.uid).toBe('resiliency-orchestrator');
    expect(raw.id).toBeUndefined(); // Grafana assigns it; a fixed id would clash on import
    const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of dataPanels(dashboard) as (ReturnType<typeof dataPanels>[number] & {
      datasource?: unknown;
    })[]) {
      expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: '${datasource}' }]);
      for (const t of p.targets ?? []) {
        expect([p.title, (t as { datasource?: unknown }).datasource]).toEqual([
          p.title,
          { type: 'prometheus', uid: '${datasource}' },
        ]);
      }
    }
  });
});

describe('layout', () => {
  const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  it('gives every panel a unique id and a gridPos inside the 24 columns, with no two panels overlapping', () => {
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of all) {
      expect(p.gridPos).toEqual({
        x: expect.any(Number),
        y: expect.any(Number),
        w: expect.any(Number),
        h: expect.any(Number),
      });
      expect([p.title, p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24]).toEqual([
        p.title,
        true,
      ]);
    }
    const cells = new Map<string, string>();
    for (const p of all) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const other = cells.get(`${x},${y}`);
          expect(other ? `${p.title} overlaps ${other}` : p.title).toBe(p.title);
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });

  it('opens on the overview a DR owner reads first, then the write, read, run and compute detail', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'Write', 'Read', 'Runs: Synchronization, Backup, TaskRun', 'Compute']);
    const overview = dashboard.panels
      .filter(
        (p) => p.type !== 'row' && p.gridPos.y < dashboard.panels.find((r) => r.title === 'Write')!.gridPos.y,
      )
      .map((p) => p.title);
    // health, RPO, drift, failures, last resync, TaskRun RTO
    expect(overview).toEqual(
      expect.arrayContaining([
        'Assets ready',
        'Workflows running',
        'Objects failed',
        'RPO: replication lag p50 / p99',
        'Resync drift',
        'Replication errors by reason',
        'Run failures by type',
        'Time since last resync',
        'TaskRun RTO p50 / p95',
      ]),
    );
  });

  it('gives every data panel a title, a description and at least one query with a unique refId', () => {
    for (const p of dataPanels(dashboard) as (ReturnType<typeof dataPanels>[number] & {
      description?: string;
    })[]) {
      expect(p.title).not.toBe('');
      expect([p.title, (p.description ?? '').length > 20]).toEqual([p.title, true]);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect([p.title, refIds.length > 0, new Set(refIds).size === refIds.length]).toEqual([
        p.title,
        true,
        true,
      ]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Queries

const metrics = createMetrics();
/** Our metric names (and prom-client's default ones) with their label names. */
const registered = new Map(
  metrics.registry
    .getMetricsAsArray()
    .map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames ?? []] as const),
);
const histograms = new Set(
  metrics.registry
    .getMetricsAsArray()
    .filter((m) => m.constructor.name === 'Histogram')
    .map((m) => m.name),
);

/** The registered metric a sample name belongs to (`x_bucket` → `x` for a histogram). */
function baseName(sample: string): string {
  const m = /^(.+)_(bucket|sum|count)$/.exec(sample);
  return m && histograms.has(m[1]) ? m[1] : sample;
}

/** String literals of the Temporal SDK core's Rust sources that define metric names (shipped in its npm package). */
function temporalCoreMetricNames(): Set<string> {
  const crates = path.join(root, 'node_modules/@temporalio/core-bridge/sdk-core/crates');
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'metrics.rs') {
        for (const m of readFileSync(full, 'utf8').matchAll(/"([a-z_]+)"/g)) names.add(m[1]);
      }
    }
  };
  walk(crates);
  return names;
}

const expanded = expandedTargets(dashboard);
const used = [...new Set(expanded.flatMap((t) => metricNames(t.query)))].sort();

describe('panel queries', () => {
  it.each(expanded.map((t) => [`${t.panelTitle} ${t.refId}`, t] as const))(
    '%s is valid PromQL once its variables are filled in',
    (_title, t) => {
      expect(t.query).not.toMatch(/\$/);
      expect(syntaxError(t.query)).toBeUndefined();
      expect(t.selectors.length).toBeGreaterThan(0);
    },
  );

  it('reads only metrics the orchestrator registers (prom-client default metrics included)', () => {
    const ours = used.filter((n) => !n.startsWith('temporal_'));
    expect(ours.length).toBeGreaterThan(20);
    expect(ours.filter((n) => !registered.has(baseName(n)))).toEqual([]);
    // Each of ours is in docs/observability.md's tables (test/unit/metrics.test.ts checks the reverse).
    expect(
      ours.filter((n) => n.startsWith('resiliency_orchestrator_') && !docs.includes(`\`${baseName(n)}\``)),
    ).toEqual([]);
  });

  it('reads only Temporal SDK metrics that docs/observability.md documents and the SDK core defines', () => {
    const temporal = used.filter((n) => n.startsWith('temporal_'));
    expect(temporal.length).toBeGreaterThan(0);
    expect(temporal.filter((n) => !docs.includes(`\`${n.replace(/_(bucket|sum|count)$/, '')}\``))).toEqual(
      [],
    );
    const core = temporalCoreMetricNames();
    // temporal_ + the core's name + _seconds for durations + _total for counters (src/temporal/runtime.ts).
    const coreName = (n: string) =>
      n
        .replace(/^temporal_/, '')
        .replace(/_(bucket|sum|count)$/, '')
        .replace(/_total$/, '')
        .replace(/_seconds$/, '');
    expect(temporal.filter((n) => !core.has(coreName(n)))).toEqual([]);
  });

  it('uses no label our metrics lack, in a matcher or in a by (...) clause', () => {
    const problems: string[] = [];
    for (const t of expanded) {
      for (const selector of t.selectors) {
        const [name] = metricNames(selector);
        if (!name || name.startsWith('temporal_')) continue;
        const labels = registered.get(baseName(name)) ?? [];
        for (const m of selector.matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)) {
          const allowed = m[1] === 'le' && name.endsWith('_bucket');
          if (!labels.includes(m[1]) && !allowed)
            problems.push(`${t.panelTitle}: ${name} has no label ${m[1]}`);
        }
      }
      for (const by of t.query.matchAll(/\bby \(([^)]*)\)/g)) {
        const names = metricNames(t.query).filter((n) => !n.startsWith('temporal_'));
        if (!names.length) continue;
        const known = new Set([
          'le',
          'instance',
          'job',
          ...names.flatMap((n) => registered.get(baseName(n)) ?? []),
        ]);
        for (const label of by[1].split(',').map((s) => s.trim())) {
          if (!known.has(label))
            problems.push(`${t.panelTitle}: by (${label}) is no label of ${names.join(', ')}`);
        }
      }
      const target = dataPanels(dashboard)
        .find((p) => p.id === t.panelId)!
        .targets!.find((x) => x.refId === t.refId)!;
      for (const m of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        if (!new RegExp(`\\b${m[1]}\\b`).test(t.expr) && m[1] !== 'instance') {
          problems.push(`${t.panelTitle}: legend {{${m[1]}}} is not a label of its query`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('filters every metric by each of the four variables whose label it has', () => {
    // label → variable. `name` is a LiveSynchronization only on livesync_* series (asset_ready's
    // `name` is an asset's); the Temporal SDK's `namespace` is a Temporal namespace.
    const filters: [string, string][] = [
      ['namespace', 'namespace'],
      ['name', 'livesynchronization'],
      ['object_namespace', 'object_namespace'],
      ['group', 'api_group'],
    ];
    const problems: string[] = [];
    for (const t of panelTargets(dashboard)) {
      for (const selector of rawSelectors(t.expr)) {
        const name = /^(\w+)/.exec(selector)?.[1] ?? '';
        if (name.startsWith('temporal_')) continue;
        const labels = registered.get(baseName(name)) ?? [];
        for (const [label, variable] of filters) {
          if (!labels.includes(label)) continue;
          if (label === 'name' && !name.startsWith('resiliency_orchestrator_livesync_')) continue;
          if (!selector.includes(`${label}=~"$${variable}"`)) {
            problems.push(`${t.panelTitle} ${t.refId}: ${name} is not filtered by $${variable}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

/** `metric{...}` selectors of an expression as written, `$variables` included. */
function rawSelectors(expr: string): string[] {
  // Variables and macros are not PromQL: parse a copy where each is a same-length placeholder.
  const masked = expr
    .replace(/\$\w+/g, (v) => 'V'.repeat(v.length))
    .replace(/\[V+\]/g, (w) => `[${'1'.repeat(w.length - 3)}s]`);
  const found: string[] = [];
  let offset = 0;
  for (const s of vectorSelectors(masked)) {
    const at = masked.indexOf(s, offset);
    found.push(expr.slice(at, at + s.length));
    offset = at + s.length;
  }
  return found;
}

describe('template variables', () => {
  it('are the data source and the four filters of seed 5.1.4.3, multi-select with All = .*', () => {
    const list = dashboard.templating.list as (DashboardJson['templating']['list'][number] & {
      label?: string;
      includeAll?: boolean;
    })[];
    expect(list.map((v) => [v.name, v.type, v.label])).toEqual([
      ['datasource', 'datasource', 'Data source'],
      ['namespace', 'query', 'Namespace'],
      ['livesynchronization', 'query', 'Recovery Plan'],
      ['object_namespace', 'query', 'Object Namespace'],
      ['api_group', 'query', 'Object API Group'],
    ]);
    for (const v of list.slice(1)) {
      expect(v).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
      expect((v as { datasource?: unknown }).datasource).toEqual({
        type: 'prometheus',
        uid: '${datasource}',
      });
    }
  });

  it('are each used by some panel query, and no query uses another variable', () => {
    const usedVariables = new Set(panelTargets(dashboard).flatMap((t) => variablesOf(t.expr)));
    expect([...usedVariables].sort()).toEqual([...FILTER_VARIABLES].sort());
  });

  it('chain: each filter lists the values left by the filters before it, from the LiveSynchronization series', () => {
    expect(variableQueries(dashboard, { namespace: ['team-a'], livesynchronization: ['apps'] })).toEqual([
      {
        name: 'namespace',
        label: 'namespace',
        match: '{__name__=~"resiliency_orchestrator_(livesync_.+|run_attempts_total|asset_ready)"}',
      },
      {
        name: 'livesynchronization',
        label: 'name',
        match: '{__name__=~"resiliency_orchestrator_livesync_.+", namespace=~"team-a"}',
      },
      {
        name: 'object_namespace',
        label: 'object_namespace',
        match: '{__name__=~"resiliency_orchestrator_livesync_.+", namespace=~"team-a", name=~"apps"}',
      },
      {
        name: 'api_group',
        label: 'group',
        match:
          '{__name__=~"resiliency_orchestrator_livesync_.+", namespace=~"team-a", name=~"apps", object_namespace=~".*"}',
      },
    ]);
    for (const q of variableQueries(dashboard)) expect(syntaxError(q.match)).toBeUndefined();
  });
});

describe('filling the variables in, as Grafana’s Prometheus data source does', () => {
  it.each([
    [undefined, '.*'],
    ['all', '.*'],
    [['team-a'], 'team-a'],
    [['team-a', 'team-b'], '(team-a|team-b)'],
    [['networking.k8s.io'], 'networking\\\\.k8s\\\\.io'],
    [['core', 'apps', 'batch'], '(core|apps|batch)'],
  ] as const)('%j becomes %s', (values, text) => {
    expect(formatVariable(values as string[] | 'all' | undefined)).toBe(text);
  });

  it('escapes every regex metacharacter for a PromQL string (one backslash for the regex, doubled for the string)', () => {
    expect(escapeRegexValue('a.b*c+d?e(f)g[h]i{j}k|l^m$n')).toBe(
      'a\\\\.b\\\\*c\\\\+d\\\\?e\\\\(f\\\\)g\\\\[h\\\\]i\\\\{j\\\\}k\\\\|l\\\\^m\\\\$n',
    );
    // the PromQL parser reads the escaped value back as a valid string
    expect(syntaxError(`up{a=~"${escapeRegexValue('x.y(z)')}"}`)).toBeUndefined();
  });

  it('refuses an empty selection and an unknown variable', () => {
    expect(() => formatVariable([])).toThrow(/at least one value/);
    expect(() => expand('up{a=~"$other"}')).toThrow(/unknown variable \$other/);
  });

  it('fills ${braced} and $plain variables and the interval macros', () => {
    expect(
      expand(
        'sum(rate(x{namespace=~"${namespace}", group=~"$api_group"}[$__rate_interval])) + increase(x[$__range]) + y[$__interval]',
        { namespace: ['a', 'b'], api_group: ['apps'] },
        { rateInterval: '1m', range: '3h', interval: '15s' },
      ),
    ).toBe('sum(rate(x{namespace=~"(a|b)", group=~"apps"}[1m])) + increase(x[3h]) + y[15s]');
  });

  it('narrows every LiveSynchronization query by a selection, and lists its series selectors', () => {
    const selection = {
      namespace: ['team-a'],
      livesynchronization: ['apps'],
      object_namespace: ['web'],
      api_group: ['networking.k8s.io'],
    };
    const narrowed = expandedTargets(dashboard, selection, { rateInterval: '1m', range: '10m' });
    const errors = narrowed.find((t) => t.panelTitle === 'Replication errors by reason')!;
    expect(errors.query).toBe(
      'sum by (reason) (rate(resiliency_orchestrator_livesync_errors_total{namespace=~"team-a", name=~"apps", object_namespace=~"web", group=~"networking\\\\.k8s\\\\.io"}[1m]))',
    );
    expect(errors.selectors).toEqual([
      'resiliency_orchestrator_livesync_errors_total{namespace=~"team-a", name=~"apps", object_namespace=~"web", group=~"networking\\\\.k8s\\\\.io"}',
    ]);
    const rto = narrowed.find((t) => t.panelTitle === 'TaskRun RTO p50 / p95' && t.refId === 'A')!;
    expect(rto).toMatchObject({ instant: true });
    expect(rto.query).toContain('[10m]');
    expect(rto.query).toContain('kind="TaskRun"');
    for (const t of narrowed) {
      expect(syntaxError(t.query)).toBeUndefined();
      expect(t.query).not.toContain('.*"'); // every filter is set, so no "All" is left
    }
  });
});
