/**
 * One reconcile of the CRD bridge, level-based as controller-runtime's: read the object afresh
 * and converge. A deleted object's workflow is cancelled and its clean-up awaited before the
 * finalizer goes; any other object gets the finalizer, then its workflow (signalWithStart, so
 * starts are idempotent, and a spec change reaches a running workflow as the `spec` signal).
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { SPEC_SIGNAL, WORKFLOW_TYPE, workflowIdOf } from '../api/contract.js';
import { kindInfo, type Kind, type ResourceRef } from '../api/kinds.js';
import { RESOURCE_KIND, RESOURCE_NAME, RESOURCE_NAMESPACE, RESOURCE_UID } from '../api/search-attributes.js';
import type { Resource } from '../api/types.js';
import { getCustomObject } from '../kube/objects.js';
import type { Logger } from '../logger.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.js';

/** What {@link createReconciler} needs. */
export interface ReconcilerDeps {
  custom: CustomObjectsApi;
  client: Client;
  taskQueue: string;
  log: Logger;
  /** Passed to long-running workflows: seconds between rechecks of what is not ready. */
  recheckSeconds?: number;
  /** How long a deletion waits for its workflow's clean-up before trying again. Default 30 s. */
  cleanupTimeoutMs?: number;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

/** Whether the workflow closed (any outcome) within `timeoutMs`. */
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

/** Builds `reconcile(key)` for keys `kind/namespace/name`. */
export function createReconciler(deps: ReconcilerDeps) {
  const { custom, log } = deps;
  const opts = deps;

  /** Deleting: cancel the workflow, wait for its clean-up, then remove the finalizer. */
  async function finishDeletion(
    obj: Resource,
    handle: WorkflowHandle,
    rlog: Logger,
  ): Promise<{ requeueAfterMs?: number } | void> {
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
  }

  /** Present: our finalizer, then the workflow started, or signalled with the new spec. */
  async function ensureWorkflow(
    obj: Resource,
    ref: ResourceRef,
    handle: WorkflowHandle,
    rlog: Logger,
  ): Promise<void> {
    const { kind, namespace, name } = ref;
    const workflowId = handle.workflowId;
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

  return async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [kindName, namespace, name] = key.split('/');
    const kind = kindName as Kind;
    const obj = await getCustomObject(custom, kind, namespace, name);
    if (!obj) return; // gone: its finalizer already ran
    const ref: ResourceRef = { kind, namespace, name, uid: obj.metadata.uid };
    const workflowId = workflowIdOf(ref);
    const rlog = log.child({ kind, namespace, name, workflowId });
    const handle = opts.client.workflow.getHandle(workflowId);

    if (obj.metadata.deletionTimestamp) return finishDeletion(obj, handle, rlog);
    return ensureWorkflow(obj, ref, handle, rlog);
  };
}
