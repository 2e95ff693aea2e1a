/** The one backoff: exponential delays with a cap. */
import { backoffDelay } from '../../src/api/backoff.js';

describe('backoffDelay', () => {
  it.each([
    [{ initialMs: 500, maxMs: 60_000 }, 1, 500],
    [{ initialMs: 500, maxMs: 60_000 }, 2, 1000],
    [{ initialMs: 500, maxMs: 60_000 }, 8, 60_000],
    [{ initialMs: 200, maxMs: 5000 }, 0, 200], // attempt 0 counts as the first
    [{ initialMs: 100, maxMs: 10_000, factor: 3 }, 3, 900],
  ])('%j, attempt %i → %i ms', (backoff, attempt, ms) => expect(backoffDelay(backoff, attempt)).toBe(ms));
});
