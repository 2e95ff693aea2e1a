/**
 * What the seed's `components` block of a LiveSynchronization means here (pure). The seed runs
 * one pod per component; we run one engine per resource type inside a Temporal activity, and each
 * component names the part of that engine that does its job:
 *
 * | component        | its lines (`logLevel`)                                         | `concurrentTasks`               |
 * | ---------------- | -------------------------------------------------------------- | ------------------------------- |
 * | eventsListener   | the source side: lists, watch events, relists (`sourceCluster`) | not applicable (warning)        |
 * | processor        | the type as a whole: filters, overlaps, a type available again  | not applicable (warning)        |
 * | synchronizer     | the destination writes and namespaces, the bucket uploads       | writes in flight per type (16)  |
 * | reconciler       | the prunes (destination deletes and their bucket deletes)       | not applicable (warning)        |
 * | restorer, metricsExporter | none in a replication run: accepted                    | not applicable (warning)        |
 *
 * A component without `logLevel` logs at the orchestrator's `--log-level`. `nats` and `redis` are
 * reported as not applicable by the plugin's normalize step.
 */
import type { Level, LevelWithSilent } from 'pino';
import type { Problem } from '../types.js';

/** The component names of the seed's API reference (section 5.1.5, Components). */
export const COMPONENT_NAMES = [
  'eventsListener',
  'processor',
  'reconciler',
  'restorer',
  'synchronizer',
  'nats',
  'redis',
  'metricsExporter',
] as const;

/** The components whose level applies to a part of the replication engine. */
export type EngineComponent = 'eventsListener' | 'processor' | 'synchronizer' | 'reconciler';

/** The default of `components.synchronizer.concurrentTasks`: writes in flight per resource type. */
export const DEFAULT_CONCURRENT_TASKS = 16;

/** The largest `concurrentTasks` accepted: more writes in flight only queue at the API server. */
export const MAX_CONCURRENT_TASKS = 512;

/** Our level names, and the spellings of the seed's Go loggers (zap, logr) they stand for. */
const LEVELS: Record<string, LevelWithSilent> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  dpanic: 'fatal',
  panic: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};

/** The level a `logLevel` value names (case does not matter), or undefined when it names none. */
export function parseLogLevel(value: string): LevelWithSilent | undefined {
  return LEVELS[value.trim().toLowerCase()];
}

type Components = Record<string, { logLevel?: string; concurrentTasks?: number } | undefined>;

/** What the engine takes from `components`. */
export interface ComponentSettings {
  /** Writes in flight per resource type. */
  concurrency: number;
  /** A level per engine part; absent: the orchestrator's level. */
  levels: Partial<Record<EngineComponent, Level | 'silent'>>;
}

/** The engine's settings from a (checked) `components` block. */
export function componentSettings(components: Components | undefined): ComponentSettings {
  const levels: ComponentSettings['levels'] = {};
  for (const name of ['eventsListener', 'processor', 'synchronizer', 'reconciler'] as const) {
    const text = components?.[name]?.logLevel;
    const level = text === undefined ? undefined : parseLogLevel(text);
    if (level) levels[name] = level;
  }
  return {
    concurrency: components?.synchronizer?.concurrentTasks ?? DEFAULT_CONCURRENT_TASKS,
    levels,
  };
}

/** Problems of a `components` block: an unknown component, a level that names none, a bound exceeded. */
export function checkComponents(components: Components | undefined): Problem[] {
  const problems: Problem[] = [];
  for (const [name, component] of Object.entries(components ?? {})) {
    const path = `spec.config.components.${name}`;
    if (!(COMPONENT_NAMES as readonly string[]).includes(name)) {
      problems.push({ path, message: `unknown component; one of ${COMPONENT_NAMES.join(', ')}` });
      continue;
    }
    const level = component?.logLevel;
    if (level !== undefined && !parseLogLevel(level))
      problems.push({
        path: `${path}.logLevel`,
        message: `'${level}' is not a log level; one of trace, debug, info, warn, error, fatal, silent`,
      });
    const tasks = component?.concurrentTasks;
    if (tasks !== undefined && tasks > MAX_CONCURRENT_TASKS)
      problems.push({
        path: `${path}.concurrentTasks`,
        message: `${tasks} is more than ${MAX_CONCURRENT_TASKS} writes in flight`,
      });
  }
  return problems;
}

/** Warnings for settings accepted without effect: `concurrentTasks` on a component other than synchronizer. */
export function componentWarnings(components: Components | undefined): Problem[] {
  return Object.entries(components ?? {})
    .filter(
      ([name, c]) =>
        name !== 'synchronizer' &&
        name !== 'nats' &&
        name !== 'redis' &&
        (COMPONENT_NAMES as readonly string[]).includes(name) &&
        c?.concurrentTasks !== undefined,
    )
    .map(([name]) => ({
      path: `spec.config.components.${name}.concurrentTasks`,
      message:
        'not applicable: only components.synchronizer.concurrentTasks is used (the writes in flight); the setting is ignored',
    }));
}
