/**
 * `healthCheck`: one activity that proves a worker of this task queue runs and reaches the
 * management cluster. Start it from the Temporal UI or with
 * `temporal workflow execute --type healthCheck --task-queue resiliency-orchestrator`.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { managementClusterVersion } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Result of {@link healthCheck}. */
export interface HealthReport {
  managementCluster: { gitVersion: string; server: string };
}

/** Reports what the worker sees of the management cluster. */
export async function healthCheck(): Promise<HealthReport> {
  return { managementCluster: await managementClusterVersion() };
}
