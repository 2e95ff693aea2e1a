/**
 * Activities that read and write our custom resources in the management cluster: validation,
 * reference checks, asset checks, status reports and Kubernetes Events. Secrets are read here
 * and never leave: workflows see only "ready" and a message.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api, CustomObjectsApi, VersionApi } from '@kubernetes/client-node';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { AssetLoader } from '../src/assets/load.js';
import { ApplicationFailure } from '@temporalio/common';
import { API_VERSION, kindInfo, type ResourceRef } from '../src/api/kinds.js';
import type {
  CommonStatus,
  PluginSpec,
  Resource,
  SynchronizationPlanSpec,
  TaskRunSpec,
} from '../src/api/types.js';
import { validateResource as validate, type ResourceValidation } from '../src/validate.js';
import { isNotFound, kubeErrorText } from '../src/kube/errors.js';
import { connectZooKeeper } from '../src/clients/zookeeper.js';
import type { Logger } from '../src/logger.js';
import { referencesOf, type Problem } from '../src/plugins/index.js';
import { MERGE_PATCH } from '../src/kube/objects.js';
import { FailureType } from '../src/api/errors.js';

/** What {@link createResourceActivities} needs. */
export interface ResourceActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** Names this process in Kubernetes Events (`reportingInstance`), e.g. the pod name. */
  instance: string;
  /** Reads assets and their Secrets (with the kubeconfig policy). */
  assets: AssetLoader;
}

/** Outcome of checking one asset. */
export interface AssetCheck {
  ready: boolean;
  reason: string;
  message: string;
}

/** A Kubernetes Event to emit about a resource. */
export interface ResourceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const PROBE_TIMEOUT_MS = 5000;

/** Request options that make client-node send a JSON merge patch (its default is a JSON patch). */

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
    }),
  ]);
}

/** One line for an error, without secrets (client errors may echo request bodies), for status. */
function reasonOf(err: unknown): string {
  return kubeErrorText(err).slice(0, 300);
}

