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
import type { Client } from '@temporalio/client';
import { ALL_KINDS, API_VERSION, kindInfo, type Kind } from '../api/kinds.js';
import { backoffDelay } from '../api/backoff.js';
import { isTransientKubeError, kubeErrorText } from '../kube/errors.js';
import { KeyedQueue } from '../kube/queue.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { FINALIZER } from './finalizer.js';
import { createReconciler } from './reconcile.js';

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
  /** The orchestrator's metrics (queue depth, reconcile errors). */
  metrics: Metrics;
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
  let stopped = false;

  const reconcile = createReconciler({ ...opts, custom, log });
  const queue = new KeyedQueue({
    concurrency: opts.concurrency ?? 8,
    reconcile,
    onError: (key, err, attempt) => {
      opts.metrics.health.bridgeReconcileErrors.inc({ kind: key.slice(0, key.indexOf('/')) });
      log[isTransientKubeError(err) && attempt <= TRANSIENT_FAILURES ? 'warn' : 'error'](
        { key, attempt, err: kubeErrorText(err) },
        'reconcile failed; retrying',
      );
    },
  });
  const unwatchDepth = opts.metrics.watchQueueDepth(() => queue.depth);
  const enqueue = (kind: Kind, o: KubernetesObject) => {
    if (o.metadata?.namespace && o.metadata.name)
      queue.add(keyOf(kind, o.metadata.namespace, o.metadata.name));
  };

  const informers = ALL_KINDS.flatMap((kind) =>
    namespaces.map((namespace) => ({
      kind,
      informer: watchKind({
        management: opts.management,
        custom,
        kind,
        namespace,
        log,
        onObject: (o) => enqueue(kind, o),
        stopped: () => stopped,
      }),
    })),
  );
  await Promise.all(informers.map(({ informer }) => informer.start()));
  const resync = setInterval(() => {
    for (const { informer, kind } of informers) for (const o of informer.list()) enqueue(kind, o);
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
      unwatchDepth();
      queue.stop();
      await Promise.all(informers.map(({ informer }) => informer.stop()));
      await queue.idle();
    },
  };
}

/** What {@link watchKind} needs. */
interface WatchKindOptions {
  management: KubeConfig;
  custom: CustomObjectsApi;
  kind: Kind;
  /** One namespace, or undefined for all. */
  namespace: string | undefined;
  log: Logger;
  /** Called for every object added, updated or deleted. */
  onObject: (o: KubernetesObject) => void;
  stopped: () => boolean;
}

/**
 * An informer on one kind (in one namespace, or all). A failed list or watch stops an informer:
 * this one starts again with exponential backoff (0.5 s doubling to 30 s, reset once a start
 * succeeds). A freshly started API server answers 429 "storage is (re)initializing" for a second
 * or two; a fixed 5 s wait there delayed every new object by seconds. Such a failure is a warning
 * until it lasts (TRANSIENT_FAILURES); what retrying cannot heal by itself (a missing CRD or
 * permission) is an error at once.
 */
function watchKind(o: WatchKindOptions): Informer<KubernetesObject> & { list(): KubernetesObject[] } {
  const { group, plural } = kindInfo(o.kind);
  const ns = o.namespace;
  const path = ns
    ? `/apis/${group}/${API_VERSION}/namespaces/${ns}/${plural}`
    : `/apis/${group}/${API_VERSION}/${plural}`;
  const list = ns
    ? () => o.custom.listNamespacedCustomObject({ group, version: API_VERSION, namespace: ns, plural })
    : () => o.custom.listClusterCustomObject({ group, version: API_VERSION, plural });
  const informer = makeInformer<KubernetesObject>(o.management, path, list as never);
  informer.on('add', o.onObject);
  informer.on('update', o.onObject);
  informer.on('delete', o.onObject);
  let failures = 0;
  let restartPending = false;
  const restart = (err: unknown) => {
    if (o.stopped() || restartPending) return;
    restartPending = true;
    const delayMs = backoffDelay({ initialMs: 500, maxMs: 30_000 }, ++failures);
    const level = isTransientKubeError(err) && failures <= TRANSIENT_FAILURES ? 'warn' : 'error';
    o.log[level](
      { kind: o.kind, namespace: ns ?? '*', err: kubeErrorText(err) },
      `watch failed; restarting in ${delayMs} ms`,
    );
    setTimeout(() => {
      restartPending = false;
      if (o.stopped()) return;
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
  return informer as never;
}
