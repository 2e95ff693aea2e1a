/**
 * The CRD bridge: watches the nine kinds in the management cluster and keeps exactly one Temporal
 * workflow per object. Level-based, as controller-runtime reconciles: every event only queues the
 * object's key, and each reconcile reads the object afresh and converges.
 *
 * - A new object gets our finalizer, then its workflow (signalWithStart, so starts are idempotent).
 * - A spec change (`metadata.generation`) reaches the running workflow as the `spec` signal.
 * - Deletion cancels the workflow, waits for its clean-up, then removes the finalizer.
 * - A restart re-lists everything and converges without duplicates (the workflow id is the key).
 */
import {
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { ALL_KINDS, API_VERSION, kindInfo, type Kind, type ResourceRef } from '../api/kinds.js';
import type { Resource } from '../api/types.js';
import { backoffDelay } from '../kube/backoff.js';
import { isTransientKubeError, kubeErrorText } from '../kube/errors.js';
import type { Logger } from '../logger.js';
import { RESOURCE_KIND, RESOURCE_NAME, RESOURCE_NAMESPACE, RESOURCE_UID } from '../api/search-attributes.js';
import { FINALIZER, addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.js';
import { KeyedQueue } from '../kube/queue.js';
import { getCustomObject } from '../kube/objects.js';
import { SPEC_SIGNAL, WORKFLOW_TYPE, workflowIdOf } from '../api/contract.js';

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  management: KubeConfig;
  client: Client;
  taskQueue: string;
  log: Logger;
  /** Namespaces to watch; undefined or empty watches all. */
  namespaces?: string[];
  /** Passed to long-running workflows: seconds between rechecks of what is not ready. */
  recheckSeconds?: number;
  /** Keys reconciled at once. Default 8. */
  concurrency?: number;
  /** How long a deletion waits for its workflow's clean-up before trying again. Default 30 s. */
  cleanupTimeoutMs?: number;
  /** Every object is queued again this often, to heal what no event announced. Default 5 min. */
  resyncEveryMs?: number;
}

/** A running bridge. */
export interface Bridge {
  /** Resolves when the queue is empty (tests use it; delayed retries do not count). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** `kind/namespace/name`, the queue key of an object. */
export function keyOf(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

/**
 * Transient failures in a row (see isTransientKubeError) of one watch or one key, retried with
 * backoff, logged as warnings: a freshly started API server answers 429 "storage is
 * (re)initializing" for a second or two, a restarting one refuses connections. Their backoff adds
 * up to 15.5 s; the next ones are errors, since a server unavailable that long needs looking at.
 */
const TRANSIENT_FAILURES = 5;

/** Starts watching and reconciling; resolves once every informer has listed. */
export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const log = opts.log.child({ component: 'bridge' });
  const custom = opts.management.makeApiClient(CustomObjectsApi);
  const namespaces = opts.namespaces?.length ? opts.namespaces : [undefined];
  const informers: { informer: Informer<KubernetesObject> & { list(): KubernetesObject[] }; kind: Kind }[] =
    [];
  let stopped = false;

  const queue = new KeyedQueue({
    concurrency: opts.concurrency ?? 8,
    reconcile: (key) => reconcile(key),
    onError: (key, err, attempt) =>
      log[isTransientKubeError(err) && attempt <= TRANSIENT_FAILURES ? 'warn' : 'error'](
        { key, attempt, err: kubeErrorText(err) },
        'reconcile failed; retrying',
      ),
  });

  const getObject = (kind: Kind, namespace: string, name: string): Promise<Resource | undefined> =>
    getCustomObject(custom, kind, namespace, name);

  async function waitClosed(handle: WorkflowHandle, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    // Any outcome (completed, cancelled, failed, not found) means the workflow is closed.
    const closed = handle.result().then(
      () => true,
      () => true,
    );
    try {
      return await Promise.race([closed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [kindName, namespace, name] = key.split('/');
    const kind = kindName as Kind;
    const obj = await getObject(kind, namespace, name);
    if (!obj) return; // gone: its finalizer already ran
    const ref: ResourceRef = { kind, namespace, name, uid: obj.metadata.uid };
    const workflowId = workflowIdOf(ref);
    const rlog = log.child({ kind, namespace, name, workflowId });
    const handle = opts.client.workflow.getHandle(workflowId);

    if (obj.metadata.deletionTimestamp) {
      if (!hasFinalizer(obj)) return;
      try {
        await handle.cancel();
        rlog.info('resource deleted: workflow cancelled, waiting for its clean-up');
        if (!(await waitClosed(handle, opts.cleanupTimeoutMs ?? 30_000))) {
          rlog.warn('workflow clean-up still running; finalizer kept');
          return { requeueAfterMs: 2000 };
        }
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      await removeFinalizer(custom, obj);
      rlog.info('finalizer removed');
      return;
    }

    if (!hasFinalizer(obj)) await addFinalizer(custom, obj);

    const info = kindInfo(kind);
    const generation = obj.metadata.generation ?? 1;
    if (info.lifecycle === 'run-once' && TERMINAL_PHASES.has(obj.status?.phase ?? '')) return;
    if (obj.status?.workflowId === workflowId && obj.status.observedGeneration === generation) {
      try {
        const d = await handle.describe();
        if (d.status.name === 'RUNNING' || info.lifecycle === 'run-once') return;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    try {
      await opts.client.workflow.signalWithStart(WORKFLOW_TYPE[kind], {
        workflowId,
        taskQueue: opts.taskQueue,
        args: [{ ref, generation, spec: obj.spec, recheckSeconds: opts.recheckSeconds }],
        signal: SPEC_SIGNAL,
        signalArgs: [{ generation, spec: obj.spec }],
        workflowIdReusePolicy:
          info.lifecycle === 'run-once'
            ? WorkflowIdReusePolicy.REJECT_DUPLICATE
            : WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: [
          { key: RESOURCE_KIND, value: kind },
          { key: RESOURCE_NAMESPACE, value: namespace },
          { key: RESOURCE_NAME, value: name },
          { key: RESOURCE_UID, value: ref.uid },
        ],
        memo: { resource: `${kind} ${namespace}/${name}`, apiVersion: obj.apiVersion },
        staticSummary: `${kind} ${namespace}/${name}`,
      });
      rlog.debug({ generation }, 'workflow started or signalled');
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return; // a finished run-once: never again
      throw err;
    }
  }

  for (const kind of ALL_KINDS) {
    const { group, plural } = kindInfo(kind);
    for (const ns of namespaces) {
      const path = ns
        ? `/apis/${group}/${API_VERSION}/namespaces/${ns}/${plural}`
        : `/apis/${group}/${API_VERSION}/${plural}`;
      const list = ns
        ? () => custom.listNamespacedCustomObject({ group, version: API_VERSION, namespace: ns, plural })
        : () => custom.listClusterCustomObject({ group, version: API_VERSION, plural });
      const informer = makeInformer<KubernetesObject>(opts.management, path, list as never);
      const enqueue = (o: KubernetesObject) => {
        if (o.metadata?.namespace && o.metadata.name)
          queue.add(keyOf(kind, o.metadata.namespace, o.metadata.name));
      };
      informer.on('add', enqueue);
      informer.on('update', enqueue);
      informer.on('delete', enqueue);
      // A failed list or watch stops the informer: start it again with exponential backoff
      // (0.5 s doubling to 30 s, reset once a start succeeds). A freshly started API server
      // answers 429 "storage is (re)initializing" for a second or two; a fixed 5 s wait there
      // delayed every new object by seconds. Such a failure is a warning until it lasts
      // (TRANSIENT_FAILURES); what retrying cannot heal by itself (a missing CRD or permission)
      // is an error at once.
      let failures = 0;
      let restartPending = false;
      const restart = (err: unknown) => {
        if (stopped || restartPending) return;
        restartPending = true;
        const delayMs = backoffDelay({ initialMs: 500, maxMs: 30_000 }, ++failures);
        const level = isTransientKubeError(err) && failures <= TRANSIENT_FAILURES ? 'warn' : 'error';
        log[level](
          { kind, namespace: ns ?? '*', err: kubeErrorText(err) },
          `watch failed; restarting in ${delayMs} ms`,
        );
        setTimeout(() => {
          restartPending = false;
          if (stopped) return;
          informer.start().then(
            () => {
              // start() also resolves after a failed list, whose error has already scheduled the next try.
              if (!restartPending) failures = 0;
            },
            (e: unknown) => restart(e),
          );
        }, delayMs);
      };
      informer.on('error', restart);
      informers.push({ informer: informer as never, kind });
    }
  }
  await Promise.all(informers.map(({ informer }) => informer.start()));
  const resync = setInterval(() => {
    for (const { informer, kind } of informers) {
      for (const o of informer.list()) {
        if (o.metadata?.namespace && o.metadata.name)
          queue.add(keyOf(kind, o.metadata.namespace, o.metadata.name));
      }
    }
  }, opts.resyncEveryMs ?? 300_000);
  log.info(
    {
      namespaces: opts.namespaces?.length ? opts.namespaces : 'all',
      kinds: ALL_KINDS.length,
      finalizer: FINALIZER,
    },
    'bridge watching',
  );

  return {
    idle: () => queue.idle(),
    async stop() {
      stopped = true;
      clearInterval(resync);
      queue.stop();
      await Promise.all(informers.map(({ informer }) => informer.stop()));
      await queue.idle();
    },
  };
}
