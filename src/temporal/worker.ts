/**
 * Builds the orchestrator's Temporal worker: the workflows of `workflows/` and the activities of
 * `activities/`, on one task queue. Entry points (src/main.ts, tests) wire config to this.
 *
 * Where the workflow code comes from depends on how it runs (`workflowSource`, workflow-source.ts):
 * compiled (`node dist/src/main.js`, the image) it loads the bundle `npm run build` wrote beside it;
 * from source (tsx, jest, `npm start`) it bundles `workflows/` with webpack at start-up.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { workflowSource } from './workflow-source.js';

/** Path of the workflows entry file the worker bundles when it runs from source (tests bundle it too). */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Extra worker options (tests shorten shutdown, benchmarks raise slots, tests pass a bundle). */
  overrides?: Partial<WorkerOptions>;
}

/**
 * Creates (but does not run) the worker. It logs where its workflows come from: `workflows:
 * prebuilt bundle` (the build output), `workflows: bundling from source` (webpack now: seconds of
 * CPU and about 200 MiB more) or `workflows: bundle given by the caller` (tests). Every failure,
 * a missing bundle included, is a rejection, so the caller can close its connections.
 */
export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const log = opts.deps.log.child({ component: 'worker' });
  let workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  if (opts.overrides?.workflowBundle) {
    workflows = {};
    log.info('workflows: bundle given by the caller');
  } else {
    const source = workflowSource();
    if (source.kind === 'prebuilt') {
      workflows = { workflowBundle: { codePath: source.codePath } };
      log.info({ codePath: source.codePath }, 'workflows: prebuilt bundle');
    } else {
      workflows = { workflowsPath: source.workflowsPath };
      log.info({ workflowsPath: source.workflowsPath }, 'workflows: bundling from source');
    }
  }
  return await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflows,
    activities: createActivities(opts.deps),
    shutdownGraceTime: '10 seconds',
    ...opts.overrides,
  });
}
