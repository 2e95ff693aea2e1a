/**
 * Leader election on a `coordination.k8s.io/v1` Lease in the management cluster: the I/O around
 * {@link ./lease.ts}. Every replica runs one elector; the one holding the Lease runs the CRD
 * bridge ({@link ../orchestrator.ts}), the others only the Temporal worker.
 *
 * - Candidates read the Lease every retry period (jittered) and take it over once it is free or
 *   has not changed for its lease duration by their own clock.
 * - The leader renews every retry period. It stops leading the moment a renewal shows someone
 *   else holds the Lease, or when it has not renewed for the renew deadline (a watchdog timer, so
 *   an API server that hangs cannot keep it leading).
 * - {@link LeaderElector.stop} releases a held Lease (empty holder), so that another replica takes
 *   over at its next retry instead of after the lease duration.
 */
import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound, kubeErrorText } from '../kube/errors.js';
import type { Logger } from '../logger.js';
import { withTimeout } from '../time.js';
import {
  JITTER_FACTOR,
  LeaseObserver,
  nextRecord,
  releasedRecord,
  type LeaseRecord,
  type LeaseTiming,
} from './lease.js';

/** Options of {@link startLeaderElector}. */
export interface LeaderElectorOptions {
  management: KubeConfig;
  /** Where the Lease lives. */
  lease: { namespace: string; name: string };
  /** This replica's identity in the Lease: unique per process (pod name and a random suffix). */
  identity: string;
  timing: LeaseTiming;
  log: Logger;
  /** Called when this replica starts leading; its rejection makes it step down. */
  onStartedLeading(): Promise<void>;
  /** Called when it stops leading (lost, expired, or stopped); must stop the leader's work at once. */
  onStoppedLeading(): Promise<void>;
  /** Monotonic milliseconds (tests shift it to play clock skew); default `performance.now()`. */
  now?: () => number;
  /** Wall-clock time written into the Lease; default `new Date()`. */
  wallClock?: () => Date;
}

/** What an elector knows about who leads, for readiness and metrics. */
export interface LeaderState {
  /** Whether this replica leads now. */
  leading: boolean;
  /** This replica's identity. */
  identity: string;
  /** The holder last seen in the Lease ('' when free, undefined before the first read). */
  holder?: string;
  /** `namespace/name` of the Lease. */
  lease: string;
}

/** A running elector. */
export interface LeaderElector {
  state(): LeaderState;
  /** Stops electing; a leader stops leading and releases the Lease. */
  stop(): Promise<void>;
}

