/**
 * The orchestrator process, from its configuration to SIGINT/SIGTERM. `src/main.ts` (the image's
 * entry) runs it directly; `npm start` (`tools/dev.ts`) runs it once the local stack is up. One
 * code path, so the process a developer starts is the one production runs.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { ConfigError, type OrchestratorConfig } from './config.js';
import type { Logger } from './logger.js';
import { startOrchestrator, type Orchestrator } from './orchestrator.js';
import {
  describeConnection,
  probeTls,
  sdkConnectionOptions,
  type TemporalConnectionSettings,
} from './temporal/connection.js';
import { installTemporalRuntime, shutdownTemporalRuntime } from './temporal/runtime.js';
import { ensureSearchAttributes } from './temporal/search-attributes.js';

/** The one line that says how to give the orchestrator a Temporal server. */
export const NO_TEMPORAL_ADDRESS =
  'no Temporal server: set --temporal-address or TEMPORAL_ADDRESS (or run `npm start` in a checkout to use the local stack)';

/** The namespace of a Pod's service account, mounted in every Pod that automounts its token. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The signals that stop the orchestrator cleanly (a second one ends the process at once). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGQUIT'];

/** Options of {@link runOrchestrator}. */
export interface RunOptions {
  log: Logger;
  /** The Temporal UI's address, logged with the start-up line when known (the local stack's). */
  temporalUi?: string;
}

/**
 * Runs the Temporal worker, the CRD bridge and (when configured) the audit webhook until the
 * worker stops on SIGINT/SIGTERM.
 *
 * The Temporal address is required: without it this throws a {@link ConfigError} naming the flag
 * and the variable. Before anything starts, it connects once (TLS and API key included) and checks
 * the namespace's search attributes ({@link ensureSearchAttributes}): an unreachable server, a
 * refused certificate or a missing attribute ends start-up with one line. The management cluster
 * is `config.managementKubeconfig`, else the default loading rules (`KUBECONFIG`, in-cluster).
 */
export async function runOrchestrator(config: OrchestratorConfig, opts: RunOptions): Promise<void> {
  const { log } = opts;
  const address = config.temporal.address;
  if (!address) throw new ConfigError(NO_TEMPORAL_ADDRESS);
  const management = new KubeConfig();
  if (config.managementKubeconfig) management.loadFromFile(config.managementKubeconfig);
  else management.loadFromDefault();

  const connection: TemporalConnectionSettings = {
    address,
    tls: config.temporal.tls,
    apiKey: config.temporal.apiKey,
  };
  // Before the runtime: checkTemporal uses the client's connection only, and a failure here must
  // end the process, which an installed runtime would keep alive.
  await checkTemporal(connection, config, log);
  installTemporalRuntime(log, config.temporalMetrics);
  const election = config.leaderElection;
  let orchestrator: Orchestrator;
  try {
    orchestrator = await startOrchestrator({
      temporal: { ...connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue },
      management,
      log,
      instance: config.instance,
      namespaces: config.namespaces,
      webhook: config.webhook,
      allowKubeconfigExec: config.allowKubeconfigExec,
      bucketEndpointOverrides: config.bucketEndpointOverrides,
      replicationCheckpoint: config.replicationCheckpoint,
      metricsServer: config.metrics,
      pluginPolicy: { customImage: config.customImage },
      leaderElection: election && {
        lease: { namespace: election.namespace ?? podNamespace(), name: election.name },
        // Unique per process, as client-go's: a restarted Pod keeps its name but must not inherit the Lease.
        identity: `${config.instance}_${randomUUID().slice(0, 8)}`,
        timing: election.timing,
      },
    });
  } catch (err) {
    await shutdownTemporalRuntime();
    throw err;
  }
  // Our own signal handling (the Temporal runtime's is off, see installTemporalRuntime): the bridge
  // stops and the Lease is released first, so that another replica leads at once; then the worker
  // drains (its activities finish or hand back to Temporal, which retries them on another replica).
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: the bridge stops, the Lease is released, the worker drains');
    void orchestrator.shutdown();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  log.info(
    {
      temporal: {
        address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        ...describeConnection(connection),
        ui: opts.temporalUi,
      },
      managementCluster: management.getCurrentCluster()?.server,
      namespaces: config.namespaces.length ? config.namespaces : 'all',
      webhook: orchestrator.webhook?.url,
      metrics: orchestrator.metricsServer?.url,
      temporalMetrics: config.temporalMetrics && `http://${config.temporalMetrics.bindAddress}/metrics`,
      allowKubeconfigExec: config.allowKubeconfigExec,
      replicationCheckpoint: config.replicationCheckpoint,
      customImage: config.customImage,
      leaderElection: orchestrator.elector?.state() ?? 'off',
    },
    'orchestrator running',
  );
  await orchestrator.done;
  for (const s of STOP_SIGNALS) process.off(s, onSignal);
  log.info('orchestrator stopped');
}

/** The namespace this process runs in: POD_NAMESPACE was read by the config; else the service account's, else `default`. */
function podNamespace(): string {
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE_FILE))
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
  return 'default';
}

/**
 * Connects to Temporal once with the orchestrator's settings and checks the namespace's search
 * attributes (creating them with `--register-search-attributes`). A connection that fails (wrong
 * address, TLS refused, API key refused) becomes a one-line {@link ConfigError} saying what was
 * tried, without any secret.
 */
async function checkTemporal(
  settings: TemporalConnectionSettings,
  config: OrchestratorConfig,
  log: Logger,
): Promise<void> {
  const connection = Connection.lazy(sdkConnectionOptions(settings));
  try {
    await connection.ensureConnected();
  } catch (err) {
    // Closed, or its channel keeps retrying in the background and the process never exits.
    await connection.close();
    const d = describeConnection(settings);
    const how = [
      d.tls ? 'TLS' : 'no TLS',
      d.clientCert && `client certificate ${d.clientCert}`,
      d.serverCa && `CA ${d.serverCa}`,
      d.serverName && `server name ${d.serverName}`,
      d.apiKey && `API key from ${d.apiKey}`,
    ]
      .filter(Boolean)
      .join(', ');
    // The SDK says only "Failed to connect before the deadline"; a TLS handshake says why.
    const why = (await probeTls(settings)) ?? oneLine((err as Error).message);
    throw new ConfigError(`cannot connect to Temporal at ${settings.address} (${how}): ${why}`);
  }
  try {
    await ensureSearchAttributes({
      connection,
      namespace: config.temporal.namespace,
      register: config.registerSearchAttributes,
      log,
    });
  } finally {
    await connection.close();
  }
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * How an entry point ends on an error: `error: <message>` on one line for a configuration mistake
 * (a {@link ConfigError}), the whole error otherwise; exit code 1.
 */
export function endWithError(err: unknown): void {
  console.error(err instanceof ConfigError ? `error: ${err.message}` : err);
  process.exitCode = 1;
}
