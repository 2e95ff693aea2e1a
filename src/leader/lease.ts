/**
 * The pure part of leader election on a `coordination.k8s.io/v1` Lease, with the semantics of
 * client-go's `tools/leaderelection` (the one every Kubernetes controller uses), so that a
 * Kubernetes operator finds the behaviour they know:
 *
 * - A candidate never compares the Lease's `renewTime` with its own clock. It remembers when *it*
 *   last saw the Lease record change ({@link LeaseObserver}), and takes the Lease over only when the
 *   record has not changed for `leaseDurationSeconds` by its own clock. Clocks that disagree by
 *   seconds (or hours) therefore cannot make a live leader look expired.
 * - The leader gives up leading when it has not renewed for `renewDeadline`, which is shorter than
 *   the lease duration: it stops before any candidate may start. Only equal clock *rates* matter.
 * - Writes go through `resourceVersion` (optimistic concurrency): of two candidates that both see
 *   an expired Lease, one update wins and the other gets 409 Conflict.
 * - Releasing (a clean shutdown) empties `holderIdentity`, which any candidate may take at once.
 *
 * No I/O here: {@link ./elector.ts} reads and writes the Lease.
 */

/** The Lease fields leader election reads and writes (the Lease's `spec`). */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
}

/** Timing of leader election, in milliseconds (`--leader-election-*`). */
export interface LeaseTiming {
  /** How long candidates wait, after the Lease last changed, before taking it over. Default 15 s. */
  leaseDurationMs: number;
  /** How long the leader keeps leading without a successful renewal. Default 10 s. */
  renewDeadlineMs: number;
  /** How often the leader renews and candidates retry. Default 2 s. */
  retryPeriodMs: number;
}

/** client-go's and controller-runtime's defaults. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** client-go's jitter factor: candidates retry every retryPeriod × [1, 1.2). */
export const JITTER_FACTOR = 1.2;

/**
 * The problems of a timing, each naming its flag; empty when it is usable. As in client-go: the
 * lease duration must exceed the renew deadline (the leader stops before anyone may take over),
 * and the renew deadline must exceed the jittered retry period (a leader gets more than one try).
 */
export function timingProblems(t: LeaseTiming): string[] {
  const problems: string[] = [];
  for (const [flag, ms] of [
    ['--leader-election-lease-duration', t.leaseDurationMs],
    ['--leader-election-renew-deadline', t.renewDeadlineMs],
    ['--leader-election-retry-period', t.retryPeriodMs],
  ] as const) {
    if (!(ms > 0)) problems.push(`${flag}: must be greater than 0`);
  }
  if (problems.length) return problems;
  if (t.leaseDurationMs <= t.renewDeadlineMs)
    problems.push(
      `--leader-election-lease-duration (${t.leaseDurationMs / 1000}s) must be greater than --leader-election-renew-deadline (${t.renewDeadlineMs / 1000}s)`,
    );
  if (t.renewDeadlineMs <= JITTER_FACTOR * t.retryPeriodMs)
    problems.push(
      `--leader-election-renew-deadline (${t.renewDeadlineMs / 1000}s) must be greater than ${JITTER_FACTOR} × --leader-election-retry-period (${t.retryPeriodMs / 1000}s)`,
    );
  return problems;
}

/** What a candidate should do after reading the Lease. */
export type LeaseDecision =
  | { action: 'renew' } // we hold it: write a new renewTime
  | { action: 'acquire' } // free or expired: take it over
  | { action: 'wait'; holder: string }; // someone else holds it and it has not expired

/**
 * Remembers the last Lease record one candidate saw and when (by its own monotonic clock), and
 * decides from it. One per elector; `now` is a monotonic time in milliseconds
 * (`performance.now()` in production, anything in tests).
 */
export class LeaseObserver {
  private observed?: string;
  private observedAt = 0;

  constructor(private readonly identity: string) {}

  /** Records the record read at `now` and decides what to do. */
  decide(record: LeaseRecord, now: number): LeaseDecision {
    const fingerprint = fingerprintOf(record);
    if (fingerprint !== this.observed) {
      this.observed = fingerprint;
      this.observedAt = now;
    }
    const holder = record.holderIdentity ?? '';
    if (holder === this.identity) return { action: 'renew' };
    if (holder === '') return { action: 'acquire' };
    const durationMs = (record.leaseDurationSeconds ?? 0) * 1000;
    if (this.observedAt + durationMs > now) return { action: 'wait', holder };
    return { action: 'acquire' };
  }

  /** Records our own successful write, so that our next read is not mistaken for someone else's change. */
  wrote(record: LeaseRecord, now: number): void {
    this.observed = fingerprintOf(record);
    this.observedAt = now;
  }
}

/**
 * The record to write for `decision` (renew or acquire) at wall-clock time `wallNow`: a renewal
 * keeps the acquire time and the transition count; an acquisition from someone else counts one
 * transition more.
 */
export function nextRecord(
  current: LeaseRecord | undefined,
  identity: string,
  leaseDurationMs: number,
  wallNow: Date,
): LeaseRecord {
  const ours = current?.holderIdentity === identity;
  const transitions = current?.leaseTransitions ?? 0;
  const first = current === undefined;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
    acquireTime: ours ? (current?.acquireTime ?? wallNow) : wallNow,
    renewTime: wallNow,
    leaseTransitions: ours || first ? transitions : transitions + 1,
  };
}

/**
 * The record a leader writes when it steps down cleanly: no holder, so that a candidate takes over
 * at its next retry instead of waiting out the lease duration (client-go's ReleaseOnCancel).
 */
export function releasedRecord(current: LeaseRecord, wallNow: Date): LeaseRecord {
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: wallNow,
    renewTime: wallNow,
    leaseTransitions: current.leaseTransitions ?? 0,
  };
}

function fingerprintOf(r: LeaseRecord): string {
  return JSON.stringify([
    r.holderIdentity ?? '',
    r.leaseDurationSeconds ?? 0,
    r.acquireTime ? new Date(r.acquireTime).getTime() : 0,
    r.renewTime ? new Date(r.renewTime).getTime() : 0,
    r.leaseTransitions ?? 0,
  ]);
}