/** Builds the resource activities. */
export function createResourceActivities(deps: ResourceActivityDeps) {
  const custom = deps.management.makeApiClient(CustomObjectsApi);
  const core = deps.management.makeApiClient(CoreV1Api);

  const { assets } = deps;
  const getResource = assets.getResource.bind(assets);

  /** Checks that an asset exists, its Secret holds what it must, and the service answers. */
  async function checkAssetObject(
    kind: 'KubernetesCluster' | 'Bucket' | 'Database',
    namespace: string,
    name: string,
  ): Promise<AssetCheck> {
    switch (kind) {
      case 'KubernetesCluster': {
        const loaded = await assets.kubernetesCluster(namespace, name);
        if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
        const kc = loaded.value;
        try {
          const v = await withTimeout(kc.makeApiClient(VersionApi).getCode(), PROBE_TIMEOUT_MS, 'cluster');
          return {
            ready: true,
            reason: 'Connected',
            message: `${kc.getCurrentCluster()?.server} answers, Kubernetes ${v.gitVersion}`,
          };
        } catch (err) {
          return {
            ready: false,
            reason: 'Unreachable',
            message: `cluster ${kc.getCurrentCluster()?.server} unreachable: ${reasonOf(err)}`,
          };
        }
      }
      case 'Bucket': {
        const loaded = await assets.bucket(namespace, name);
        if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
        const { client, name: bucketName } = loaded.value;
        try {
          await withTimeout(
            client.send(new HeadBucketCommand({ Bucket: bucketName })),
            PROBE_TIMEOUT_MS,
            'bucket',
          );
          return { ready: true, reason: 'Connected', message: `bucket ${bucketName} answers` };
        } catch (err) {
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          const why =
            status === 403
              ? 'access denied (check the credentials)'
              : status === 404
                ? 'no such bucket'
                : reasonOf(err);
          return { ready: false, reason: 'Unreachable', message: `bucket ${bucketName}: ${why}` };
        } finally {
          client.destroy();
        }
      }
      case 'Database': {
        const loaded = await assets.database(namespace, name);
        if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
        const { servers, auth } = loaded.value;
        try {
          const zk = await connectZooKeeper({ servers, auth, timeoutMs: PROBE_TIMEOUT_MS });
          zk.close();
          return { ready: true, reason: 'Connected', message: `ZooKeeper ${servers.join(',')} answers` };
        } catch (err) {
          return {
            ready: false,
            reason: 'Unreachable',
            message: `ZooKeeper ${servers.join(',')}: ${reasonOf(err)}`,
          };
        }
      }
    }
  }

  /** Problems with the objects a spec names: each must exist and be usable. */
  async function referenceProblems(ref: ResourceRef, spec: unknown, config: unknown): Promise<Problem[]> {
    const ns = ref.namespace;
    const problems: Problem[] = [];
    const need = async (
      kind: 'KubernetesCluster' | 'Bucket' | 'Database',
      name: string | undefined,
      path: string,
    ) => {
      if (!name) return;
      const check = await checkAssetObject(kind, ns, name);
      if (!check.ready) problems.push({ path, message: check.message });
    };
    switch (ref.kind) {
      case 'LiveSynchronization':
      case 'Synchronization':
      case 'Backup':
        for (const r of referencesOf((spec as PluginSpec).plugin, config)) await need(r.kind, r.name, r.path);
        break;
      case 'SynchronizationPlan': {
        const template = (spec as SynchronizationPlanSpec).template?.spec;
        for (const r of referencesOf(template?.plugin, config, 'spec.template.spec'))
          await need(r.kind, r.name, r.path);
        break;
      }
      case 'TaskRun': {
        const { taskName } = spec as TaskRunSpec;
        if (!(await getResource('Task', ns, taskName))) {
          problems.push({ path: 'spec.taskName', message: `Task ${ns}/${taskName} not found` });
        }
        break;
      }
      default:
        break;
    }
    return problems;
  }

  return {
    /**
     * Validates a spec (plugin config schema, regular expressions, cron, durations) and checks
     * the objects it references. Returns every problem with its field path.
     */
    async validateResource(input: {
      ref: ResourceRef;
      spec: unknown;
    }): Promise<ResourceValidation & { stage: 'spec' | 'references' }> {
      const result = validate({ kind: input.ref.kind, spec: input.spec } as Resource);
      if (result.problems.length > 0) return { ...result, stage: 'spec' };
      const problems = await referenceProblems(input.ref, input.spec, result.config ?? {});
      return { ...result, problems, stage: 'references' };
    },

    /** Checks one asset (KubernetesCluster, Bucket, Database): Secret, credentials, reachability. */
    async checkAsset(input: { ref: ResourceRef }): Promise<AssetCheck> {
      const { kind, namespace, name } = input.ref;
      if (kind !== 'KubernetesCluster' && kind !== 'Bucket' && kind !== 'Database') {
        throw ApplicationFailure.nonRetryable(`${kind} is not an asset`, FailureType.NotAnAsset);
      }
      return checkAssetObject(kind, namespace, name);
    },

    /**
     * Merges `status` into the resource's status subresource, and emits `event` when given. A
     * resource that is gone (or re-created with another uid) is left alone.
     */
    async reportStatus(input: {
      ref: ResourceRef;
      status: CommonStatus;
      event?: ResourceEvent;
    }): Promise<void> {
      const { ref } = input;
      const { group, plural } = kindInfo(ref.kind);
      const current = await getResource(ref.kind, ref.namespace, ref.name);
      if (!current || current.metadata.uid !== ref.uid) return;
      try {
        await custom.patchNamespacedCustomObjectStatus(
          {
            group,
            version: API_VERSION,
            namespace: ref.namespace,
            plural,
            name: ref.name,
            body: { status: input.status },
          },
          MERGE_PATCH,
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return;
      }
      if (input.event) {
        const now = new Date().toISOString();
        await core
          .createNamespacedEvent({
            namespace: ref.namespace,
            body: {
              metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
              involvedObject: {
                apiVersion: `${group}/${API_VERSION}`,
                kind: ref.kind,
                name: ref.name,
                namespace: ref.namespace,
                uid: ref.uid,
              },
              type: input.event.type,
              reason: input.event.reason,
              message: input.event.message.slice(0, 1024),
              firstTimestamp: now as unknown as Date,
              lastTimestamp: now as unknown as Date,
              count: 1,
              source: { component: 'resiliency-orchestrator' },
              reportingComponent: 'resiliency-orchestrator',
              reportingInstance: deps.instance,
            },
          })
          .catch((err) => deps.log.warn({ err: reasonOf(err), ref }, 'error creating event'));
      }
    },
  };
}

/** The resource activities, as workflows see them. */
export type ResourceActivities = ReturnType<typeof createResourceActivities>;
