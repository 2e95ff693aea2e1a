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
  type Comparison,
  type NamespaceCounts,
  type ReplicationEvent,
  type ReplicatorOptions,
  type ResourceStats,
} from './engine.js';
import { groupByType } from './entries.js';
import { componentSettings } from './components.js';
import type { KubernetesObjectsToKubernetesConfig } from './index.js';

/** What a run reports (heartbeat details, `status.replication`, the activity's result). */
export interface ReplicationReport {
  resources: ResourceStats[];
  /** When this run's initial list had been written (the last resync), and how it went. */
  lastResyncTime?: string;
  lastResyncResult?: string;
  /**
   * When source, destination and bucket were last compared for every type (each run starts with a
   * comparison; a user can ask for one), and the last time such a comparison found nothing.
   */
  lastComparisonTime?: string;
  lastCleanComparisonTime?: string;
  /** The value of the compare annotation last acted upon. */
  lastComparisonRequest?: string;
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
  /** Called after each type's comparison of source, destination and bucket. */
  onComparison?: (comparison: Comparison) => void;
  /** The last clean comparison's time before this run (from status), kept until a newer one. */
  lastCleanComparisonTime?: string;
  /** The compare annotation's value when the run starts: its first comparison answers it. */
  comparisonRequest?: string;
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
  private lastClean?: string;

  constructor(private readonly opts: ReplicationRunOptions) {
    const { owner, config } = opts;
    this.lastClean = opts.lastCleanComparisonTime;
    if (opts.comparisonRequest) this.report.lastComparisonRequest = opts.comparisonRequest;
    const components = componentSettings(config.components);
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
          concurrency: components.concurrency,
          logLevels: components.levels,
          log: opts.log,
          lastUpdate: opts.lastUpdate,
          onEvent: opts.observe && ((event) => opts.observe!(type.gvr, event)),
          onComparison: opts.onComparison,
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
   * Resolves when the initial sync is written (or `cancelled` settles), and records the resync:
   * true when every type started (a resync that listed and converged everything).
   */
  async converged(cancelled: Promise<unknown>): Promise<boolean> {
    await Promise.race([Promise.all(this.replicators.map((r) => r.idle())), cancelled]);
    const entries = this.opts.config.replication.resources.length;
    this.report.lastResyncTime = new Date().toISOString();
    this.report.lastResyncResult = this.failures
      ? `${this.failures} of ${this.replicators.length} resource types could not start (see resources[].lastError)`
      : `listed and converged ${entries} resource entries in ${Date.now() - this.startedAt} ms`;
    this.opts.log.info({ result: this.report.lastResyncResult }, 'resync done');
    return this.failures === 0;
  }

  /** Every entry's counters, in spec order, with the lag figures. */
  snapshot(): ReplicationReport {
    const byIndex = new Map<number, ResourceStats>();
    for (const r of this.replicators) {
      const stats = r.stats();
      r.rules.forEach((rule, i) => byIndex.set(rule.index, stats[i]));
    }
    const sorted = [...this.lags].sort((a, b) => a - b);
    // A comparison of the whole LiveSynchronization is as old as its oldest type's.
    const states = this.replicators.map((r) => r.comparisonState());
    let lastComparisonTime: string | undefined;
    if (states.every((c) => c !== undefined)) {
      lastComparisonTime = states.map((c) => c.comparedAt).sort()[0];
      if (states.every((c) => c.clean) && (!this.lastClean || lastComparisonTime > this.lastClean))
        this.lastClean = lastComparisonTime;
    }
    return {
      ...this.report,
      ...(lastComparisonTime && { lastComparisonTime }),
      ...(this.lastClean && { lastCleanComparisonTime: this.lastClean }),
      resources: this.opts.config.replication.resources.map((_, i) => byIndex.get(i)!),
      lag: {
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? 0,
        samples: sorted.length,
      },
    };
  }

  /**
   * Compares source, destination and bucket of every type now and queues the repairs (a user
   * asked, with the compare annotation); `request` is the annotation's value, reported in status.
   */
  async compareNow(request: string): Promise<Comparison[]> {
    this.report.lastComparisonRequest = request;
    const done = await Promise.all(this.replicators.map((r) => r.compareNow()));
    return done.filter((c): c is Comparison => c !== undefined);
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
