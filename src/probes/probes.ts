/**
 * The health endpoints `/healthz` and `/readyz`, served beside `/metrics` on the plain-HTTP port
 * ({@link ../metrics/server.ts}): gathers the facts {@link ./readiness.ts} decides from.
 */
import type { Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { LeaderState } from '../leader/elector.js';
import type { Route } from '../metrics/server.js';
import { withTimeout } from '../time.js';
import { liveness, readiness, type ProbeAnswer } from './readiness.js';

/** How long `/readyz` waits for the Temporal frontend (kubelet's default probe timeout is 1 s; ours is 3 s). */
const TEMPORAL_TIMEOUT_MS = 2000;

/** What the probes look at, read at each request. */
export interface ProbeSources {
  worker: Pick<Worker, 'getStatus'>;
  connection: Pick<Connection, 'workflowService'>;
  leader?: () => LeaderState;
  /** Whether the bridge runs with its informers listed; undefined when this process has no bridge. */
  bridgeSynced?: () => boolean;
  webhookListening?: () => boolean;
}

/** The two routes, ready for the metrics server. */
export function probeRoutes(s: ProbeSources): Record<string, Route> {
  const answer = (a: ProbeAnswer) => ({
    status: a.ok ? 200 : 503,
    contentType: 'application/json',
    body: `${JSON.stringify(a)}\n`,
  });
  const workerFacts = () => {
    const { runState, workflowPollerState, activityPollerState } = s.worker.getStatus();
    return { runState, workflowPollerState, activityPollerState };
  };
  return {
    '/healthz': async () => answer(liveness(workerFacts())),
    '/readyz': async () => {
      let temporalError: string | undefined;
      try {
        await withTimeout(
          s.connection.workflowService.getSystemInfo({}),
          TEMPORAL_TIMEOUT_MS,
          'GetSystemInfo',
        );
      } catch (err) {
        temporalError = (err as Error).message.split('\n')[0];
      }
      return answer(
        readiness({
          temporalError,
          worker: workerFacts(),
          leader: s.leader?.(),
          bridgeSynced: s.bridgeSynced?.(),
          webhookListening: s.webhookListening?.(),
        }),
      );
    },
  };
}
