/**
 * The run of a `custom-image` Task (seed 002 section 1): a Pod with the Task's `image` and
 * `command` in the TaskRun's namespace, followed to its end; the TaskRun takes on the container's
 * exit code and reason. Within what the operator allows (policy.ts):
 *
 * - The Pod runs under its own ServiceAccount (named after the TaskRun). With `clusterRole`, that
 *   ServiceAccount is bound to it, by a RoleBinding in the namespace (or a ClusterRoleBinding
 *   when the operator says so), and the binding is deleted when the run ends.
 * - Pod, ServiceAccount and RoleBinding are owned by the TaskRun, so deleting the TaskRun deletes
 *   them (garbage collection); a cancelled run deletes them itself, ClusterRoleBinding included.
 * - A retried attempt (a lost worker) follows the Pod it created (its uid is the checkpoint); a
 *   restart (restartPolicy) deletes the finished Pod of the earlier attempt and runs a new one.
 *
 * No container runs in the local stack: a simulated node (kwok) plays the kubelet's part.
 */
import {
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1OwnerReference,
  type V1Pod,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { apiVersionOf } from '../../api/kinds.js';
import { isConflict, isNotFound, kubeErrorText } from '../../kube/errors.js';
import { fitName, shortHash } from '../../kube/names.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { CustomImageConfig } from './index.js';
import { bindingKind, DENY_ALL, refusal } from './policy.js';

/** Label on everything a custom-image run creates: the TaskRun's uid. */
export const TASKRUN_UID_LABEL = 'automation.astronetes.io/taskrun-uid';

/** Failure types of a custom-image run. */
export const CustomImageFailure = {
  /** The operator does not allow the namespace or the ClusterRole. */
  NotAllowed: 'CustomImageNotAllowed',
  /** `clusterRole` names a ClusterRole that does not exist. */
  ClusterRoleNotFound: 'ClusterRoleNotFound',
  /** The container ended with a non-zero exit code (or the Pod failed). */
  ContainerFailed: 'ContainerFailed',
} as const;

const POLL_MS = 1000;
const CONTAINER = 'task';

/** The state of a finished Pod's container, for messages. */
function terminated(pod: V1Pod): { exitCode?: number; reason?: string; message?: string } {
  const state = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
  return { exitCode: state?.exitCode, reason: state?.reason ?? pod.status?.reason, message: state?.message };
}

/** Why a Pod waits, when it does (ImagePullBackOff, Unschedulable, …). */
function waiting(pod: V1Pod): string | undefined {
  const w = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.waiting;
  if (w?.reason) return w.reason;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return unscheduled
    ? `${unscheduled.reason ?? 'Unschedulable'}: ${unscheduled.message ?? ''}`.trim()
    : undefined;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Runs the Task's image to its end. */
export async function runCustomImage(run: PluginRun<CustomImageConfig>): Promise<PluginOutcome> {
  const { ref, config, log, signal } = run;
  const policy = run.policy?.customImage ?? DENY_ALL;
  const namespace = ref.namespace;
  const refused = refusal(policy, namespace, config.clusterRole);
  if (refused)
    throw ApplicationFailure.nonRetryable(
      `${refused.path}: ${refused.message}`,
      CustomImageFailure.NotAllowed,
    );
  const core = run.home.makeApiClient(CoreV1Api);
  const rbac = run.home.makeApiClient(RbacAuthorizationV1Api);
  if (config.clusterRole) {
    try {
      await rbac.readClusterRole({ name: config.clusterRole });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw ApplicationFailure.nonRetryable(
        `spec.config.clusterRole: ClusterRole ${config.clusterRole} does not exist`,
        CustomImageFailure.ClusterRoleNotFound,
      );
    }
  }
  const name = fitName(ref.name);
  const labels = { 'automation.astronetes.io/taskrun': name, [TASKRUN_UID_LABEL]: ref.uid };
  const owner: V1OwnerReference = {
    apiVersion: apiVersionOf('TaskRun'),
    kind: 'TaskRun',
    name: ref.name,
    uid: ref.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  const owned = (o: { metadata?: { ownerReferences?: V1OwnerReference[] } } | undefined) =>
    Boolean(o?.metadata?.ownerReferences?.some((r) => r.uid === ref.uid));
  const readPod = () =>
    core.readNamespacedPod({ namespace, name }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });

  // A restart (no checkpoint) replaces the finished Pod of the earlier attempt.
  const resumed = (run.checkpoint as { pod?: string } | undefined)?.pod;
  const earlier = await readPod();
  if (earlier && !owned(earlier))
    throw ApplicationFailure.nonRetryable(
      `Pod ${namespace}/${name} exists and was not created by this TaskRun`,
      CustomImageFailure.ContainerFailed,
    );
  if (earlier && !resumed) {
    await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    while (await readPod()) await sleep(500, signal);
  }

  const kind = config.clusterRole ? bindingKind(policy, config.clusterRole) : undefined;
  const bindingName =
    kind === 'ClusterRoleBinding'
      ? `resiliency-orchestrator-${namespace}-${name}-${shortHash(ref.uid)}`
      : name;
  const createIgnoringConflict = async (what: string, create: () => Promise<unknown>) => {
    try {
      await create();
      log.info({ object: what }, 'custom-image run object created');
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  };
  const removeBinding = async () => {
    if (!kind) return;
    const gone = (err: unknown) => {
      if (!isNotFound(err))
        log.warn({ err: kubeErrorText(err), binding: bindingName }, 'binding not deleted');
    };
    if (kind === 'ClusterRoleBinding') await rbac.deleteClusterRoleBinding({ name: bindingName }).catch(gone);
    else await rbac.deleteNamespacedRoleBinding({ namespace, name: bindingName }).catch(gone);
  };

  try {
    await createIgnoringConflict(`ServiceAccount ${namespace}/${name}`, () =>
      core.createNamespacedServiceAccount({
        namespace,
        body: {
          metadata: { name, labels, ownerReferences: [owner] },
          automountServiceAccountToken: Boolean(kind),
        },
      }),
    );
    if (kind) {
      const subjects = [{ kind: 'ServiceAccount', name, namespace }];
      const roleRef = {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: config.clusterRole!,
      };
      await createIgnoringConflict(`${kind} ${bindingName}`, () =>
        kind === 'ClusterRoleBinding'
          ? // A cluster-scoped object cannot be owned by a namespaced one: deleted by the run itself.
            rbac.createClusterRoleBinding({
              body: { metadata: { name: bindingName, labels }, subjects, roleRef },
            })
          : rbac.createNamespacedRoleBinding({
              namespace,
              body: { metadata: { name: bindingName, labels, ownerReferences: [owner] }, subjects, roleRef },
            }),
      );
    }
    await createIgnoringConflict(`Pod ${namespace}/${name}`, () =>
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, labels, ownerReferences: [owner] },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: name,
            automountServiceAccountToken: Boolean(kind),
            containers: [
              {
                name: CONTAINER,
                image: config.image,
                command: config.command,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
      }),
    );
    let pod = await readPod();
    if (!pod || !owned(pod))
      throw ApplicationFailure.nonRetryable(
        `Pod ${namespace}/${name} was deleted as it started`,
        CustomImageFailure.ContainerFailed,
      );
    run.heartbeat({ pod: pod.metadata?.uid });
    for (;;) {
      if (signal.aborted) {
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
        log.info({ pod: name }, 'run cancelled: pod deleted');
        throw ApplicationFailure.nonRetryable('cancelled: the TaskRun was deleted', 'Cancelled');
      }
      const phase = pod.status?.phase ?? 'Pending';
      const report = {
        pod: `${namespace}/${name}`,
        phase,
        node: pod.spec?.nodeName,
        ...(kind && { binding: `${kind} ${bindingName} → ClusterRole ${config.clusterRole}` }),
        ...(waiting(pod) && { waiting: waiting(pod) }),
        ...((phase === 'Succeeded' || phase === 'Failed') && terminated(pod)),
      };
      run.report(report);
      if (phase === 'Succeeded' || phase === 'Failed') {
        const t = terminated(pod);
        const text = `Pod ${namespace}/${name} ${phase === 'Succeeded' ? 'succeeded' : 'failed'}: container ${CONTAINER} exited ${t.exitCode ?? '?'} (${t.reason ?? 'no reason'})${t.message ? `: ${t.message}` : ''}`;
        log.info({ pod: name, phase, exitCode: t.exitCode, reason: t.reason }, 'custom-image pod finished');
        if (phase === 'Failed')
          throw ApplicationFailure.nonRetryable(text, CustomImageFailure.ContainerFailed);
        return { message: text, progress: { exitCode: t.exitCode ?? 0 } };
      }
      await sleep(POLL_MS, signal);
      const next = await readPod();
      if (!next || !owned(next))
        throw ApplicationFailure.nonRetryable(
          `Pod ${namespace}/${name} was deleted before it finished`,
          CustomImageFailure.ContainerFailed,
        );
      pod = next;
    }
  } finally {
    // The binding lives only as long as the run, whatever its end.
    await removeBinding();
  }
}
