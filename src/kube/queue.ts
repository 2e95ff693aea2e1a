/**
 * A work queue keyed by object (`kind/namespace/name`), as controller-runtime's: a key is queued at
 * most once, two reconciles of one key never overlap (a key that changes while it is being
 * reconciled runs again afterwards), a failed key is retried with exponential backoff, and at
 * most `concurrency` keys are reconciled at once.
 */

import { backoffDelay, type Backoff } from '../api/backoff.js';

/** What a reconcile asks of the queue. */
export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds. */
  requeueAfterMs?: number;
}

/** Options of {@link KeyedQueue}. */
export interface KeyedQueueOptions {
  concurrency: number;
  reconcile: (key: string) => Promise<ReconcileResult | void>;
  onError: (key: string, err: unknown, attempt: number) => void;
  /** Retry delays of a failed key; default 0.5 s doubling to 60 s. */
  backoff?: Backoff;
}

/** The queue. */
export class KeyedQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly opts: KeyedQueueOptions) {}

  /** Queues `key` (now, or after `delayMs`). */
  add(key: string, delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      if (this.timers.has(key)) return;
      this.timers.set(
        key,
        setTimeout(() => {
          this.timers.delete(key);
          this.add(key);
        }, delayMs),
      );
      return;
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.waiting.push(key);
    this.pump();
  }

  /** Number of keys waiting or being reconciled. */
  get depth(): number {
    return this.waiting.length + this.running.size;
  }

  /** Resolves when nothing is waiting or running (delayed retries do not count). */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and cancels delayed retries; running reconciles finish. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.waiting.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.opts.concurrency) {
      const key = this.waiting.shift();
      if (key === undefined) break;
      this.queued.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    if (this.depth === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  private async run(key: string): Promise<void> {
    let retryIn: number | undefined;
    try {
      const result = await this.opts.reconcile(key);
      this.failures.delete(key);
      retryIn = result?.requeueAfterMs;
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.opts.onError(key, err, attempt);
      retryIn = backoffDelay(this.opts.backoff ?? { initialMs: 500, maxMs: 60_000 }, attempt);
    } finally {
      this.running.delete(key);
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (retryIn !== undefined) this.add(key, retryIn);
    this.pump();
  }
}
