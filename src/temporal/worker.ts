/**
 * Builds the orchestrator's Temporal worker: the workflows of `workflows/` and the activities of
 * `activities/`, on one task queue. Entry points (src/main.ts, tests) wire config to this.
 *
 * Where the workflow code comes from depends on how this module runs (see {@link workflowSource}):
 * compiled (`node dist/src/main.js`, the image) it loads the bundle `npm run build` wrote beside it;
 * from source (tsx, jest, `npm start`) it bundles `workflows/` with webpack at start-up.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';

/** Path of the workflows entry file the worker bundles when it runs from source. */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** File name of the prebuilt workflow bundle, at the top of the build output (`dist/`). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/**
 * The workflow code of a worker: the prebuilt bundle of the build output, or the TypeScript
 * sources bundled at start-up.
 */
export type WorkflowSource =
  { kind: 'prebuilt'; codePath: string } | { kind: 'source'; workflowsPath: string };

/**
 * Where the worker defined at `moduleUrl` (this module's `import.meta.url` by default) takes its
 * workflows from. Compiled (a `.js` file, `dist/src/temporal/worker.js`): the bundle
 * `dist/workflow-bundle.js` that `npm run build` writes with the compiled code, so the two never
 * come from different sources; it throws, naming the file and the fix, when the bundle is missing
 * (a half-done build), rather than bundling at start-up in production. From source (`.ts`): the
 * workflows entry, bundled by the SDK with webpack when the worker is created.
 */
export function workflowSource(moduleUrl: string = import.meta.url): WorkflowSource {
  if (!new URL(moduleUrl).pathname.endsWith('.js'))
    return { kind: 'source', workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', moduleUrl)) };
  const codePath = fileURLToPath(new URL(`../../${WORKFLOW_BUNDLE_FILE}`, moduleUrl));
  if (!existsSync(codePath))
    throw new Error(
      `${codePath} is missing: the compiled worker runs the workflow bundle of the same build; run \`npm run build\``,
    );
  return { kind: 'prebuilt', codePath };
}

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
 * prebuilt bundle` (the build output), `workflows: bundling from source` (webpack now, a few
 * seconds and a few hundred MiB) or `workflows: bundle given by the caller` (tests).
 */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
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
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflows,
    activities: createActivities(opts.deps),
    shutdownGraceTime: '10 seconds',
    ...opts.overrides,
  });
}
