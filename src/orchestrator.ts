/**
 * Wires the orchestrator's parts into one process: the Temporal worker (workflows + activities),
 * the CRD bridge (on the leader only, when leader election is on), the health and metrics
 * endpoints and, when configured, the audit webhook. `npm start` and the integration tests both
 * use this, so the tests exercise what production runs.
 */
import type { PluginPolicy } from './plugins/types.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkerOptions } from '@temporalio/worker';
import { startBridge, type Bridge } from './bridge/bridge.js';
import { startLeaderElector, type LeaderElector } from './leader/elector.js';
import type { LeaseTiming } from './leader/lease.js';
import { probeRoutes } from './probes/probes.js';
import { reuseConnections } from './kube/connections.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import { startWorkflowCounter } from './metrics/workflows.js';
import { sdkConnectionOptions, type TemporalConnectionSettings } from './temporal/connection.js';
import { createWorker } from './temporal/worker.js';
import { startAuditWebhook, type AuditWebhook } from './webhook/server.js';
import type { EndpointOverrides } from './assets/bucket-endpoint.js';

/** Options of {@link startOrchestrator}. */
export interface OrchestratorOptions {
  /** Address, TLS and API key (one set of options for the worker's and the client's connections), namespace, task queue. */
  temporal: TemporalConnectionSettings & { namespace: string; taskQueue: string };
  management: KubeConfig;
  log: Logger;
  instance: string;
  /** Namespaces the bridge watches; empty means all. */
  namespaces: string[];
  webhook?: { port: number; certDir: string };
  /**
   * Serve `/metrics` over plain HTTP on this address (port 0 picks a free one); off without it.
   * The metrics are collected either way (see docs/observability.md).
   */
  metricsServer?: { host: string; port: number };
  /** Seconds between rechecks of what is not ready (assets, references). Default 30. */
  recheckSeconds?: number;
  /** Run the bridge (default true); a worker-only replica may turn it off. */
  bridge?: boolean;
  /**
   * Run the bridge only while this process holds a Lease (several replicas); absent: the bridge
   * runs unconditionally (one process). See docs/production.md.
   */
  leaderElection?: {
    lease: { namespace: string; name: string };
    /** Unique per process: the pod name and a random suffix. */
    identity: string;
    timing: LeaseTiming;
  };
  workerOverrides?: Partial<WorkerOptions>;
  /**
   * Let kubeconfigs in KubernetesCluster Secrets use `exec` credential plugins (default false).
   * Logged as a warning at start-up: see docs/security.md for what it gives away.
   */
  allowKubeconfigExec?: boolean;
  /** For tests only: Bucket endpoint host → URL of a local S3 server (src/assets/bucket-endpoint.ts). */
  bucketEndpointOverrides?: EndpointOverrides;
  /** What the operator allows plugins to do (custom-image Pods); absent: nothing. */
  pluginPolicy?: PluginPolicy;
  /** A retried replication resumes from its checkpoint (default true; `--replication-checkpoint`). */
  replicationCheckpoint?: boolean;
}

