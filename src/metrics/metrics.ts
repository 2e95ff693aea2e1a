/**
 * Every metric of the orchestrator, defined once, on a Registry that {@link createMetrics} builds
 * once per orchestrator and that is passed down (activities, bridge, HTTP server): no module-global
 * registry, no prom-client default register, so several orchestrators in one process (the tests)
 * keep their own. Names start with `resiliency_orchestrator_`; docs/observability.md lists them
 * with their labels and the cardinality rules (label values: see ./labels.ts).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The prefix of every metric of ours. */
export const PREFIX = 'resiliency_orchestrator_';

/** Labels of a LiveSynchronization's per-type series. */
const LIVE = ['namespace', 'name', 'object_namespace', 'group', 'resource'] as const;
/** Labels of a run-once kind's series (Synchronization, Backup, TaskRun). */
const RUN = ['kind', 'namespace', 'plugin'] as const;

/** Replication lag buckets, seconds: a live copy is expected within a second or two. */
export const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Run duration buckets, seconds: from a quick copy to a day-long backup. */
export const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also collect prom-client's process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
}

/** Builds the registry and every metric on it. */
export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  /** Functions that give the depth of a bridge queue (one per bridge). */
  const queueDepths = new Set<() => number>();

  const liveSync = {
    objects: new Gauge({
      name: `${PREFIX}livesync_objects`,
      help: 'Objects a LiveSynchronization selects, by state (in_sync, pending, failed), recomputed every observability.interval',
      labelNames: [...LIVE, 'state'],
      registers,
    }),
    writes: new Counter({
      name: `${PREFIX}livesync_writes_total`,
      help: 'Writes made in the destination cluster by a LiveSynchronization, by operation (create, update, delete)',
      labelNames: [...LIVE, 'operation'],
      registers,
    }),
    errors: new Counter({
      name: `${PREFIX}livesync_errors_total`,
      help: 'Replication errors of a LiveSynchronization, by reason',
      labelNames: [...LIVE, 'reason'],
      registers,
    }),
    bucketUploads: new Counter({
      name: `${PREFIX}livesync_bucket_uploads_total`,
      help: 'Source objects a LiveSynchronization uploaded to its bucket',
      labelNames: LIVE,
      registers,
    }),
    bucketUploadFailures: new Counter({
      name: `${PREFIX}livesync_bucket_upload_failures_total`,
      help: 'Uploads of source objects to the bucket that failed (retried with backoff)',
      labelNames: LIVE,
      registers,
    }),
    lag: new Histogram({
      name: `${PREFIX}livesync_replication_lag_seconds`,
      help: 'Seconds from a change at the source (its managedFields/creation/deletion stamp, or its receipt) to its destination write (the RPO)',
      labelNames: LIVE,
      buckets: LAG_BUCKETS,
      registers,
    }),
    drift: new Counter({
      name: `${PREFIX}livesync_resync_drift_total`,
      help: 'Differences a (re)sync found between source and destination, by action (missing, outdated, orphaned)',
      labelNames: [...LIVE, 'action'],
      registers,
    }),
    lastResync: new Gauge({
      name: `${PREFIX}livesync_last_resync_timestamp_seconds`,
      help: 'Unix time of the last resync of a LiveSynchronization that listed and converged',
      labelNames: ['namespace', 'name'],
      registers,
    }),
  };

  const runs = {
    attempts: new Counter({
      name: `${PREFIX}run_attempts_total`,
      help: 'Plugin runs started by Synchronizations, Backups and TaskRuns (each restart is an attempt)',
      labelNames: RUN,
      registers,
    }),
    successes: new Counter({
      name: `${PREFIX}run_successes_total`,
      help: 'Plugin runs that succeeded',
      labelNames: RUN,
      registers,
    }),
    failures: new Counter({
      name: `${PREFIX}run_failures_total`,
      help: 'Plugin runs that failed, by failure type',
      labelNames: [...RUN, 'failure_type'],
      registers,
    }),
    duration: new Histogram({
      name: `${PREFIX}run_duration_seconds`,
      help: "Seconds a plugin run took, by result (succeeded, failed); a TaskRun's is the RTO",
      labelNames: [...RUN, 'result'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    items: new Counter({
      name: `${PREFIX}run_items_total`,
      help: 'Items (objects or znodes) a finished plugin run processed or failed, from its final progress',
      labelNames: [...RUN, 'unit', 'result'],
      registers,
    }),
    bytes: new Counter({
      name: `${PREFIX}run_bytes_total`,
      help: 'Bytes a finished plugin run wrote, from its final progress',
      labelNames: RUN,
      registers,
    }),
    planLastSuccess: new Gauge({
      name: `${PREFIX}synchronization_plan_last_success_timestamp_seconds`,
      help: "Unix time of a SynchronizationPlan's last Succeeded Synchronization (status.lastSuccessfulTime)",
      labelNames: ['namespace', 'plan'],
      registers,
    }),
  };

  const health = {
    bridgeQueueDepth: new Gauge({
      name: `${PREFIX}bridge_queue_depth`,
      help: 'Custom resources waiting for, or in, a reconcile of the CRD bridge',
      registers,
      collect() {
        let depth = 0;
        for (const f of queueDepths) depth += f();
        this.set(depth);
      },
    }),
    bridgeReconcileErrors: new Counter({
      name: `${PREFIX}bridge_reconcile_errors_total`,
      help: 'Reconciles of the CRD bridge that failed (retried with backoff), by kind',
      labelNames: ['kind'],
      registers,
    }),
    workflowsRunning: new Gauge({
      name: `${PREFIX}workflows_running`,
      help: "Running workflows of the orchestrator's task queue, by kind of custom resource",
      labelNames: ['kind'],
      registers,
    }),
    leader: new Gauge({
      name: `${PREFIX}leader`,
      help: 'Whether this replica leads (holds the Lease and runs the CRD bridge): 1 or 0; absent with leader election off',
      registers,
    }),
    assetReady: new Gauge({
      name: `${PREFIX}asset_ready`,
      help: 'Whether an asset (KubernetesCluster, Bucket, Database) answered its last check: 1 or 0',
      labelNames: ['kind', 'namespace', 'name'],
      registers,
    }),
  };

  return {
    registry,
    liveSync,
    runs,
    health,
    /**
     * The `livesync_objects` series set per LiveSynchronization (`namespace/name`), kept across
     * its runs, so that a run removes the series of object namespaces that are gone.
     */
    liveSyncGaugeSeries: new Map<string, Map<string, Record<string, string>>>(),
    /** Adds a bridge queue to `bridge_queue_depth`; returns its removal. */
    watchQueueDepth(depth: () => number): () => void {
      queueDepths.add(depth);
      return () => queueDepths.delete(depth);
    },
  };
}

/** The orchestrator's metrics, as {@link createMetrics} builds them. */
export type Metrics = ReturnType<typeof createMetrics>;
