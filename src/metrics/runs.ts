/**
 * The metrics of one plugin run of a run-once kind (Synchronization, Backup, TaskRun), Velero-style:
 * an attempt, then a success or a failure by type, its duration, and the items and bytes of its
 * final progress. `runPlugin` drives it.
 */
import { failureTypeLabel, runItems } from './labels.js';
import type { Metrics } from './metrics.js';

/** Records one run; see {@link runRecorder}. */
export interface RunRecorder {
  /** The plugin is resolved and starts: counts the attempt. */
  started(plugin: string): void;
  /** The plugin reported progress counters (the last ones count for a failed run). */
  progress(counts: Record<string, number>): void;
  /** The run succeeded, with the plugin's final progress counters (else its last reported ones). */
  succeeded(progress?: Record<string, number>): void;
  /** The run failed with this failure type (an attempt that never started counts as one, plugin `unknown`). */
  failed(type: string | null | undefined): void;
}

/** Starts timing a run of `ref` (its kind and namespace label the series). */
export function runRecorder(
  metrics: Metrics,
  ref: { kind: string; namespace: string },
  now: () => number = () => performance.now(),
): RunRecorder {
  const m = metrics.runs;
  const begin = now();
  const labels = { kind: ref.kind, namespace: ref.namespace, plugin: 'unknown' };
  let attempted = false;
  let last: Record<string, number> | undefined;
  const attempt = () => {
    if (!attempted) m.attempts.inc(labels);
    attempted = true;
  };
  const seconds = () => (now() - begin) / 1000;
  const countItems = (progress: Record<string, number> | undefined) => {
    const items = runItems(labels.plugin, progress);
    m.items.inc({ ...labels, unit: items.unit, result: 'processed' }, items.processed);
    m.items.inc({ ...labels, unit: items.unit, result: 'failed' }, items.failed);
    m.bytes.inc(labels, items.bytes);
  };
  return {
    started(plugin) {
      labels.plugin = plugin;
      attempt();
    },
    succeeded(progress) {
      attempt();
      m.successes.inc(labels);
      m.duration.observe({ ...labels, result: 'succeeded' }, seconds());
      countItems(progress ?? last);
    },
    progress(counts) {
      last = counts;
    },
    failed(type) {
      attempt();
      m.failures.inc({ ...labels, failure_type: failureTypeLabel(type) });
      m.duration.observe({ ...labels, result: 'failed' }, seconds());
      countItems(last);
    },
  };
}
