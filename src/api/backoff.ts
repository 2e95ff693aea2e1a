/**
 * The one backoff of the project: exponential delays with a cap, for everything that retries
 * against an API server (a failed object write, a watch or informer restart, a type that is not
 * served yet) and for the restarts of a run-once kind (`restart.ts`). Pure; safe in workflows.
 */

/** How a backoff grows. */
export interface Backoff {
  /** The first delay. */
  initialMs: number;
  /** The largest delay. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
}

/** The delay before retry number `attempt` (1 for the first retry): initialMs × factor^(attempt−1), at most maxMs. */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  const n = Math.max(1, attempt);
  return Math.min(backoff.maxMs, backoff.initialMs * (backoff.factor ?? 2) ** (n - 1));
}
