/**
 * `restartPolicy` of the run-once kinds, as on a Job (SPEC-NOTES): how many restarts a spec
 * allows and how long to wait before each. Pure; safe in workflows.
 */
import { backoffDelay, type Backoff } from './backoff.js';
import type { PluginSpec } from './types.js';

/** A Job's defaults: backoffLimit 6, backoff 10 s doubling up to 6 minutes. */
const DEFAULT_BACKOFF_LIMIT = 6;
const RESTART_BACKOFF: Backoff = { initialMs: 10_000, maxMs: 6 * 60_000 };

/** Failure types no restart can cure. */
export const FINAL_FAILURES = new Set(['InvalidSpec', 'PluginNotImplemented']);

/**
 * The restart settings of a TaskRun: its Task's `restartPolicy` and `backoffLimit`, each
 * overridden by the TaskRun's own when set.
 */
export function taskRunRestart(
  task: Partial<PluginSpec> | undefined,
  run: { restartPolicy?: PluginSpec['restartPolicy']; backoffLimit?: number },
): Pick<PluginSpec, 'restartPolicy' | 'backoffLimit'> {
  return {
    restartPolicy: run.restartPolicy ?? task?.restartPolicy,
    backoffLimit: run.backoffLimit ?? task?.backoffLimit,
  };
}

/** How many restarts `spec` allows after a failure: 0 for `Never` (a TaskRun passes {@link taskRunRestart}). */
export function restartLimitOf(spec: unknown): number {
  const s = (spec ?? {}) as Partial<PluginSpec>;
  if (s.restartPolicy !== 'OnFailure' && s.restartPolicy !== 'Always') return 0;
  return typeof s.backoffLimit === 'number' && s.backoffLimit >= 0 ? s.backoffLimit : DEFAULT_BACKOFF_LIMIT;
}

/** The wait before restart `n` (1-based). */
export function restartDelayMs(n: number): number {
  return backoffDelay(RESTART_BACKOFF, n);
}
