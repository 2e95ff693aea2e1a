/**
 * `assetWorkflow`: one per KubernetesCluster, Bucket or Database. It checks the asset (Secret,
 * credentials, reachability) every recheck interval and reports Ready, so a broken asset shows
 * Ready=False with the reason and recovers by itself once fixed.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { runLongRunning, type LongRunningInput } from './long-running.js';

const { checkAsset } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Watches one asset for as long as it exists. */
export async function assetWorkflow(input: LongRunningInput): Promise<void> {
  await runLongRunning(input, {
    async evaluate() {
      const check = await checkAsset({ ref: input.ref });
      return { ...check, recheck: true };
    },
  });
}
