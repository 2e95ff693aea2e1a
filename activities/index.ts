/**
 * Activities, built by a factory that receives their clients and logger (Temporal's
 * dependency-injection pattern): production passes real clients, unit tests may pass fakes.
 * No activity reads `process.env`.
 */
import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { AssetLoader } from '../src/assets/load.js';
import type { EndpointOverrides } from '../src/assets/bucket-endpoint.js';
import type { Logger } from '../src/logger.js';
import type { PluginPolicy } from '../src/plugins/types.js';
import type { Metrics } from '../src/metrics/metrics.js';
import { createPlanActivities } from './plans.js';
import { createPluginActivities } from './plugins.js';
import { createReplicationActivities } from './replication.js';
import { createResourceActivities } from './resources.js';

/** What the activities are given. */
export interface ActivityDeps {
  /** The management cluster, where the custom resources live. */
  management: KubeConfig;
  log: Logger;
  /** Names this process in Kubernetes Events, e.g. the pod name. */
  instance: string;
  /** The Temporal client and task queue, for the activities that manage Schedules. */
  temporal: { client: Client; taskQueue: string };
  /**
   * Let kubeconfigs in KubernetesCluster Secrets use `exec` credential plugins (default false:
   * see src/assets/kubeconfig-policy.ts).
   */
  allowKubeconfigExec?: boolean;
  /** For tests only: Bucket endpoint host → URL of a local S3 server (src/assets/bucket-endpoint.ts). */
  bucketEndpointOverrides?: EndpointOverrides;
  /** The orchestrator's metrics, built once at start-up (src/metrics/metrics.ts). */
  metrics: Metrics;
  /** What the operator allows plugins to do (custom-image Pods); absent: nothing. */
  pluginPolicy?: PluginPolicy;
  /**
   * Aborted when the process starts stopping (SIGTERM): the activities that never end by themselves
   * (replication) hand their work back to Temporal at once, to run on another replica, instead of
   * holding it until the worker's shutdown grace time.
   */
  stopping?: AbortSignal;
  /** A retried replication resumes from its checkpoint (default true; `--replication-checkpoint`). */
  replicationCheckpoint?: boolean;
}

/** What {@link createActivities} returns; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;

/** Builds the activity functions the worker registers. */
export function createActivities(deps: ActivityDeps) {
  // One loader, with the kubeconfig policy, for every activity that reads assets.
  const assets = new AssetLoader(deps.management, {
    kubeconfigPolicy: { allowExec: deps.allowKubeconfigExec ?? false },
    bucketEndpointOverrides: deps.bucketEndpointOverrides,
  });
  const shared = { ...deps, assets };
  return {
    ...createResourceActivities(shared),
    ...createPlanActivities(shared),
    ...createReplicationActivities(shared),
    ...createPluginActivities(shared),

    /**
     * Reads the management cluster's version through the worker's credentials: the check that
     * the worker reaches the cluster it orchestrates.
     */
    async managementClusterVersion(): Promise<{ gitVersion: string; server: string }> {
      const server = deps.management.getCurrentCluster()?.server ?? 'unknown';
      const info = await deps.management.makeApiClient(VersionApi).getCode();
      deps.log.debug({ server, gitVersion: info.gitVersion }, 'management cluster version read');
      return { gitVersion: info.gitVersion, server };
    },
  };
}
