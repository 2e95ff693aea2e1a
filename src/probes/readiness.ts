/**
 * What `/healthz` and `/readyz` answer, decided from facts gathered elsewhere ({@link ./probes.ts}):
 * pure, so that each rule is a unit test.
 *
 * - **Live** (`/healthz`): the process answers and its Temporal worker has not failed. Nothing
 *   slow is checked, on purpose: a liveness probe that failed during a long activity or a
 *   Temporal outage would have the kubelet kill a replica in the middle of its work, which only
 *   moves the work elsewhere after a heartbeat timeout.
 * - **Ready** (`/readyz`): the Temporal frontend answers, the worker polls its task queue, the
 *   audit webhook listens (when configured) and, on the leader, the CRD bridge's informers have
 *   listed. A replica that does not lead is ready without the bridge: it serves the worker and the
 *   webhook. The body says who leads.
 */
import type { LeaderState } from '../leader/elector.js';

/** One check's outcome. */
export interface Check {
  ok: boolean;
  /** What was found, one line. */
  message: string;
}

/** The facts readiness is decided from. */
export interface ReadinessFacts {
  /** The Temporal frontend's answer: undefined when it answered, else the error's line. */
  temporalError?: string;
  worker: { runState: string; workflowPollerState: string; activityPollerState: string };
  /** Leader election, when on; absent: this replica runs the bridge unconditionally. */
  leader?: LeaderState;
  /** Whether the bridge runs with its informers listed (absent: the bridge is off). */
  bridgeSynced?: boolean;
  /** Whether the audit webhook listens (absent: not configured). */
  webhookListening?: boolean;
}

/** A probe's answer: HTTP 200 when ok, 503 otherwise, with the checks as JSON. */
export interface ProbeAnswer {
  ok: boolean;
  checks: Record<string, Check>;
  leader?: { leading: boolean; identity: string; holder?: string; lease: string };
}

/** The liveness answer: only a failed worker is not live. */
export function liveness(worker: ReadinessFacts['worker']): ProbeAnswer {
  const failed = worker.runState === 'FAILED';
  return {
    ok: !failed,
    checks: { worker: { ok: !failed, message: `worker ${worker.runState.toLowerCase()}` } },
  };
}

/** The readiness answer from the facts. */
export function readiness(f: ReadinessFacts): ProbeAnswer {
  const checks: Record<string, Check> = {
    temporal: f.temporalError
      ? { ok: false, message: `Temporal frontend does not answer: ${f.temporalError}` }
      : { ok: true, message: 'Temporal frontend answers' },
    worker: workerCheck(f.worker),
  };
  if (f.webhookListening !== undefined)
    checks.webhook = f.webhookListening
      ? { ok: true, message: 'audit webhook listening' }
      : { ok: false, message: 'audit webhook not listening' };
  const leads = f.leader ? f.leader.leading : f.bridgeSynced !== undefined;
  if (leads)
    checks.bridge = f.bridgeSynced
      ? { ok: true, message: 'CRD bridge informers synced' }
      : { ok: false, message: 'CRD bridge starting: informers not synced yet' };
  else if (f.leader)
    checks.bridge = {
      ok: true,
      message: f.leader.holder
        ? `not the leader: ${f.leader.holder} runs the CRD bridge`
        : 'not the leader: no leader yet',
    };
  return {
    ok: Object.values(checks).every((c) => c.ok),
    checks,
    ...(f.leader && { leader: { ...f.leader } }),
  };
}

function workerCheck(w: ReadinessFacts['worker']): Check {
  if (w.runState !== 'RUNNING') return { ok: false, message: `worker ${w.runState.toLowerCase()}` };
  const pollers = [
    ['workflow', w.workflowPollerState],
    ['activity', w.activityPollerState],
  ].filter(([, state]) => state !== 'POLLING');
  if (pollers.length)
    return {
      ok: false,
      message: pollers.map(([what, state]) => `${what} poller ${state.toLowerCase()}`).join(', '),
    };
  return { ok: true, message: 'worker polling' };
}