/** Starts campaigning for the Lease in the background. */
export function startLeaderElector(opts: LeaderElectorOptions): LeaderElector {
  const api = opts.management.makeApiClient(CoordinationV1Api);
  const { namespace, name } = opts.lease;
  const lease = `${namespace}/${name}`;
  const log = opts.log.child({ component: 'leader-election', lease, identity: opts.identity });
  const now = opts.now ?? (() => performance.now());
  const wall = opts.wallClock ?? (() => new Date());
  const { retryPeriodMs, renewDeadlineMs, leaseDurationMs } = opts.timing;
  const observer = new LeaseObserver(opts.identity);
  const requestTimeoutMs = Math.max(1000, renewDeadlineMs - retryPeriodMs);

  let leading = false;
  let holder: string | undefined;
  let stopped = false;
  let lastRenew = 0;
  let lastProblem = '';
  /** Transitions run one at a time, in order: a stop never overtakes the start it follows. */
  let transitions: Promise<void> = Promise.resolve();
  let loopTimer: NodeJS.Timeout | undefined;
  let wakeLoop: (() => void) | undefined;

  const startLeading = () => {
    leading = true;
    lastRenew = now();
    log.info(
      { leaseDurationMs, renewDeadlineMs, retryPeriodMs },
      'became the leader: starting the CRD bridge',
    );
    transitions = transitions.then(() =>
      opts.onStartedLeading().catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'the CRD bridge did not start: stepping down');
        void stepDown('the CRD bridge did not start', true);
      }),
    );
  };
  const stepDown = (why: string, release: boolean): Promise<void> => {
    if (!leading) return transitions;
    leading = false;
    log.warn({ why }, 'stopped leading: the CRD bridge stops');
    transitions = transitions.then(() =>
      opts.onStoppedLeading().catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'stopping the CRD bridge failed');
      }),
    );
    return release ? transitions.then(() => releaseLease()) : transitions;
  };
  /** The watchdog: a leader that has not renewed within the deadline stops, whatever hangs. */
  const watchdog = setInterval(
    () => {
      if (leading && now() - lastRenew > renewDeadlineMs)
        void stepDown(`no renewal for ${renewDeadlineMs / 1000}s (renew deadline)`, false);
    },
    Math.min(retryPeriodMs, 1000),
  );

  const read = async (): Promise<V1Lease | undefined> => {
    try {
      return await withTimeout(
        api.readNamespacedLease({ namespace, name }),
        requestTimeoutMs,
        `reading Lease ${lease}`,
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const toBody = (record: LeaseRecord, current?: V1Lease): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      resourceVersion: current?.metadata?.resourceVersion,
      labels: current?.metadata?.labels ?? { 'app.kubernetes.io/part-of': 'resiliency-orchestrator' },
    },
    spec: {
      ...current?.spec,
      ...record,
      // MicroTime: the API server wants six digits of fraction, which a plain Date does not give.
      acquireTime: record.acquireTime && new V1MicroTime(record.acquireTime),
      renewTime: record.renewTime && new V1MicroTime(record.renewTime),
    },
  });

  /** One round: read, decide, write. Returns whether this replica holds the Lease afterwards. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const current = await read();
    const record: LeaseRecord | undefined = current?.spec;
    if (current) {
      const decision = observer.decide(record ?? {}, now());
      holder = record?.holderIdentity ?? '';
      if (decision.action === 'wait') return false;
    }
    const next = nextRecord(record, opts.identity, leaseDurationMs, wall());
    const write = current
      ? api.replaceNamespacedLease({ namespace, name, body: toBody(next, current) })
      : api.createNamespacedLease({ namespace, body: toBody(next) });
    try {
      await withTimeout(write, requestTimeoutMs, `writing Lease ${lease}`);
    } catch (err) {
      // Another replica wrote first (409): it holds the Lease now; we read it again next round.
      if (isConflict(err)) return false;
      throw err;
    }
    observer.wrote(next, now());
    holder = opts.identity;
    return true;
  };

  const releaseLease = async (): Promise<void> => {
    try {
      const current = await read();
      if (current?.spec?.holderIdentity !== opts.identity) return;
      const released = releasedRecord(current.spec, wall());
      await withTimeout(
        api.replaceNamespacedLease({ namespace, name, body: toBody(released, current) }),
        requestTimeoutMs,
        `releasing Lease ${lease}`,
      );
      holder = '';
      log.info('released the Lease');
    } catch (err) {
      log.warn(
        { err: kubeErrorText(err) },
        'could not release the Lease: another replica takes over when it expires',
      );
    }
  };

  const loop = async () => {
    while (!stopped) {
      try {
        const held = await tryAcquireOrRenew();
        if (stopped) break;
        lastProblem = '';
        if (held) {
          lastRenew = now();
          if (!leading) startLeading();
        } else if (leading) {
          await stepDown(`the Lease is held by ${holder}`, false);
        }
      } catch (err) {
        const problem = kubeErrorText(err);
        // Each new problem is logged once, not every retry period.
        if (problem !== lastProblem) {
          log[leading ? 'warn' : 'error'](
            { err: problem },
            `cannot ${leading ? 'renew' : 'acquire'} the Lease`,
          );
          lastProblem = problem;
        }
      }
      const delay = leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * (JITTER_FACTOR - 1));
      await new Promise<void>((resolve) => {
        wakeLoop = resolve;
        loopTimer = setTimeout(resolve, delay);
      });
    }
  };
  const running = loop();
  log.info({ leaseDurationMs, renewDeadlineMs, retryPeriodMs }, 'campaigning for the Lease');

  return {
    state: () => ({ leading, identity: opts.identity, holder, lease }),
    async stop() {
      if (stopped) return transitions;
      stopped = true;
      clearInterval(watchdog);
      clearTimeout(loopTimer);
      wakeLoop?.();
      await running;
      await stepDown('shutting down', true);
    },
  };
}
