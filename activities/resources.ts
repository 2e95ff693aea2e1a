/**
 * Activities that read and write our custom resources in the management cluster: validation,
 * reference checks, asset checks, status reports and Kubernetes Events. Secrets are read here
 * and never leave: workflows see only "ready" and a message.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { AssetLoader } from '../src/assets/load.js';
import { checkAsset, type AssetCheck } from '../src/assets/probe.js';

export type { AssetCheck } from '../src/assets/probe.js';
import { ApplicationFailure } from '@temporalio/common';
import type { ResourceRef } from '../src/api/kinds.js';
import type {
  CommonStatus,
  PluginSpec,
  Resource,
  SynchronizationPlanSpec,
  TaskRunSpec,
} from '../src/api/types.js';
import { validateResource as validate, type ResourceValidation } from '../src/validate.js';
import { taskRunRestart } from '../src/api/restart.js';
import { isNotFound } from '../src/kube/errors.js';
import type { Logger } from '../src/logger.js';
import { referencesOf, type Problem } from '../src/plugins/index.js';
import { patchStatus } from '../src/kube/objects.js';
import { recordEvent, type ResourceEvent } from '../src/kube/events.js';
import { FailureType } from '../src/api/errors.js';
import type { Metrics } from '../src/metrics/metrics.js';

/** What {@link createResourceActivities} needs. */
export interface ResourceActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** Names this process in Kubernetes Events (`reportingInstance`), e.g. the pod name. */
  instance: string;
  /** Reads assets and their Secrets (with the kubeconfig policy). */
  assets: AssetLoader;
  /** The orchestrator's metrics (`asset_ready`). */
  metrics: Metrics;
}

/** A Kubernetes Event to emit about a resource. */
export type { ResourceEvent } from '../src/kube/events.js';

/** Builds the resource activities. */
export function createResourceActivities(deps: ResourceActivityDeps) {
  const custom = deps.management.makeApiClient(CustomObjectsApi);
  const core = deps.management.makeApiClient(CoreV1Api);

  const { assets } = deps;
  const getResource = assets.getResource.bind(assets);

  /** Problems with the objects a spec names: each must exist and be usable. */
  async function referenceProblems(ref: ResourceRef, spec: unknown, config: unknown): Promise<Problem[]> {
    const ns = ref.namespace;
    const problems: Problem[] = [];
    /** Checks every reference at once (each reads a Secret and asks the asset); problems in reference order. */
    const need = async (
      refs: { kind: 'KubernetesCluster' | 'Bucket' | 'Database'; name?: string; path: string }[],
    ) => {
      const checks = await Promise.all(
        refs.map(async (r) =>
          r.name ? { path: r.path, check: await checkAsset(assets, r.kind, ns, r.name) } : undefined,
        ),
      );
      for (const c of checks)
        if (c && !c.check.ready) problems.push({ path: c.path, message: c.check.message });
    };
    switch (ref.kind) {
      case 'LiveSynchronization':
      case 'Synchronization':
      case 'Backup':
        await need(referencesOf((spec as PluginSpec).plugin, config));
        break;
      case 'SynchronizationPlan': {
        const template = (spec as SynchronizationPlanSpec).template?.spec;
        await need(referencesOf(template?.plugin, config, 'spec.template.spec'));
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
    async validateResource(input: { ref: ResourceRef; spec: unknown }): Promise<
      ResourceValidation & {
        stage: 'spec' | 'references';
        /** A TaskRun's restart settings: its Task's, overridden by its own. */
        restart?: Pick<PluginSpec, 'restartPolicy' | 'backoffLimit'>;
      }
    > {
      const result = validate({ kind: input.ref.kind, spec: input.spec } as Resource);
      if (result.problems.length > 0) return { ...result, stage: 'spec' };
      const problems = await referenceProblems(input.ref, input.spec, result.config ?? {});
      if (input.ref.kind !== 'TaskRun') return { ...result, problems, stage: 'references' };
      const run = input.spec as TaskRunSpec;
      const task = await getResource('Task', input.ref.namespace, run.taskName);
      const restart = taskRunRestart(task?.spec as PluginSpec | undefined, run);
      return { ...result, problems, stage: 'references', restart };
    },

    /** Checks one asset (KubernetesCluster, Bucket, Database): Secret, credentials, reachability. */
    async checkAsset(input: { ref: ResourceRef }): Promise<AssetCheck> {
      const { kind, namespace, name } = input.ref;
      if (kind !== 'KubernetesCluster' && kind !== 'Bucket' && kind !== 'Database') {
        throw ApplicationFailure.nonRetryable(`${kind} is not an asset`, FailureType.NotAnAsset);
      }
      const check = await checkAsset(assets, kind, namespace, name);
      deps.metrics.health.assetReady.set({ kind, namespace, name }, check.ready ? 1 : 0);
      return check;
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
      const current = await getResource(ref.kind, ref.namespace, ref.name);
      if (!current || current.metadata.uid !== ref.uid) return;
      try {
        await patchStatus(custom, ref, input.status);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return;
      }
      if (input.event) await recordEvent(core, ref, input.event, deps.instance, deps.log);
    },
  };
}

/** The resource activities, as workflows see them. */
export type ResourceActivities = ReturnType<typeof createResourceActivities>;
