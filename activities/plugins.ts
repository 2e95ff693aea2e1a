/**
 * `runPlugin`: the one activity of the run-once kinds (Synchronization, Backup, TaskRun). It
 * resolves the plugin through the registry (a TaskRun runs its Task's plugin) and calls its
 * `execute`, heartbeating while it runs; a plugin issue adds a folder under src/plugins/, not a
 * branch here.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { KubeConfig } from '@kubernetes/client-node';
import { FailureType } from '../src/api/errors.js';
import type { ResourceRef } from '../src/api/kinds.js';
import { formatProblems } from '../src/api/problems.js';
import type { PluginSpec, TaskRunSpec } from '../src/api/types.js';
import type { AssetLoader } from '../src/assets/load.js';
import type { Logger } from '../src/logger.js';
import { validatePluginSpec } from '../src/plugins/index.js';
import type { PluginOutcome } from '../src/plugins/types.js';

/** What {@link createPluginActivities} needs. */
export interface PluginActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** Reads assets and their Secrets (with the kubeconfig policy). */
  assets: AssetLoader;
}

/** How often `runPlugin` heartbeats on its own while the plugin runs. */
const HEARTBEAT_MS = 5000;

/** Builds the plugin activities. */
export function createPluginActivities(deps: PluginActivityDeps) {
  const { assets } = deps;

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

  return {
    /**
     * Runs the resource's plugin once, to the end. Fails with type `PluginNotImplemented` when
     * this version validates the plugin but cannot execute it, `InvalidSpec` when the spec no
     * longer validates, or whatever the plugin throws.
     */
    async runPlugin(input: { ref: ResourceRef; spec: unknown }): Promise<PluginOutcome> {
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
      const log = deps.log.child({
        kind: ref.kind,
        namespace: ref.namespace,
        name: ref.name,
        plugin: plugin.name,
      });
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
      try {
        return await plugin.execute({
          ref,
          config,
          assets,
          log,
          heartbeat: (details) => ctx.heartbeat(details),
          signal: ctx.cancellationSignal,
        });
      } finally {
        clearInterval(beat);
      }
    },
  };
}
