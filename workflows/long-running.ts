/**
 * The loop of every long-running resource workflow (assets, LiveSynchronization, Task,
 * SynchronizationPlan): evaluate the current spec, report a Ready condition when it changes, then
 * wait for a new spec generation or, while something it depends on is not ready, a recheck timer.
 * Continues-as-new when Temporal suggests it; runs the kind's clean-up when cancelled (deletion).
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
  allHandlersFinished,
  defineSignal,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ResourceEvent } from '../activities/resources.js';
import type { CommonStatus, Condition } from '../src/api/types.js';
import { RUN_CONDITIONS_SIGNAL, type RunConditions } from '../src/api/contract.js';
import { setCondition, specSignal, statusQuery, type ResourceInput, type SpecUpdate } from './resource.js';

const { reportStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** Condition types a run may report besides Ready; removed when no run reports them. */
const RUN_CONDITION_TYPES = { Degraded: true } as const;

/** What one evaluation of a spec concluded. */
export interface Evaluation {
  ready: boolean;
  reason: string;
  message: string;
  /** Evaluate again after the recheck interval even without a spec change (a dependency may recover). */
  recheck: boolean;
  warnings?: string[];
}

/** Input of a long-running resource workflow. */
export interface LongRunningInput<S = unknown> extends ResourceInput<S> {
  /** Seconds between rechecks while not ready (or, for assets, always). Default 30. */
  recheckSeconds?: number;
  /** Conditions carried across continue-as-new, so transition times survive. */
  conditions?: Condition[];
  /** What the run last observed (see {@link runConditionsSignal}), carried across continue-as-new. */
  runConditions?: RunConditions;
}

/** Sent by a running activity to its own workflow when the conditions it observes change. */
export const runConditionsSignal = defineSignal<[RunConditions]>(RUN_CONDITIONS_SIGNAL);

/** The kind-specific parts of a long-running workflow. */
export interface LongRunningBehaviour<S> {
  evaluate(spec: S, generation: number): Promise<Evaluation & { config?: unknown }>;
  /**
   * Work that runs while the resource is ready (replication): cancelled when a new spec
   * generation arrives, started again (after a fresh evaluation) whenever it returns.
   */
  run?(spec: S, config: unknown, generation: number): Promise<void>;
  /** Runs, not cancellable, when the workflow is cancelled (the resource is being deleted). */
  cleanup?(): Promise<void>;
}

/** Runs the evaluate → report → wait loop until cancelled. */
export async function runLongRunning<S>(
  input: LongRunningInput<S>,
  behaviour: LongRunningBehaviour<S>,
): Promise<void> {
  let current: SpecUpdate<S> = { generation: input.generation, spec: input.spec };
  let pending: SpecUpdate<S> | undefined;
  let conditions: Condition[] = input.conditions ?? [];
  let reported: CommonStatus = {};
  let observed: RunConditions | undefined = input.runConditions;
  let observedChanged = false;
  setHandler(specSignal, (update) => {
    if (update.generation > (pending?.generation ?? current.generation)) pending = update as SpecUpdate<S>;
  });
  setHandler(runConditionsSignal, (update) => {
    if (update.generation !== current.generation || pending) return; // a run of an older spec
    observed = update;
    observedChanged = true;
  });
  setHandler(statusQuery, () => reported);
  const recheckMs = (input.recheckSeconds ?? 30) * 1000;

  /**
   * Sets Ready from the evaluation (or from what the run observes, while the evaluation says ready)
   * and the run's other conditions; reports status and an Event when anything changed.
   */
  const publish = (result: Evaluation): Promise<void> | undefined => {
    if (observed && observed.generation !== current.generation) observed = undefined;
    const fromRun = result.ready ? (observed?.conditions ?? []) : [];
    const readyFromRun = fromRun.find((c) => c.type === 'Ready');
    const ready = setCondition(conditions, {
      type: 'Ready',
      status: readyFromRun?.status ?? (result.ready ? 'True' : 'False'),
      reason: readyFromRun?.reason ?? result.reason,
      message: readyFromRun?.message ?? result.message,
      observedGeneration: current.generation,
    });
    let next = ready.conditions;
    let event: ResourceEvent | undefined = ready.changed
      ? {
          type: (readyFromRun?.status ?? (result.ready ? 'True' : 'False')) === 'True' ? 'Normal' : 'Warning',
          reason: readyFromRun?.reason ?? result.reason,
          message: readyFromRun?.message ?? result.message,
        }
      : undefined;
    // Conditions a run reported that it no longer reports (or no run now) are removed.
    const runTypes = new Set(fromRun.map((c) => c.type));
    const stale = next.filter(
      (c) => c.type !== 'Ready' && !runTypes.has(c.type) && c.type in RUN_CONDITION_TYPES,
    );
    let changed = ready.changed || stale.length > 0;
    next = next.filter((c) => !stale.includes(c));
    for (const c of fromRun) {
      if (c.type === 'Ready') continue;
      const set = setCondition(next, { ...c, observedGeneration: current.generation });
      if (!set.changed) continue;
      next = set.conditions;
      changed = true;
      event ??= { type: c.status === 'True' ? 'Warning' : 'Normal', reason: c.reason, message: c.message };
    }
    const generationChanged = reported.observedGeneration !== current.generation;
    if (!changed && !generationChanged) return undefined;
    conditions = next;
    reported = {
      observedGeneration: current.generation,
      workflowId: workflowInfo().workflowId,
      conditions,
      warnings: result.warnings ?? [],
    };
    const reporting = reportStatus({ ref: input.ref, status: reported, event });
    reporting.catch(() => undefined); // awaited by the caller; this only marks the rejection handled
    return reporting;
  };

  try {
    for (;;) {
      const result = await behaviour.evaluate(current.spec, current.generation);
      // Not awaited before the run starts: replication need not wait for the status write.
      const reporting = publish(result);
      if (result.ready && behaviour.run) {
        let finished = false;
        const scope = new CancellationScope();
        const running = scope
          .run(() => behaviour.run!(current.spec, result.config, current.generation))
          .catch((err) => {
            if (!isCancellation(err)) throw err;
          })
          .finally(() => (finished = true));
        await reporting;
        for (;;) {
          await condition(() => pending !== undefined || finished || observedChanged);
          if (pending !== undefined || finished) break;
          observedChanged = false;
          await publish(result);
        }
        if (!finished) scope.cancel();
        await running;
      } else {
        await reporting;
        await condition(() => pending !== undefined, result.recheck ? recheckMs : undefined);
      }
      if (pending) {
        current = pending;
        pending = undefined;
      }
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        const carried: LongRunningInput<S> = {
          ...input,
          generation: current.generation,
          spec: current.spec,
          conditions,
          runConditions: observed,
        };
        await continueAsNew<(i: LongRunningInput<S>) => Promise<void>>(carried);
      }
    }
  } catch (err) {
    if (isCancellation(err) && behaviour.cleanup) {
      await CancellationScope.nonCancellable(() => behaviour.cleanup!());
    }
    throw err;
  }
}
