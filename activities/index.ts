/**
 * Activities, built by a factory that receives their clients and logger (Temporal's
 * dependency-injection pattern): production passes real clients, unit tests may pass fakes.
 * No activity reads `process.env`.
 */
import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../src/logger.js';

/** What the activities are given. */
export interface ActivityDeps {
  /** The management cluster, where the custom resources live. */
  management: KubeConfig;
  log: Logger;
}

/** What {@link createActivities} returns; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;

/** Builds the activity functions the worker registers. */
export function createActivities(deps: ActivityDeps) {
  return {
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
