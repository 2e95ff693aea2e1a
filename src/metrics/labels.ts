/**
 * Label values of the orchestrator's metrics, bounded. Label values come from user objects, so
 * every function here maps them onto a small set: never an object's name or uid, an API group
 * spelled once, a failure type from the known list, a plugin's progress counters onto a few fixed
 * item counts. Pure; unit-tested in test/unit/metrics.test.ts.
 */
import { FailureType } from '../api/errors.js';
import { parseGoDuration } from '../api/duration.js';

/** The `object_namespace` of a LiveSynchronization that turned per-namespace series off. */
export const ALL_NAMESPACES = '_all';

/** The `group` label of an API group: `core` for the core group (the empty string). */
export function apiGroupLabel(group: string): string {
  return group === '' ? 'core' : group;
}

/**
 * The `object_namespace` label of an object: its namespace (empty for a cluster-scoped object), or
 * {@link ALL_NAMESPACES} when the LiveSynchronization's `observability.enabled` is false.
 */
export function objectNamespaceLabel(namespace: string, perNamespace: boolean): string {
  return perNamespace ? namespace : ALL_NAMESPACES;
}

/** Failure types other than {@link FailureType}'s that a run can end with. */
const OTHER_FAILURE_TYPES = ['InvalidSpec', 'Error'];

const KNOWN_FAILURE_TYPES = new Set<string>([...Object.values(FailureType), ...OTHER_FAILURE_TYPES]);

/** The `failure_type` label: a known failure type, else `Other` (a plugin's own type is not trusted to be bounded). */
export function failureTypeLabel(type: string | null | undefined): string {
  return type && KNOWN_FAILURE_TYPES.has(type) ? type : 'Other';
}

/** What a run processed, from its plugin's final progress counters. */
export interface RunItems {
  /** `znodes` for the ZooKeeper plugins, `objects` for the rest. */
  unit: 'objects' | 'znodes';
  processed: number;
  failed: number;
  bytes: number;
}

/**
 * The progress counters that count an item as done, over every plugin: `objects` (Kubernetes
 * backup), `znodes` (ZooKeeper backup), `inSync` (a one-off copy), `written`/`skipped`/`deleted`
 * (ZooKeeper copy), `created`/`updated`/`skipped` (restores), `patched`/`restored`/`unchanged`
 * (transformation Task). Totals (`matched`, `total`, `read`) and sub-counts are left out, so an
 * item is counted once.
 */
const PROCESSED_COUNTERS = [
  'objects',
  'znodes',
  'inSync',
  'written',
  'skipped',
  'deleted',
  'created',
  'updated',
  'patched',
  'restored',
  'unchanged',
];

/** Maps a plugin's final `progress` counters onto the fixed item counts of the run metrics. */
export function runItems(plugin: string, progress: Record<string, number> | undefined): RunItems {
  const p = progress ?? {};
  const n = (k: string) => (Number.isFinite(p[k]) && p[k] > 0 ? p[k] : 0);
  return {
    unit: plugin.includes('zookeeper') ? 'znodes' : 'objects',
    processed: PROCESSED_COUNTERS.reduce((sum, k) => sum + n(k), 0),
    failed: n('failed'),
    bytes: n('bytes'),
  };
}

/** A LiveSynchronization's `observability` block, as the metrics use it. */
export interface ObservabilitySettings {
  /** `enabled` (default true): series per object namespace; false aggregates them under `_all`. */
  perNamespace: boolean;
  /** `interval` (default 30s, at least 1s): how often the object-state gauges are recomputed. */
  intervalMs: number;
}

/** Default of `observability.interval`. */
export const DEFAULT_OBSERVABILITY_INTERVAL_MS = 30_000;

/** Reads `spec.config.observability` (already validated; an unparsable interval takes the default). */
export function observabilitySettings(observability?: {
  enabled?: boolean;
  interval?: string;
}): ObservabilitySettings {
  const parsed = observability?.interval ? parseGoDuration(observability.interval) : undefined;
  return {
    perNamespace: observability?.enabled !== false,
    intervalMs: Math.max(1000, parsed ?? DEFAULT_OBSERVABILITY_INTERVAL_MS),
  };
}
