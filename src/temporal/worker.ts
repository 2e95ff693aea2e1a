/**
 * Builds the orchestrator's Temporal worker: the workflows of `workflows/` and the activities of
 * `activities/`, on one task queue. Entry points (src/main.ts, tests) wire config to this.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';

/** Path of the workflows entry file the worker bundles. */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Extra worker options (tests shorten shutdown, benchmarks raise slots). */
  overrides?: Partial<WorkerOptions>;
}

/** Creates (but does not run) the worker. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.overrides?.workflowBundle ? {} : { workflowsPath }),
    activities: createActivities(opts.deps),
    shutdownGraceTime: '10 seconds',
    ...opts.overrides,
  });
}
