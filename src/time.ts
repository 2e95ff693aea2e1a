/** Small helpers about time shared by the orchestrator's I/O code. */

/**
 * `promise`, or a rejection naming `what` when it has not settled within `ms`. The promise itself
 * is not cancelled (its result is ignored after the timeout).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
    }),
  ]);
}
