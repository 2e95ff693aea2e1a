/**
 * Long-running workflows of resources whose spec names a plugin: LiveSynchronization and Task.
 * Each validates its spec (plugin config schema, regular expressions, durations) and the objects
 * it references, and reports Ready with a message that names the field at fault.
 * (LiveSynchronization replication itself is added on top of this by its own issue.)
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { PluginSpec } from '../src/api/types.js';
import { parseGoDuration } from '../src/api/duration.js';
import type { KubernetesObjectsToKubernetesConfig } from '../src/plugins/kubernetes-objects-to-kubernetes/index.js';
import { FailureType, failureMessageOf, failureTypeOf } from '../src/api/errors.js';
import { formatProblems } from '../src/api/problems.js';
import { runLongRunning, type Evaluation, type LongRunningInput } from './long-running.js';

const { validateResource, upsertRecoveryTask, deleteRecoveryTask } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

/** Validates spec and references: an invalid spec waits for a change; references are rechecked. */
export async function evaluateSpec(
  input: LongRunningInput,
  spec: unknown,
): Promise<Evaluation & { config?: unknown }> {
  const v = await validateResource({ ref: input.ref, spec });
  const warnings = v.warnings.map((w) => `${w.path}: ${w.message}`);
  if (v.problems.length > 0) {
    const references = v.stage === 'references';
    return {
      ready: false,
      reason: references ? 'ReferenceNotReady' : 'InvalidSpec',
      message: formatProblems(v.problems),
      recheck: references,
      warnings,
    };
  }
  return {
    ready: true,
    reason: 'Valid',
    message: 'spec is valid and every reference is ready',
    recheck: false,
    warnings,
    config: v.config,
  };
}

/** One per LiveSynchronization: validates, then replicates one resync period at a time. */
export async function liveSynchronizationWorkflow(input: LongRunningInput<PluginSpec>): Promise<void> {
  let config: KubernetesObjectsToKubernetesConfig | undefined;
  await runLongRunning(input, {
    async evaluate(spec) {
      const result = await evaluateSpec(input, spec);
      if (!result.ready) return result;
      config = result.config as KubernetesObjectsToKubernetesConfig;
      let task: string;
      try {
        task = await upsertRecoveryTask({ ref: input.ref, config });
      } catch (err) {
        // Told apart by type: a conflict waits for a change; a cluster not ready yet is rechecked.
        const type = failureTypeOf(err);
        if (type !== FailureType.RecoveryTaskConflict && type !== FailureType.AssetNotReady) throw err;
        return {
          ...result,
          ready: false,
          reason: type === FailureType.AssetNotReady ? 'ReferenceNotReady' : type,
          message: failureMessageOf(err),
          recheck: true,
        };
      }
      if (spec.suspend) {
        return {
          ...result,
          ready: false,
          reason: 'Suspended',
          message: `spec.suspend is true: no writes until it is resumed; recovery: ${task}`,
        };
      }
      return {
        ...result,
        reason: 'Replicating',
        message: `replicating; see status.replication; recovery: ${task}`,
      };
    },
    async cleanup() {
      if (config) await deleteRecoveryTask({ ref: input.ref, config });
    },
    async run(_spec, runConfig, generation) {
      const c = runConfig as KubernetesObjectsToKubernetesConfig;
      const runForMs = resyncPeriodMs(c);
      const { replicate } = proxyActivities<Activities>({
        startToCloseTimeout: runForMs + 10 * 60_000,
        heartbeatTimeout: '10 seconds',
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
      });
      await replicate({ ref: input.ref, generation, config: c, runForMs });
    },
  });
}

/** The resync period in ms: `replication.resyncPeriod` (canonical), else `resyncPeriod`, else 1h. */
export function resyncPeriodMs(config: KubernetesObjectsToKubernetesConfig): number {
  const text = config.replication.resyncPeriod ?? config.resyncPeriod ?? '1h0m0s';
  return Math.max(1000, parseGoDuration(text) ?? 3_600_000);
}

/** One per Task: a Task is a recipe; TaskRuns execute it. */
export async function taskWorkflow(input: LongRunningInput<PluginSpec>): Promise<void> {
  await runLongRunning(input, { evaluate: (spec) => evaluateSpec(input, spec) });
}
