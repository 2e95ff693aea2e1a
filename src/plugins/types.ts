/**
 * The one small interface every plugin implements, velero-style minus the gRPC: a name, the kinds
 * whose `spec.plugin` may name it, a config schema (the single source of truth; the TypeScript
 * type is derived from it), semantic checks the schema cannot express, the assets its config
 * names, and `execute` for the kinds that run once (Synchronization, Backup, TaskRun). A plugin
 * lives in its own folder, `src/plugins/<name>/`, and is listed once in the registry.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Kind, ResourceRef } from '../api/kinds.js';
import type { Problem } from '../api/problems.js';
import type { AssetLoader } from '../assets/load.js';
import type { Logger } from '../logger.js';
import type { CustomImagePolicy } from './custom-image/policy.js';

export type { Problem } from '../api/problems.js';

/** An asset a config names: it must exist and be usable before the resource is Ready. */
export interface AssetReference {
  kind: 'KubernetesCluster' | 'Bucket' | 'Database';
  /** The name the config gives; undefined when the (optional) field is not set. */
  name: string | undefined;
  /** The field under `config`, e.g. `sourceName`. */
  field: string;
}

/** A plugin spec inside a config, validated as a resource of `kind` (run-synchronization's template). */
export interface NestedSpec {
  kind: Kind;
  spec: { plugin?: unknown; config?: unknown };
  /** The field path of the block, e.g. `spec.config.template.spec`. */
  prefix: string;
}

/** What {@link Plugin.execute} is given. */
export interface PluginRun<C = unknown> {
  /** The resource being run (a Synchronization, Backup or TaskRun). */
  ref: ResourceRef;
  /** The validated config, aliases normalized. */
  config: C;
  /** Loads the assets the config names, in the resource's namespace. */
  assets: AssetLoader;
  /** The cluster the resource lives in (the orchestrator's own), e.g. where a Task's run acts. */
  home: KubeConfig;
  log: Logger;
  /**
   * Heartbeats with a checkpoint: the details a retried attempt (after a worker crash) finds in
   * {@link PluginRun.checkpoint}. The last details given are repeated by the activity's own
   * keep-alive heartbeats, so a checkpoint is never lost to them.
   */
  heartbeat(details?: unknown): void;
  /** The details of the last heartbeat of an earlier attempt of this run, or undefined. */
  checkpoint: unknown;
  /**
   * Reports progress counters (e.g. `{ read: 10, written: 4 }`), written to `status.progress` of
   * the resource at most every few seconds, and once more when the run ends.
   */
  progress(counts: Record<string, number>): void;
  /** Sets `status.report` of the resource (written with the progress): what a run did, per object. */
  report(report: unknown): void;
  /** A TaskRun's `spec.dryRun`: change nothing, report what would change. False for other kinds. */
  dryRun: boolean;
  /** Aborted when the run is cancelled (its resource was deleted). */
  signal: AbortSignal;
  /** What the operator allows plugins to do (flags); absent means the most restrictive. */
  policy?: PluginPolicy;
}

/** The operator's limits on plugins, from the orchestrator's flags. */
export interface PluginPolicy {
  customImage?: CustomImagePolicy;
}

/** What a finished run reports, for its status message. */
export interface PluginOutcome {
  message: string;
  /** Final counters, written to `status.progress`. */
  progress?: Record<string, number>;
}

/** A plugin of the orchestrator. */
export interface Plugin<S extends TSchema = TSchema> {
  /** The value of `spec.plugin`. */
  name: string;
  /** Kinds whose `spec.plugin` may name it. */
  appliesTo: readonly Kind[];
  /** JSON schema (TypeBox) of `spec.config`. */
  configSchema: S;
  /**
   * Rewrites accepted aliases to their canonical spelling (SPEC-NOTES: `createRoutePath`,
   * `resources`, `delete`), returning a warning for each. Runs before validation; must not mutate.
   */
  normalize?(config: unknown): { config: unknown; warnings: Problem[] };
  /** Checks the schema cannot express (regular expressions compile, durations parse, …). */
  check?(config: Static<S>): Problem[];
  /** Plugin specs inside the config, validated as their own kind. */
  nested?(config: Static<S>): NestedSpec[];
  /** The assets the config names, in the order they are checked. */
  references?(config: Static<S>): AssetReference[];
  /** Runs once, to the end (run-once kinds); throws an ApplicationFailure naming what failed. */
  execute?(run: PluginRun<Static<S>>): Promise<PluginOutcome>;
}
