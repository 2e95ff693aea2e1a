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
import { parseGoDuration } from '../../api/duration.js';
import { DEFAULT_QUARANTINE_RETENTION, enforceQuarantineRetention } from '../../bucket/quarantine.js';
import {
  TypeReplicator,
  type Comparison,
  type QuarantineRecord,
  type NamespaceCounts,
  type ReplicationEvent,
  type ReplicatorOptions,
  type ResourceStats,
} from './engine.js';
import { groupByType, typeName } from './entries.js';
import { componentSettings } from './components.js';
import { LagWindow, type LagFigures } from './rpo.js';
import { CHECKPOINT_FORMAT, configHash, typeResumable, type ReplicationCheckpoint } from './checkpoint.js';
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
  /**
   * Milliseconds from a change at the source (its own stamp, see rpo.ts) to its destination
   * write, over a sliding window (the last `windowSeconds`), and how long the oldest change seen
   * at the source and not written yet has waited (0 when none).
   */
  lag?: LagFigures & { oldestPendingChangeAgeMs: number };
  /**
   * With a bucket: what prunes kept in quarantine (the last folder, and how many objects, counted
   * over the LiveSynchronization's runs), and the retention of its folders.
   */
  quarantine?: QuarantineRecord & { retention: string };
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
  /** The last comparison's time before this run (heartbeat or status), until this run has its own. */
  lastComparisonTime?: string;
  /** The last clean comparison's time before this run (heartbeat or status), kept until a newer one. */
  lastCleanComparisonTime?: string;
  /** The compare annotation's value when the run starts: its first comparison answers it. */
  comparisonRequest?: string;
  /**
   * The LiveSynchronization's lag window, kept by the caller across runs (resync periods) so the
   * figures survive them; a new one when absent.
   */
  lagWindow?: LagWindow;
  /** When the replication had last converged (ms since the epoch); see `ReplicatorOptions.changesSince`. */
  changesSince?: number;
  /** What earlier runs quarantined (their status), so the record goes on across runs. */
  quarantined?: QuarantineRecord;
}

/** Replicates every entry of a LiveSynchronization until {@link ReplicationRun.stop}. */
export class ReplicationRun {
  private readonly replicators: TypeReplicator[];
  private readonly lags: LagWindow;
  private readonly report: Omit<ReplicationReport, 'resources' | 'lag'> = {};
  private failures = 0;
  private expiring?: Promise<void>;
  private readonly startedAt = Date.now();
  private lastClean?: string;
  /** Types started from a checkpoint (see {@link ReplicationRun.resume}). */
  private resumedTypes = 0;
  private readonly configHash: string;

  constructor(private readonly opts: ReplicationRunOptions) {
    const { owner, config } = opts;
    this.configHash = configHash(config);
    this.lastClean = opts.lastCleanComparisonTime;
    if (opts.comparisonRequest) this.report.lastComparisonRequest = opts.comparisonRequest;
    const components = componentSettings(config.components);
    this.lags = opts.lagWindow ?? new LagWindow();
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
          changesSince: opts.changesSince,
          onLag: (ms) => this.lags.add(ms, Date.now()),
        }),
    );
  }

  /** The quarantine retention, in ms (validated with the spec: `replication.quarantine.retention`). */
  private retention(): { text: string; ms: number } {
    const text = this.opts.config.replication.quarantine?.retention ?? DEFAULT_QUARANTINE_RETENTION;
    return { text, ms: parseGoDuration(text) ?? parseGoDuration(DEFAULT_QUARANTINE_RETENTION)! };
  }

  /**
   * Deletes the quarantine folders older than the retention. A bucket that refuses is logged and
   * tried again at the next run: it never stops the replication.
   */
  private async expireQuarantine(): Promise<void> {
    const bucket = this.opts.bucket;
    if (!bucket) return;
    const log = this.opts.log.child({ bucket: { ...bucket.asset, bucketName: bucket.name } });
    const retention = this.retention();
    try {
      const deleted = await enforceQuarantineRetention({
        client: bucket.client,
        bucket: bucket.name,
        liveSync: bucket.liveSync,
        retentionMs: retention.ms,
        now: Date.now(),
      });
      for (const prefix of deleted)
        log.info(
          { bucketObject: { path: prefix }, retention: retention.text },
          'expired quarantine folder deleted from bucket',
        );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'error deleting expired quarantine folders from bucket');
    }
  }

  /** Starts every type (one that cannot start keeps retrying by itself, and is counted). */
  async start(): Promise<void> {
    // In the background: a slow bucket never delays the replication (stop() waits for it).
    this.expiring = this.expireQuarantine();
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
    // A comparison of the whole LiveSynchronization is as old as its oldest type's.
    const states = this.replicators.map((r) => r.comparisonState());
    // Until every type has compared (a resumed type does not), the earlier runs' time stands.
    let lastComparisonTime = this.opts.lastComparisonTime;
    if (states.every((c) => c !== undefined)) {
      lastComparisonTime = states.map((c) => c.comparedAt).sort()[0];
      if (states.every((c) => c.clean) && (!this.lastClean || lastComparisonTime > this.lastClean))
        this.lastClean = lastComparisonTime;
    }
    const now = Date.now();
    let oldest: number | undefined;
    for (const r of this.replicators) {
      const at = r.oldestPendingChange();
      if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at;
    }
    return {
      ...this.report,
      ...(lastComparisonTime && { lastComparisonTime }),
      ...(this.lastClean && { lastCleanComparisonTime: this.lastClean }),
      resources: this.opts.config.replication.resources.map((_, i) => byIndex.get(i)!),
      lag: {
        ...this.lags.figures(now),
        oldestPendingChangeAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      },
      ...(this.opts.bucket && { quarantine: this.quarantineRecord() }),
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

  /** The quarantine record: earlier runs' and this run's. */
  private quarantineRecord(): QuarantineRecord & { retention: string } {
    const record = { objects: 0, ...this.opts.quarantined, retention: this.retention().text };
    for (const r of this.replicators) {
      const q = r.quarantine;
      record.objects += q.objects;
      if (q.lastTime && (!record.lastTime || q.lastTime > record.lastTime))
        Object.assign(record, { lastTime: q.lastTime, lastPrefix: q.lastPrefix });
    }
    return record;
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
    await Promise.all([...this.replicators.map((r) => r.stop()), this.expiring]);
  }
}
