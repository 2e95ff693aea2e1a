/**
 * SynchronizationPlan: `synchronizationPlanWorkflow` keeps the plan's Temporal Schedule in step
 * with its spec (and deletes it when the plan is deleted); each firing of the Schedule runs
 * `synchronizationPlanFiringWorkflow`, which creates a Synchronization from the template and lives
 * as long as it runs, so that concurrencyPolicy Forbid (skip) and Replace (cancel) mean what they
 * mean for a CronJob.
 */
import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ResourceRef } from '../src/api/kinds.js';
import type { SynchronizationPlanSpec } from '../src/api/types.js';
import { evaluateSpec } from './configured.js';
import { runLongRunning, type LongRunningInput } from './long-running.js';

const {
  upsertPlanSchedule,
  deletePlanSchedule,
  fireSynchronizationPlan,
  synchronizationPhase,
  deleteSynchronization,
  recordPlanFiring,
} = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** One per SynchronizationPlan. */
export async function synchronizationPlanWorkflow(
  input: LongRunningInput<SynchronizationPlanSpec>,
): Promise<void> {
  let scheduled = false;
  await runLongRunning(input, {
    async evaluate(spec) {
      const result = await evaluateSpec(input, spec);
      if (!result.ready) {
        // An invalid plan must not keep firing with its old spec.
        if (scheduled) await deletePlanSchedule({ ref: input.ref });
        scheduled = false;
        return result;
      }
      const scheduleId = await upsertPlanSchedule({ ref: input.ref, spec });
      scheduled = true;
      return spec.suspend
        ? {
            ...result,
            ready: true,
            reason: 'Suspended',
            message: `schedule ${scheduleId} paused: spec.suspend is true`,
          }
        : { ...result, reason: 'Scheduled', message: `schedule ${scheduleId}: "${spec.schedule}"` };
    },
    cleanup: () => deletePlanSchedule({ ref: input.ref }),
  });
}

/** One firing of a plan's Schedule. */
export async function synchronizationPlanFiringWorkflow(input: { plan: ResourceRef }): Promise<string> {
  const name = await fireSynchronizationPlan({
    plan: input.plan,
    firedAtMs: Date.now(),
    firingId: workflowInfo().runId,
  });
  if (!name) return 'plan gone';
  const target = { namespace: input.plan.namespace, name };
  try {
    for (;;) {
      const phase = await synchronizationPhase(target);
      if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Gone') {
        await recordPlanFiring({ plan: input.plan });
        return `${name}: ${phase}`;
      }
      await sleep('5 seconds');
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => deleteSynchronization(target));
    throw err;
  }
}
