/**
 * Run-once workflows: Synchronization, Backup and TaskRun. Like a Job, each runs to a final phase
 * (Succeeded or Failed) and is never restarted; spec changes after the start are ignored.
 * Pending → (validation, references) → Running → Succeeded | Failed, with start and completion
 * times and a Ready-style `Complete`/`Failed` condition for tools that read conditions.
 */
import {
  ActivityCancellationType,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CommonStatus, Phase } from '../src/api/types.js';
import { failureMessageOf, failureTypeOf } from '../src/api/errors.js';
import { formatProblems } from '../src/api/problems.js';
import { setCondition, specSignal, statusQuery, type ResourceInput } from './resource.js';

const { validateResource, reportStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// One attempt: a plugin retries what it can itself; `restartPolicy` (as on a Job) comes with the plugins.
const { runPlugin } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 1 },
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
  const finish = async (phase: 'Succeeded' | 'Failed', reason: string, message: string) => {
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
  try {
    const outcome = await runPlugin({ ref: input.ref, spec: input.spec });
    return await finish('Succeeded', 'Completed', outcome.message);
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Told apart by failure type: PluginNotImplemented, InvalidSpec, a plugin's own, else Error.
    return finish('Failed', failureTypeOf(err) ?? 'Error', failureMessageOf(err));
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