/** A running orchestrator. */
export interface Orchestrator {
  worker: Worker;
  client: Client;
  /** The running bridge: undefined when off, or while this replica does not lead. */
  readonly bridge?: Bridge;
  /** Leader election, when on. */
  elector?: LeaderElector;
  webhook?: AuditWebhook;
  /** The registry and metric definitions, built once for this orchestrator. */
  metrics: Metrics;
  /** The `/metrics` server, when {@link OrchestratorOptions.metricsServer} is set. */
  metricsServer?: MetricsServer;
  /** Resolves when the worker stops (after {@link Orchestrator.shutdown} or a signal). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Connects to Temporal, starts the worker, the bridge and the webhook. */
export async function startOrchestrator(opts: OrchestratorOptions): Promise<Orchestrator> {
  reuseConnections(opts.management);
  const allowKubeconfigExec = opts.allowKubeconfigExec ?? false;
  if (allowKubeconfigExec) {
    opts.log.warn(
      { allowKubeconfigExec },
      'kubeconfig exec credential plugins are allowed (--allow-kubeconfig-exec): whoever may create a ' +
        'KubernetesCluster and its Secret can run commands inside the orchestrator',
    );
  }
  if (opts.bucketEndpointOverrides && Object.keys(opts.bucketEndpointOverrides).length) {
    opts.log.warn(
      { bucketEndpointOverrides: opts.bucketEndpointOverrides },
      'bucket endpoints overridden (--bucket-endpoint-overrides): for tests only, never in production',
    );
  }
  const metrics = createMetrics();
  const stopping = new AbortController();
  const connectionOptions = sdkConnectionOptions(opts.temporal);
  const nativeConnection = await NativeConnection.connect(connectionOptions);
  const connection = await Connection.connect(connectionOptions);
  const client = new Client({ connection, namespace: opts.temporal.namespace });
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: opts.temporal.namespace,
    taskQueue: opts.temporal.taskQueue,
    deps: {
      management: opts.management,
      log: opts.log,
      instance: opts.instance,
      temporal: { client, taskQueue: opts.temporal.taskQueue },
      allowKubeconfigExec,
      bucketEndpointOverrides: opts.bucketEndpointOverrides,
      metrics,
      pluginPolicy: opts.pluginPolicy,
      stopping: stopping.signal,
      replicationCheckpoint: opts.replicationCheckpoint,
    },
    overrides: opts.workerOverrides,
  });
  const running = worker.run();
  let webhook: AuditWebhook | undefined;
  let metricsServer: MetricsServer | undefined;
  let elector: LeaderElector | undefined;
  const bridgeRunner = new BridgeRunner(opts, client, metrics);
  try {
    if (opts.webhook) {
      webhook = await startAuditWebhook({
        host: '0.0.0.0',
        port: opts.webhook.port,
        cert: readFileSync(join(opts.webhook.certDir, 'tls.crt'), 'utf8'),
        key: readFileSync(join(opts.webhook.certDir, 'tls.key'), 'utf8'),
        log: opts.log,
      });
    }
    const runsBridge = opts.bridge !== false;
    if (runsBridge && opts.leaderElection) {
      metrics.health.leader.set(0);
      elector = startLeaderElector({
        management: opts.management,
        ...opts.leaderElection,
        log: opts.log,
        onStartedLeading: async () => {
          metrics.health.leader.set(1);
          await bridgeRunner.start();
        },
        onStoppedLeading: async () => {
          metrics.health.leader.set(0);
          await bridgeRunner.stop();
        },
      });
    } else if (runsBridge) {
      await bridgeRunner.start();
    }
    if (opts.metricsServer) {
      const leader = elector;
      metricsServer = await startMetricsServer({
        registry: metrics.registry,
        ...opts.metricsServer,
        log: opts.log,
        routes: probeRoutes({
          worker,
          connection,
          leader: leader && (() => leader.state()),
          bridgeSynced: runsBridge ? () => bridgeRunner.synced : undefined,
          webhookListening: webhook && (() => webhook!.listening),
        }),
      });
    }
  } catch (err) {
    await elector?.stop();
    await bridgeRunner.stop();
    await metricsServer?.close();
    await webhook?.close();
    worker.shutdown();
    await running.catch(() => undefined);
    throw err;
  }
  /** Stops the bridge first and releases the Lease, so that another replica leads at once. */
  const stopLeading = async () => {
    if (elector) await elector.stop();
    else await bridgeRunner.stop();
  };
  const done = running.finally(async () => {
    await stopLeading();
    await metricsServer?.close();
    await webhook?.close();
    await connection.close();
    await nativeConnection.close();
  });
  return {
    worker,
    client,
    get bridge() {
      return bridgeRunner.bridge;
    },
    elector,
    webhook,
    metrics,
    metricsServer,
    done,
    async shutdown() {
      // Replications hand over (they see `stopping`), the worker stops polling so that their retries
      // go to another replica, and the bridge stops and releases the Lease meanwhile.
      stopping.abort();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await stopLeading();
      await done;
    },
  };
}

/**
 * The bridge and what goes with it (the running-workflows counter), started and stopped as one:
 * on leadership changes, or once for a process without leader election. Starts and stops run one
 * at a time, in order.
 */
class BridgeRunner {
  bridge?: Bridge;
  private counter?: { stop(): Promise<void> };
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: OrchestratorOptions,
    private readonly client: Client,
    private readonly metrics: Metrics,
  ) {}

  /** Whether the bridge runs and its informers have listed. */
  get synced(): boolean {
    return this.bridge !== undefined;
  }

  start(): Promise<void> {
    const next = this.last.then(async () => {
      if (this.bridge) return;
      const { opts, client, metrics } = this;
      this.bridge = await startBridge({
        management: opts.management,
        client,
        taskQueue: opts.temporal.taskQueue,
        log: opts.log,
        namespaces: opts.namespaces,
        recheckSeconds: opts.recheckSeconds,
        metrics,
      });
      this.counter = startWorkflowCounter({
        client,
        taskQueue: opts.temporal.taskQueue,
        metrics,
        log: opts.log,
      });
    });
    this.last = next.catch(() => undefined);
    return next;
  }

  stop(): Promise<void> {
    const next = this.last.then(async () => {
      const { bridge, counter } = this;
      this.bridge = undefined;
      this.counter = undefined;
      await counter?.stop();
      await bridge?.stop();
    });
    this.last = next.catch(() => undefined);
    return next;
  }
}
