/**
 * Run-once workflows: Synchronization, Backup and TaskRun. Like a Job, each runs to a final phase
 * (Succeeded or Failed); spec changes after the start are ignored.
 * Pending → (validation, references) → Running → Succeeded | Failed, with start and completion
 * times and a Ready-style `Complete`/`Failed` condition for tools that read conditions.
 * `restartPolicy` is a Job's: `Never` (the default) runs the plugin once; `OnFailure` (and
 * `Always`, which a run-once kind cannot honour otherwise) runs it again after a failure, with
 * the Job's backoff (10 s doubling, at most 6 min), up to `backoffLimit` restarts (default 6),
 * counted in `status.restarts`. A lost worker is not a failure: Temporal retries the attempt from
 * its checkpoint.
 */
import {
  ActivityCancellationType,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CommonStatus, Phase } from '../src/api/types.js';
import { failureMessageOf, failureTypeOf } from '../src/api/errors.js';
import { formatProblems } from '../src/api/problems.js';
import { FINAL_FAILURES, restartDelayMs, restartLimitOf } from '../src/api/restart.js';
import { setCondition, specSignal, statusQuery, type ResourceInput } from './resource.js';

const { validateResource, reportStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// A plugin's failures are non-retryable (restartPolicy decides); the retries are for a lost
// worker, detected by the heartbeat timeout, and resume from the last checkpoint.
const { runPlugin } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumAttempts: 20 },
});

function isoNow(): string {
  return new Date(Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function duration(fromIso: string, toIso: string): string {
  const s = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

async function runOnce(input: ResourceInput): Promise<Phase> {
  setHandler(specSignal, () => undefined); // spec changes after the start do not affect a run
  const startTime = isoNow();
  let status: CommonStatus = {
    observedGeneration: input.generation,
    workflowId: workflowInfo().workflowId,
    phase: 'Pending',
    startTime,
    conditions: [],
  };
  setHandler(statusQuery, () => status);
  const finish = async (
    phase: 'Succeeded' | 'Failed',
    reason: string,
    message: string,
    progress?: Record<string, number>,
  ) => {
    const completionTime = isoNow();
    const { conditions } = setCondition(status.conditions ?? [], {
      type: phase === 'Succeeded' ? 'Complete' : 'Failed',
      status: 'True',
      reason,
      message,
      observedGeneration: input.generation,
    });
    status = {
      ...status,
      phase,
      completionTime,
      duration: duration(startTime, completionTime),
      message,
      conditions,
      ...(progress && { progress }),
    };
    await reportStatus({
      ref: input.ref,
      status,
      event: { type: phase === 'Succeeded' ? 'Normal' : 'Warning', reason, message },
    });
    return phase;
  };

  await reportStatus({ ref: input.ref, status });
  const v = await validateResource({ ref: input.ref, spec: input.spec });
  if (v.problems.length > 0) {
    return finish(
      'Failed',
      v.stage === 'references' ? 'ReferenceNotFound' : 'InvalidSpec',
      formatProblems(v.problems),
    );
  }
  status = { ...status, phase: 'Running' };
  await reportStatus({
    ref: input.ref,
    status,
    event: { type: 'Normal', reason: 'Started', message: 'run started' },
  });
  // A TaskRun restarts as its Task says (validateResource read it), unless it says otherwise.
  const limit = restartLimitOf(v.restart ?? input.spec);
  if (limit > 0) status = { ...status, restarts: 0, restartLimit: limit };
  for (let restarts = 0; ; restarts++) {
    try {
      const outcome = await runPlugin({ ref: input.ref, spec: input.spec });
      return await finish('Succeeded', 'Completed', outcome.message, outcome.progress);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Told apart by failure type: PluginNotImplemented, InvalidSpec, a plugin's own, else Error.
      const reason = failureTypeOf(err) ?? 'Error';
      const message = failureMessageOf(err);
      if (restarts >= limit || FINAL_FAILURES.has(reason)) {
        const suffix = limit > 0 ? ` (after ${restarts} of ${limit} restarts)` : '';
        return finish('Failed', reason, `${message}${suffix}`);
      }
      const delay = restartDelayMs(restarts + 1);
      status = { ...status, restarts: restarts + 1, message: `attempt ${restarts + 1} failed: ${message}` };
      await reportStatus({
        ref: input.ref,
        status,
        event: {
          type: 'Warning',
          reason: 'BackOff',
          message: `${reason}: ${message}; restart ${restarts + 1} of ${limit} in ${delay / 1000}s`,
        },
      });
      await sleep(delay);
    }
  }
}

/** One per Synchronization. */
export async function synchronizationWorkflow(input: ResourceInput): Promise<Phase> {
  return runOnce(input);
}

/** One per Backup. */
export async function backupWorkflow(input: ResourceInput): Promise<Phase> {
  return runOnce(input);
}

/** One per TaskRun. */
export async function taskRunWorkflow(input: ResourceInput): Promise<Phase> {
  return runOnce(input);
}
