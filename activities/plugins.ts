/**
 * `runPlugin`: the one activity of the run-once kinds (Synchronization, Backup, TaskRun). It
 * resolves the plugin through the registry (a TaskRun runs its Task's plugin) and calls its
 * `execute`, heartbeating while it runs; a plugin issue adds a folder under src/plugins/, not a
 * branch here.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { FailureType } from '../src/api/errors.js';
import type { ResourceRef } from '../src/api/kinds.js';
import { formatProblems } from '../src/api/problems.js';
import type { PluginSpec, TaskRunSpec } from '../src/api/types.js';
import type { AssetLoader } from '../src/assets/load.js';
import type { Logger } from '../src/logger.js';
import { isNotFound, kubeErrorText } from '../src/kube/errors.js';
import { patchStatus } from '../src/kube/objects.js';
import { validatePluginSpec } from '../src/plugins/index.js';
import type { PluginOutcome, PluginPolicy } from '../src/plugins/types.js';
import type { Metrics } from '../src/metrics/metrics.js';
import { runRecorder, type RunRecorder } from '../src/metrics/runs.js';

/** What {@link createPluginActivities} needs. */
export interface PluginActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** Reads assets and their Secrets (with the kubeconfig policy). */
  assets: AssetLoader;
  /** The orchestrator's metrics (run_* series). */
  metrics: Metrics;
  /** What the operator allows plugins to do (custom-image); absent: the most restrictive. */
  pluginPolicy?: PluginPolicy;
}

/** How often `runPlugin` heartbeats on its own while the plugin runs. */
const HEARTBEAT_MS = 5000;

/** How often, at most, a plugin's progress is written to `status.progress`. */
const PROGRESS_MS = 3000;

/** Builds the plugin activities. */
export function createPluginActivities(deps: PluginActivityDeps) {
  const { assets } = deps;
  const custom = deps.management.makeApiClient(CustomObjectsApi);

  /** Merges `status.progress` into the resource; a resource that is gone is left alone. */
  async function writeProgress(ref: ResourceRef, status: Record<string, unknown>): Promise<void> {
    await patchStatus(custom, ref, status).catch((err) => {
      if (!isNotFound(err)) deps.log.warn({ err: kubeErrorText(err), ref }, 'error writing progress');
    });
  }

  /** The plugin spec a run executes: its own, or (TaskRun) its Task's. */
  async function specToRun(ref: ResourceRef, spec: unknown): Promise<PluginSpec> {
    if (ref.kind !== 'TaskRun') return spec as PluginSpec;
    const { taskName } = spec as TaskRunSpec;
    const task = await assets.getResource('Task', ref.namespace, taskName);
    if (!task)
      throw ApplicationFailure.nonRetryable(
        `spec.taskName: Task ${ref.namespace}/${taskName} not found`,
        FailureType.AssetNotReady,
      );
    return task.spec as PluginSpec;
  }

  /** {@link runPlugin}'s work, with `metrics` told when the plugin starts. */
  async function execute(
    input: { ref: ResourceRef; spec: unknown },
    metrics: RunRecorder,
  ): Promise<PluginOutcome> {
    const ctx = Context.current();
    const { ref } = input;
    const spec = await specToRun(ref, input.spec);
    const v = validatePluginSpec(ref.kind === 'TaskRun' ? 'Task' : ref.kind, spec);
    if (!v.ok) throw ApplicationFailure.nonRetryable(formatProblems(v.problems), 'InvalidSpec');
    const { plugin, config } = v;
    if (!plugin.execute) {
      throw ApplicationFailure.nonRetryable(
        `spec.plugin: this version validates ${ref.kind} resources but cannot execute their plugin yet`,
        FailureType.PluginNotImplemented,
      );
    }
    metrics.started(plugin.name);
    const log = deps.log.child({
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      plugin: plugin.name,
    });
    // Keep-alive heartbeats repeat the last checkpoint, so they never erase it.
    let details: unknown = ctx.info.heartbeatDetails;
    const beat = setInterval(() => ctx.heartbeat(details), HEARTBEAT_MS);
    let pending: Record<string, unknown> = {};
    const flush = async () => {
      if (Object.keys(pending).length === 0) return;
      const status = pending;
      pending = {};
      await writeProgress(ref, status);
    };
    const progressTimer = setInterval(() => void flush(), PROGRESS_MS);
    try {
      const outcome = await plugin.execute({
        ref,
        config,
        assets,
        home: deps.management,
        policy: deps.pluginPolicy,
        log,
        checkpoint: ctx.info.heartbeatDetails,
        heartbeat: (d) => {
          details = d;
          ctx.heartbeat(d);
        },
        progress: (c) => {
          metrics.progress(c);
          pending = { ...pending, progress: { ...c } };
        },
        report: (r) => {
          pending = { ...pending, report: r };
        },
        dryRun: ref.kind === 'TaskRun' && (input.spec as TaskRunSpec).dryRun === true,
        signal: ctx.cancellationSignal,
      });
      return outcome;
    } catch (err) {
      if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) throw err;
      // A plugin's failure ends the attempt: retrying is restartPolicy's call, in the workflow.
      // Only a lost worker (heartbeat timeout) is retried by Temporal, from the checkpoint.
      if (err instanceof ApplicationFailure) {
        throw ApplicationFailure.create({
          message: err.message,
          type: err.type ?? undefined,
          details: err.details ?? undefined,
          nonRetryable: true,
          cause: err.cause,
        });
      }
      throw ApplicationFailure.nonRetryable(err instanceof Error ? err.message : String(err), 'Error');
    } finally {
      clearInterval(beat);
      clearInterval(progressTimer);
      await flush();
    }
  }

  return {
    /**
     * Runs the resource's plugin once, to the end. Fails with type `PluginNotImplemented` when
     * this version validates the plugin but cannot execute it, `InvalidSpec` when the spec no
     * longer validates, or whatever the plugin throws. Each call is an attempt of the run metrics.
     */
    async runPlugin(input: { ref: ResourceRef; spec: unknown }): Promise<PluginOutcome> {
      const metrics = runRecorder(deps.metrics, input.ref);
      try {
        const outcome = await execute(input, metrics);
        metrics.succeeded(outcome.progress);
        return outcome;
      } catch (err) {
        // A cancelled run (its resource deleted) is an attempt that neither succeeded nor failed.
        if (!(err instanceof CancelledFailure || Context.current().cancellationSignal.aborted))
          metrics.failed(err instanceof ApplicationFailure ? err.type : undefined);
        throw err;
      }
    },
  };
}
