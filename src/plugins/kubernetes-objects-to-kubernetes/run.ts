/**
 * One run of a LiveSynchronization's replication, for one resync period: a TypeReplicator per
 * resource type (each serving every entry of its type), their counters in spec order, the lag
 * figures, and the conditions the entries' health gives. The `replicate` activity drives it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { RunCondition } from '../../api/contract.js';
import type { Logger } from '../../logger.js';
import { replicationConditions } from './conditions.js';
import type { GVR } from '../../bucket/layout.js';
import {
  TypeReplicator,
  type NamespaceCounts,
  type ReplicationEvent,
  type ReplicatorOptions,
  type ResourceStats,
} from './engine.js';
import { groupByType, typeName } from './entries.js';
import { CHECKPOINT_FORMAT, configHash, typeResumable, type ReplicationCheckpoint } from './checkpoint.js';
import type { KubernetesObjectsToKubernetesConfig } from './index.js';

/** What a run reports (heartbeat details, `status.replication`, the activity's result). */
export interface ReplicationReport {
  resources: ResourceStats[];
  /** When this run's initial list had been written (the last resync), and how it went. */
  lastResyncTime?: string;
  lastResyncResult?: string;
  /** Milliseconds from a source change being seen to its destination write, over this run. */
  lag?: { p50: number; p99: number; max: number; samples: number };
}

/** Options of {@link ReplicationRun}. */
export interface ReplicationRunOptions {
  owner: { namespace: string; name: string };
  config: KubernetesObjectsToKubernetesConfig;
  source: KubeConfig;
  destination: KubeConfig;
  bucket?: ReplicatorOptions['bucket'];
  log: Logger;
  /** The audit annotations of the resource that drives the run: the seed's `lastUpdate` log field. */
  lastUpdate?: ReplicatorOptions['lastUpdate'];
  /** Called with what each type's engine does (writes, errors, uploads, lag, drift), for the metrics. */
  observe?: (gvr: GVR, event: ReplicationEvent) => void;
}

/** The nearest-rank percentile of ascending `sorted`; 0 when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Lag samples kept: the newest half is kept when this many have come. */
const MAX_LAG_SAMPLES = 50_000;

/** Replicates every entry of a LiveSynchronization until {@link ReplicationRun.stop}. */
export class ReplicationRun {
  private readonly replicators: TypeReplicator[];
  private readonly lags: number[] = [];
  private readonly report: Omit<ReplicationReport, 'resources' | 'lag'> = {};
  private failures = 0;
  private readonly startedAt = Date.now();
  /** Types started from a checkpoint (see {@link ReplicationRun.resume}). */
  private resumedTypes = 0;
  private readonly configHash: string;

  constructor(private readonly opts: ReplicationRunOptions) {
    const { owner, config } = opts;
    this.configHash = configHash(config);
    this.replicators = groupByType(config.replication.resources).map(
      (type) =>
        new TypeReplicator({
          owner,
          type,
          source: opts.source,
          destination: opts.destination,
          bucket: opts.bucket,
          forceNamespaceCreation: config.replication.forceNamespaceCreation ?? false,
          clusters: {
            source: { name: config.sourceName, namespace: owner.namespace },
            destination: { name: config.destinationName, namespace: owner.namespace },
          },
          concurrency: config.components?.synchronizer?.concurrentTasks ?? 16,
          log: opts.log,
          lastUpdate: opts.lastUpdate,
          onEvent: opts.observe && ((event) => opts.observe!(type.gvr, event)),
          onLag: (ms) => {
            if (this.lags.length >= MAX_LAG_SAMPLES) this.lags.splice(0, MAX_LAG_SAMPLES / 2);
            this.lags.push(ms);
          },
        }),
    );
  }

  /** Starts every type (one that cannot start keeps retrying by itself, and is counted). */
  async start(): Promise<void> {
    const starts = await Promise.allSettled(this.replicators.map((r) => r.start()));
    this.failures = starts.filter((s) => s.status === 'rejected').length;
  }

  /**
   * Starts from a checkpoint a previous attempt left (see checkpoint.ts): each type that has a mark
   * for all its reflectors watches from it instead of listing; any other type starts as
   * {@link ReplicationRun.start} does.
   */
  async resume(checkpoint: ReplicationCheckpoint): Promise<void> {
    const starts = await Promise.allSettled(
      this.replicators.map((r) => {
        const resumable = typeResumable(checkpoint.types[typeName(r.gvr)], r.selectors());
        if (!resumable.ok) {
          this.opts.log.info(
            { resource: typeName(r.gvr), reason: resumable.reason },
            'not resuming this type from the checkpoint; listing it',
          );
          return r.start();
        }
        this.resumedTypes++;
        return r.resume(resumable.checkpoint);
      }),
    );
    this.failures = starts.filter((s) => s.status === 'rejected').length;
  }

  /** Where a retried attempt of this run may resume from: every type's marks, for this generation and config. */
  checkpoint(generation: number): ReplicationCheckpoint {
    const types: ReplicationCheckpoint['types'] = {};
    for (const r of this.replicators) {
      const c = r.checkpoint();
      if (c) types[typeName(r.gvr)] = c;
    }
    return { format: CHECKPOINT_FORMAT, generation, config: this.configHash, types };
  }

  /**
   * Resolves when the initial sync is written (or `cancelled` settles), and records the resync:
   * true when every type started (a resync that listed and converged everything).
   */
  async converged(cancelled: Promise<unknown>): Promise<boolean> {
    await Promise.race([Promise.all(this.replicators.map((r) => r.idle())), cancelled]);
    const entries = this.opts.config.replication.resources.length;
    this.report.lastResyncTime = new Date().toISOString();
    this.report.lastResyncResult = this.failures
      ? `${this.failures} of ${this.replicators.length} resource types could not start (see resources[].lastError)`
      : this.resumedTypes
        ? `resumed ${this.resumedTypes} of ${this.replicators.length} resource types from the checkpoint in ${Date.now() - this.startedAt} ms (the watch replays what changed since; nothing listed)`
        : `listed and converged ${entries} resource entries in ${Date.now() - this.startedAt} ms`;
    this.opts.log.info({ result: this.report.lastResyncResult }, 'resync done');
    // A resume is no resync (it listed nothing): the time of the last one stays the previous run's.
    return this.failures === 0 && this.resumedTypes === 0;
  }

  /** Every entry's counters, in spec order, with the lag figures. */
  snapshot(): ReplicationReport {
    const byIndex = new Map<number, ResourceStats>();
    for (const r of this.replicators) {
      const stats = r.stats();
      r.rules.forEach((rule, i) => byIndex.set(rule.index, stats[i]));
    }
    const sorted = [...this.lags].sort((a, b) => a - b);
    return {
      ...this.report,
      resources: this.opts.config.replication.resources.map((_, i) => byIndex.get(i)!),
      lag: {
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? 0,
        samples: sorted.length,
      },
    };
  }

  /** Objects by type and object namespace, by state (the metrics' gauges). */
  countsByNamespace(): { gvr: GVR; counts: NamespaceCounts[] }[] {
    return this.replicators.map((r) => ({ gvr: r.gvr, counts: r.countsByNamespace() }));
  }

  /** `Degraded` (and `Ready=False` when no entry replicates), from the entries' problems. */
  conditions(): RunCondition[] {
    return replicationConditions(
      this.opts.config.replication.resources.length,
      this.replicators.flatMap((r) => r.problems()),
    );
  }

  /** Stops every watch and write; running writes finish. */
  async stop(): Promise<void> {
    await Promise.all(this.replicators.map((r) => r.stop()));
  }
}
