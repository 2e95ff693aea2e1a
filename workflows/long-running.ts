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
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CommonStatus, Condition } from '../src/api/types.js';
import { setCondition, specSignal, statusQuery, type ResourceInput, type SpecUpdate } from './resource.js';

const { reportStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

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
}

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
  setHandler(specSignal, (update) => {
    if (update.generation > (pending?.generation ?? current.generation)) pending = update as SpecUpdate<S>;
  });
  setHandler(statusQuery, () => reported);
  const recheckMs = (input.recheckSeconds ?? 30) * 1000;
  try {
    for (;;) {
      const result = await behaviour.evaluate(current.spec, current.generation);
      const next = setCondition(conditions, {
        type: 'Ready',
        status: result.ready ? 'True' : 'False',
        reason: result.reason,
        message: result.message,
        observedGeneration: current.generation,
      });
      const generationChanged = reported.observedGeneration !== current.generation;
      let reporting: Promise<void> | undefined;
      if (next.changed || generationChanged) {
        conditions = next.conditions;
        reported = {
          observedGeneration: current.generation,
          workflowId: workflowInfo().workflowId,
          conditions,
          warnings: result.warnings ?? [],
        };
        // Not awaited before the run starts: replication need not wait for the status write.
        reporting = reportStatus({
          ref: input.ref,
          status: reported,
          event: next.changed
            ? { type: result.ready ? 'Normal' : 'Warning', reason: result.reason, message: result.message }
            : undefined,
        });
        reporting.catch(() => undefined); // awaited below; this only marks the rejection handled
      }
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
        await condition(() => pending !== undefined || finished);
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
