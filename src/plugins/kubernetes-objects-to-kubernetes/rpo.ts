/**
 * RPO as a DR owner means it: when a source change HAPPENED (as closely as the API server lets us
 * know), and the lag figures over a sliding window. Pure: no I/O, no clock of its own (every
 * function takes `now`), so it is unit-tested without a server.
 *
 * What the API server tells: `metadata.managedFields[].time` (the newest is the last write by any
 * manager), `metadata.creationTimestamp` and, for a delete, `metadata.deletionTimestamp`. All are
 * RFC 3339 with second precision (truncated), stamped by the SOURCE API server's clock; the lag is
 * computed with the worker's clock, so a skew between the two shifts every figure by the skew.
 */

/** An object whose metadata may hold `creationTimestamp`, `deletionTimestamp` and `managedFields[].time`. */
interface StampedObject {
  metadata?: Record<string, unknown>;
}

/** Milliseconds since the epoch of a Kubernetes time (a Date, or an RFC 3339 string); undefined when absent or bad. */
function millis(t: unknown): number | undefined {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The source's own stamp of the object's last change: for a delete, its `deletionTimestamp`;
 * otherwise the newest `managedFields[].time`, or `creationTimestamp`. Undefined when the object
 * carries none (a delete without a graceful deletion, an object without metadata).
 */
export function sourceStamp(obj: StampedObject | undefined, deleted = false): number | undefined {
  const m = obj?.metadata;
  if (!m) return undefined;
  if (deleted) return millis(m.deletionTimestamp);
  let newest = millis(m.creationTimestamp);
  const fields = Array.isArray(m.managedFields) ? (m.managedFields as { time?: unknown }[]) : [];
  for (const f of fields) {
    const t = millis(f?.time);
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  return newest;
}

/**
 * When a change received at `receivedAt` happened at the source (ms since the epoch), from the
 * object's stamp (see {@link sourceStamp}):
 * - a stamp of the same second as the receipt, or earlier: the change happened at most
 *   `receivedAt - stamp` before its receipt, and that bound is taken (a change stamped 12:00:00 and
 *   received at 12:00:00.4 counts 0.4 s before receipt; the stamp's truncation to the second makes
 *   every figure an upper bound, by less than a second);
 * - a stamp after the receipt (the source's clock runs ahead of the worker's): the receipt;
 * - a stamp before `floor` (a time by which the replication had converged: the object's state was
 *   already replicated, so what is behind now is not a source change, e.g. a copy deleted by hand)
 *   or no stamp at all (a delete that the receipt is the only witness of): the receipt.
 */
export function changeTime(stamp: number | undefined, receivedAt: number, floor?: number): number {
  if (stamp === undefined) return receivedAt;
  if (floor !== undefined && stamp < floor) return receivedAt;
  return Math.min(stamp, receivedAt);
}

/** The nearest-rank percentile of ascending `sorted`; 0 when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The lag figures of {@link LagWindow.figures}, in ms. */
export interface LagFigures {
  p50: number;
  p99: number;
  max: number;
  /** Writes the figures are over. */
  samples: number;
  /** The window, in seconds. */
  windowSeconds: number;
}

/** Options of {@link LagWindow}. */
export interface LagWindowOptions {
  /** How far back the figures look; default 10 minutes. */
  windowMs?: number;
  /** At most this many samples are kept (the newest); the max stays exact. Default 20,000. */
  maxSamples?: number;
}

/**
 * Replication lags over a sliding window (default the last 10 minutes), with bounded memory: at
 * most `maxSamples` samples (the newest); when more writes come within the window, p50 and p99 are
 * over the newest `maxSamples` of them, while `max` stays exact over the whole window (a maximum
 * per 10-second slot is kept).
 */
export class LagWindow {
  readonly windowMs: number;
  private readonly maxSamples: number;
  /** Sample times and values, oldest first, as a ring (`start` is the oldest). */
  private times: number[] = [];
  private values: number[] = [];
  /** The maximum per slot of `SLOT_MS` (slot start → max), for an exact max. */
  private readonly slotMax = new Map<number, number>();
  private sorted?: number[];

  constructor(opts: LagWindowOptions = {}) {
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.maxSamples = opts.maxSamples ?? 20_000;
  }

  private static readonly SLOT_MS = 10_000;

  /** Records a write whose change happened `ms` before it, at `now`. */
  add(ms: number, now: number): void {
    const value = Math.max(0, ms);
    this.times.push(now);
    this.values.push(value);
    if (this.times.length > this.maxSamples * 1.5) this.trim(this.times.length - this.maxSamples);
    const slot = now - (now % LagWindow.SLOT_MS);
    this.slotMax.set(slot, Math.max(this.slotMax.get(slot) ?? 0, value));
    this.sorted = undefined;
  }

  private trim(count: number): void {
    if (count <= 0) return;
    this.times = this.times.slice(count);
    this.values = this.values.slice(count);
    this.sorted = undefined;
  }

  /** Drops what is older than the window at `now`. */
  private expire(now: number): void {
    const from = now - this.windowMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop] < from) drop++;
    if (this.times.length - drop > this.maxSamples) drop = this.times.length - this.maxSamples;
    this.trim(drop);
    for (const slot of this.slotMax.keys()) if (slot + LagWindow.SLOT_MS <= from) this.slotMax.delete(slot);
  }

  /** p50, p99 and max of the window at `now` (0 when no write happened in it). */
  figures(now: number): LagFigures {
    this.expire(now);
    this.sorted ??= [...this.values].sort((a, b) => a - b);
    let max = this.sorted.at(-1) ?? 0;
    for (const m of this.slotMax.values()) max = Math.max(max, m);
    return {
      p50: percentile(this.sorted, 50),
      p99: percentile(this.sorted, 99),
      max: this.sorted.length ? max : 0,
      samples: this.sorted.length,
      windowSeconds: Math.round(this.windowMs / 1000),
    };
  }
}
