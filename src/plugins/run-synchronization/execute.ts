/**
 * The run of a `run-synchronization` Task (seed 002 section 3): creates a Synchronization from
 * the template in the TaskRun's namespace, owned by the TaskRun, follows it to its final phase
 * and takes that phase on. Cancelling the run (deleting the TaskRun) deletes the Synchronization,
 * which stops it. A retried attempt (a lost worker) finds the Synchronization it created and
 * follows it again: the name derives from the TaskRun.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { API_VERSION, apiVersionOf, kindInfo } from '../../api/kinds.js';
import type { Resource } from '../../api/types.js';
import { isConflict, isNotFound } from '../../kube/errors.js';
import { fitName } from '../../kube/names.js';
import { getCustomObject } from '../../kube/objects.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { RunSynchronizationConfig } from './index.js';

/** Label on the Synchronization a TaskRun created, naming the TaskRun. */
export const TASKRUN_LABEL = 'automation.astronetes.io/taskrun';

/** Failure type of a run whose Synchronization ended Failed. */
export const SYNCHRONIZATION_FAILED = 'SynchronizationFailed';

const POLL_MS = 2000;

/** The Synchronization of a TaskRun: the TaskRun's own name, cut to fit. */
export function synchronizationNameOf(taskRun: string): string {
  return fitName(taskRun);
}

export async function runSynchronizationOnce(
  run: PluginRun<RunSynchronizationConfig>,
): Promise<PluginOutcome> {
  const { ref, config, signal, log } = run;
  const custom = run.home.makeApiClient(CustomObjectsApi);
  const { group, plural } = kindInfo('Synchronization');
  const name = synchronizationNameOf(ref.name);
  const target = { group, version: API_VERSION, namespace: ref.namespace, plural, name };
  const { metadata, spec } = config.template;
  const owned = (s: Resource | undefined) => s?.metadata.ownerReferences?.some((o) => o.uid === ref.uid);
  // A restart (restartPolicy) starts without a checkpoint: the Synchronization an earlier attempt
  // left Failed is deleted and made again. A retried attempt (a lost worker) follows its own.
  const resumed = (run.checkpoint as { synchronization?: string } | undefined)?.synchronization;
  const earlier = await getCustomObject(custom, 'Synchronization', ref.namespace, name);
  if (!resumed && owned(earlier) && earlier?.status?.phase === 'Failed') {
    await custom.deleteNamespacedCustomObject(target).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    const deadline = Date.now() + 120_000;
    while (await getCustomObject(custom, 'Synchronization', ref.namespace, name)) {
      if (Date.now() > deadline || signal.aborted)
        throw ApplicationFailure.nonRetryable(
          `Synchronization ${ref.namespace}/${name} of an earlier attempt did not go within 120 s`,
          SYNCHRONIZATION_FAILED,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
    log.info({ synchronization: name }, 'restart: the failed synchronization of the earlier attempt deleted');
  }
  try {
    await custom.createNamespacedCustomObject({
      ...target,
      body: {
        apiVersion: apiVersionOf('Synchronization'),
        kind: 'Synchronization',
        metadata: {
          name,
          namespace: ref.namespace,
          labels: { ...metadata?.labels, [TASKRUN_LABEL]: fitName(ref.name) },
          annotations: { ...metadata?.annotations },
          ownerReferences: [
            {
              apiVersion: apiVersionOf('TaskRun'),
              kind: 'TaskRun',
              name: ref.name,
              uid: ref.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec,
      },
    });
    log.info({ synchronization: name }, 'synchronization created');
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  const first = await getCustomObject(custom, 'Synchronization', ref.namespace, name);
  if (!owned(first))
    throw ApplicationFailure.nonRetryable(
      `Synchronization ${ref.namespace}/${name} exists and was not created by this TaskRun`,
      'SynchronizationConflict',
    );
  run.heartbeat({ synchronization: first!.metadata.uid });
  const removeSynchronization = () =>
    custom.deleteNamespacedCustomObject(target).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  for (;;) {
    if (signal.aborted) {
      await removeSynchronization();
      log.info({ synchronization: name }, 'run cancelled: synchronization deleted');
      throw ApplicationFailure.nonRetryable(`cancelled: Synchronization ${name} deleted`, 'Cancelled');
    }
    const current = await getCustomObject(custom, 'Synchronization', ref.namespace, name);
    if (!current || !owned(current))
      throw ApplicationFailure.nonRetryable(
        `Synchronization ${ref.namespace}/${name} was deleted before it finished`,
        SYNCHRONIZATION_FAILED,
      );
    const status = current.status ?? {};
    const progress = status.progress as Record<string, number> | undefined;
    if (progress) run.progress(progress);
    if (status.phase === 'Succeeded')
      return { message: `Synchronization ${name} succeeded: ${status.message ?? ''}`.trim(), progress };
    if (status.phase === 'Failed')
      throw ApplicationFailure.nonRetryable(
        `Synchronization ${name} failed: ${status.message ?? 'no message'}`,
        SYNCHRONIZATION_FAILED,
      );
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, POLL_MS);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
