/**
 * The one configuration module: command-line flags override environment variables, which
 * override defaults. Nothing else in the project reads `process.env` for settings.
 */
import { parseList, type CustomImagePolicy } from './plugins/custom-image/policy.js';
import { parseGoDuration } from './api/duration.js';
import { DEFAULT_LEASE_TIMING, timingProblems, type LeaseTiming } from './leader/lease.js';
import {
  readApiKey,
  readCertificates,
  readClientCertificate,
  TemporalConnectionError,
  type PemInput,
  type TemporalConnectionSettings,
  type TemporalTls,
} from './temporal/connection.js';
import { parseArgs } from 'node:util';
import { parseEndpointOverrides, type EndpointOverrides } from './assets/bucket-endpoint.js';
import type { LevelWithSilent } from 'pino';

/** Everything `npm start` needs to know. */
export interface OrchestratorConfig {
  temporal: {
    /** host:port of the Temporal frontend; required, but `npm start` brings up the local stack without it. */
    address?: string;
    namespace: string;
    taskQueue: string;
    /** TLS towards the frontend (`--temporal-tls*`); plain TCP when undefined. */
    tls?: TemporalTls;
    /** The API key (`--temporal-api-key-file`, `TEMPORAL_API_KEY`); implies TLS. */
    apiKey?: TemporalConnectionSettings['apiKey'];
  };
  /**
   * Register missing search attributes at start-up instead of stopping with the command that does
   * it (`--register-search-attributes`). Needs the operator API, which Temporal Cloud does not open to API keys.
   */
  registerSearchAttributes: boolean;
  /** Path of the management cluster's kubeconfig; undefined means the default loading rules. */
  managementKubeconfig?: string;
  logLevel: LevelWithSilent;
  /** Namespaces the CRD bridge watches; empty means all. */
  namespaces: string[];
  /** The audit webhook's HTTPS port and certificate folder (tls.crt, tls.key); off without a port. */
  webhook?: { port: number; certDir: string };
  /** Names this process in Kubernetes Events (the pod name in a cluster). */
  instance: string;
  /**
   * Let kubeconfigs in KubernetesCluster Secrets use `exec` credential plugins. Off by default:
   * it lets whoever may create such a Secret run commands inside the orchestrator (docs/security.md).
   */
  allowKubeconfigExec: boolean;
  /** What custom-image Tasks may do (`--custom-image-*`); nothing by default. */
  customImage: CustomImagePolicy;
  /**
   * For tests only (`--bucket-endpoint-overrides`): Bucket endpoint host → URL of a local S3
   * server, so that the seed's AWS and GCP samples run unchanged against MinIO. Empty by default.
   */
  bucketEndpointOverrides: EndpointOverrides;
  /** Where `/metrics` is served over plain HTTP; undefined when `--metrics-port 0` turns it off. */
  metrics?: { host: string; port: number };
  /** Where the Temporal SDK serves its own worker metrics (`host:port`); undefined when off. */
  temporalMetrics?: { bindAddress: string };
  /**
   * Leader election for the CRD bridge (`--leader-elect`, on by default); undefined when off.
   * `namespace` undefined: the Pod's own namespace (see src/run.ts).
   */
  leaderElection?: { namespace?: string; name: string; timing: LeaseTiming };
  /**
   * A retried replication attempt resumes from its checkpoint (`--replication-checkpoint`, default
   * true); false lists everything again on every retry (docs/replication.md).
   */
  replicationCheckpoint: boolean;
}

/** The default port of `/metrics` (`--metrics-port`). */
export const DEFAULT_METRICS_PORT = 9464;

/** The default port of the Temporal SDK's worker metrics (`--temporal-metrics-port`). */
export const DEFAULT_TEMPORAL_METRICS_PORT = 9465;

/** The task queue the orchestrator's workers poll unless told otherwise. */
export const DEFAULT_TASK_QUEUE = 'resiliency-orchestrator';

const LEVELS: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Usage text of `npm start -- --help`. */
export const USAGE = `usage: npm start -- [options]
  --temporal-address HOST:PORT   Temporal frontend (env TEMPORAL_ADDRESS); unset: npm start starts the local stack, src/main.ts fails
  --temporal-namespace NAME      Temporal namespace (env TEMPORAL_NAMESPACE, default "default")
  --task-queue NAME              task queue (env TEMPORAL_TASK_QUEUE, default "${DEFAULT_TASK_QUEUE}")
  --temporal-tls                 connect with TLS, the system's CAs and no client certificate (env TEMPORAL_TLS=true);
                                 on by itself with any option below
  --temporal-tls-cert PATH       mTLS client certificate, PEM (env TEMPORAL_TLS_CLIENT_CERT_PATH, or the PEM
                                 itself in TEMPORAL_TLS_CLIENT_CERT_DATA)
  --temporal-tls-key PATH        its private key, PEM, unencrypted (env TEMPORAL_TLS_CLIENT_KEY_PATH or
                                 TEMPORAL_TLS_CLIENT_KEY_DATA)
  --temporal-tls-ca PATH         CA that signed the server certificate, PEM (env TEMPORAL_TLS_SERVER_CA_CERT_PATH
                                 or TEMPORAL_TLS_SERVER_CA_CERT_DATA; default the system's CAs)
  --temporal-tls-server-name N   name to check the server certificate against (env TEMPORAL_TLS_SERVER_NAME)
  --temporal-api-key-file PATH   file holding a Temporal Cloud API key (env TEMPORAL_API_KEY_FILE, or the key
                                 itself in TEMPORAL_API_KEY); implies TLS
  --register-search-attributes   create missing search attributes at start-up instead of stopping
                                 (env REGISTER_SEARCH_ATTRIBUTES=true; not on Temporal Cloud)
  --kubeconfig PATH              management cluster kubeconfig (env MANAGEMENT_KUBECONFIG)
  --log-level LEVEL              ${LEVELS.join('|')} (env LOG_LEVEL, default "info")
  --namespaces A,B               namespaces the CRD bridge watches (env WATCH_NAMESPACES, default all)
  --webhook-port PORT            serve the audit webhook over HTTPS (env WEBHOOK_PORT, default off)
  --webhook-cert-dir DIR         folder with tls.crt and tls.key (env WEBHOOK_CERT_DIR, default /tls)
  --metrics-port PORT            serve Prometheus metrics on http://ADDRESS:PORT/metrics (env METRICS_PORT,
                                 default ${DEFAULT_METRICS_PORT}; 0 turns the endpoint off)
  --metrics-address ADDRESS      address of the metrics ports (env METRICS_ADDRESS, default 0.0.0.0)
  --temporal-metrics-port PORT   serve the Temporal SDK's worker metrics on http://ADDRESS:PORT/metrics
                                 (env TEMPORAL_METRICS_PORT, default ${DEFAULT_TEMPORAL_METRICS_PORT}; 0 turns it off)
  --leader-elect true|false      run the CRD bridge only on the replica that holds a Lease (env LEADER_ELECT,
                                 default true); false: this process always runs it (one replica only)
  --leader-election-namespace NS namespace of the Lease (env LEADER_ELECTION_NAMESPACE, default the Pod's
                                 namespace: POD_NAMESPACE or the service account's, else "default")
  --leader-election-id NAME      name of the Lease (env LEADER_ELECTION_ID, default the task queue's name)
  --leader-election-lease-duration D
                                 how long candidates wait before taking over a Lease that is not renewed
                                 (env LEADER_ELECTION_LEASE_DURATION, default ${DEFAULT_LEASE_TIMING.leaseDurationMs / 1000}s)
  --leader-election-renew-deadline D
                                 how long the leader leads without renewing (env
                                 LEADER_ELECTION_RENEW_DEADLINE, default ${DEFAULT_LEASE_TIMING.renewDeadlineMs / 1000}s)
  --leader-election-retry-period D
                                 how often the leader renews and candidates retry (env
                                 LEADER_ELECTION_RETRY_PERIOD, default ${DEFAULT_LEASE_TIMING.retryPeriodMs / 1000}s)
  --replication-checkpoint true|false
                                 a retried LiveSynchronization replication (after a crash or hand-over)
                                 resumes watching from its checkpoint instead of listing everything
                                 (env REPLICATION_CHECKPOINT, default true; docs/replication.md)
  --allow-kubeconfig-exec        let KubernetesCluster kubeconfigs run exec credential plugins inside
                                 the orchestrator (env ALLOW_KUBECONFIG_EXEC=true, default off);
                                 only when everyone who may create those Secrets is trusted with the
                                 orchestrator itself: see docs/security.md
  --custom-image-namespaces A,B  namespaces where custom-image Tasks may run Pods, or * for all
                                 (env CUSTOM_IMAGE_NAMESPACES, default none: custom-image runs refused)
  --custom-image-cluster-roles R ClusterRoles a custom-image Task may bind to its Pod, or * (env
                                 CUSTOM_IMAGE_CLUSTER_ROLES, default none); bound in the Task's namespace
  --custom-image-cluster-wide-roles R
                                 of those, the ones bound cluster-wide with a ClusterRoleBinding
                                 (env CUSTOM_IMAGE_CLUSTER_WIDE_ROLES, default none): see docs/security.md
  --bucket-endpoint-overrides HOST=URL[,HOST=URL]
                                 FOR TESTS ONLY: send a Bucket's requests for HOST (its generic.endpoint,
                                 s3.<region>.amazonaws.com, storage.googleapis.com) to URL instead (env
                                 BUCKET_ENDPOINT_OVERRIDES, default none): see docs/replication.md`;

/** A configuration problem, named by flag or variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Builds the configuration from argv (without node and script) and an environment. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OrchestratorConfig & { help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'temporal-address': { type: 'string' },
        'temporal-namespace': { type: 'string' },
        'task-queue': { type: 'string' },
        'temporal-tls': { type: 'boolean' },
        'temporal-tls-cert': { type: 'string' },
        'temporal-tls-key': { type: 'string' },
        'temporal-tls-ca': { type: 'string' },
        'temporal-tls-server-name': { type: 'string' },
        'temporal-api-key-file': { type: 'string' },
        'register-search-attributes': { type: 'boolean' },
        kubeconfig: { type: 'string' },
        'log-level': { type: 'string' },
        namespaces: { type: 'string' },
        'webhook-port': { type: 'string' },
        'webhook-cert-dir': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-address': { type: 'string' },
        'temporal-metrics-port': { type: 'string' },
        'allow-kubeconfig-exec': { type: 'boolean' },
        'leader-elect': { type: 'string' },
        'replication-checkpoint': { type: 'string' },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string' },
        'leader-election-lease-duration': { type: 'string' },
        'leader-election-renew-deadline': { type: 'string' },
        'leader-election-retry-period': { type: 'string' },
        'custom-image-namespaces': { type: 'string' },
        'custom-image-cluster-roles': { type: 'string' },
        'custom-image-cluster-wide-roles': { type: 'string' },
        'bucket-endpoint-overrides': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const logLevel = (values['log-level'] ?? env.LOG_LEVEL ?? 'info') as LevelWithSilent;
  if (!LEVELS.includes(logLevel)) {
    throw new ConfigError(`--log-level / LOG_LEVEL: '${logLevel}' is not one of ${LEVELS.join(', ')}`);
  }
  const address = values['temporal-address'] ?? env.TEMPORAL_ADDRESS;
  if (address !== undefined && !/^[^\s:]+:\d+$/.test(address)) {
    throw new ConfigError(`--temporal-address / TEMPORAL_ADDRESS: '${address}' is not HOST:PORT`);
  }
  const webhookPort = values['webhook-port'] ?? env.WEBHOOK_PORT;
  if (
    webhookPort !== undefined &&
    !(Number.isInteger(Number(webhookPort)) && Number(webhookPort) > 0 && Number(webhookPort) < 65536)
  ) {
    throw new ConfigError(`--webhook-port / WEBHOOK_PORT: '${webhookPort}' is not a port number`);
  }
  const metricsPort = portOption(
    values['metrics-port'] ?? env.METRICS_PORT,
    DEFAULT_METRICS_PORT,
    '--metrics-port / METRICS_PORT',
  );
  const temporalMetricsPort = portOption(
    values['temporal-metrics-port'] ?? env.TEMPORAL_METRICS_PORT,
    DEFAULT_TEMPORAL_METRICS_PORT,
    '--temporal-metrics-port / TEMPORAL_METRICS_PORT',
  );
  const metricsAddress = values['metrics-address'] ?? env.METRICS_ADDRESS ?? '0.0.0.0';
  if (!/^[^\s/]+$/.test(metricsAddress)) {
    throw new ConfigError(`--metrics-address / METRICS_ADDRESS: '${metricsAddress}' is not an address`);
  }
  if (metricsPort !== 0 && metricsPort === temporalMetricsPort) {
    throw new ConfigError(
      `--metrics-port and --temporal-metrics-port are both ${metricsPort}: give them different ports (0 turns one off)`,
    );
  }
  const allowExecEnv = env.ALLOW_KUBECONFIG_EXEC;
  if (allowExecEnv !== undefined && !['', 'true', 'false'].includes(allowExecEnv)) {
    throw new ConfigError(`ALLOW_KUBECONFIG_EXEC: '${allowExecEnv}' is not true or false`);
  }
  const taskQueue = values['task-queue'] ?? env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const registerEnv = env.REGISTER_SEARCH_ATTRIBUTES;
  if (registerEnv !== undefined && !['', 'true', 'false'].includes(registerEnv)) {
    throw new ConfigError(`REGISTER_SEARCH_ATTRIBUTES: '${registerEnv}' is not true or false`);
  }
  const { tls, apiKey } = temporalSecurity(values, env);
  const namespaces = (values.namespaces ?? env.WATCH_NAMESPACES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return {
    help: values.help ?? false,
    namespaces,
    webhook: webhookPort
      ? { port: Number(webhookPort), certDir: values['webhook-cert-dir'] ?? env.WEBHOOK_CERT_DIR ?? '/tls' }
      : undefined,
    instance: env.POD_NAME ?? env.HOSTNAME ?? 'local',
    allowKubeconfigExec: values['allow-kubeconfig-exec'] ?? allowExecEnv === 'true',
    customImage: customImagePolicy(values, env),
    bucketEndpointOverrides: endpointOverrides(
      values['bucket-endpoint-overrides'] ?? env.BUCKET_ENDPOINT_OVERRIDES,
    ),
    metrics: metricsPort ? { host: metricsAddress, port: metricsPort } : undefined,
    temporalMetrics: temporalMetricsPort
      ? {
          bindAddress: `${metricsAddress.includes(':') ? `[${metricsAddress}]` : metricsAddress}:${temporalMetricsPort}`,
        }
      : undefined,
    temporal: {
      address,
      namespace: values['temporal-namespace'] ?? env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue,
      tls,
      apiKey,
    },
    registerSearchAttributes: values['register-search-attributes'] ?? registerEnv === 'true',
    managementKubeconfig: values.kubeconfig ?? env.MANAGEMENT_KUBECONFIG,
    logLevel,
    leaderElection: leaderElection(values, env, taskQueue),
    replicationCheckpoint: replicationCheckpoint(
      values['replication-checkpoint'] ?? env.REPLICATION_CHECKPOINT,
    ),
  };
}

/** `--bucket-endpoint-overrides` parsed; a {@link ConfigError} naming the option otherwise. */
function endpointOverrides(text: string | undefined): EndpointOverrides {
  try {
    return parseEndpointOverrides(text);
  } catch (err) {
    throw new ConfigError(
      `--bucket-endpoint-overrides / BUCKET_ENDPOINT_OVERRIDES: ${(err as Error).message}`,
    );
  }
}

/** `--replication-checkpoint` / REPLICATION_CHECKPOINT: true (default) or false. */
function replicationCheckpoint(value: string | undefined): boolean {
  const on = value ?? 'true';
  if (!['true', 'false'].includes(on))
    throw new ConfigError(`--replication-checkpoint / REPLICATION_CHECKPOINT: '${on}' is not true or false`);
  return on === 'true';
}

/** A Kubernetes object name (DNS subdomain), as a Lease's name and namespace must be. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The leader-election settings from `--leader-elect*` (or their variables); undefined when off. */
function leaderElection(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  taskQueue: string,
): OrchestratorConfig['leaderElection'] {
  const value = (flag: string, variable: string) => (values[flag] as string | undefined) ?? env[variable];
  const on = value('leader-elect', 'LEADER_ELECT') ?? 'true';
  if (!['true', 'false'].includes(on))
    throw new ConfigError(`--leader-elect / LEADER_ELECT: '${on}' is not true or false`);
  if (on === 'false') return undefined;
  const name = value('leader-election-id', 'LEADER_ELECTION_ID') ?? taskQueue;
  if (!(DNS_SUBDOMAIN.test(name) && name.length <= 253)) {
    const from =
      value('leader-election-id', 'LEADER_ELECTION_ID') === undefined ? " (the task queue's name)" : '';
    throw new ConfigError(
      `--leader-election-id / LEADER_ELECTION_ID: '${name}'${from} is not a valid Lease name (lower-case letters, digits, '-' and '.')`,
    );
  }
  const namespace = value('leader-election-namespace', 'LEADER_ELECTION_NAMESPACE') ?? env.POD_NAMESPACE;
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))
    throw new ConfigError(
      `--leader-election-namespace / LEADER_ELECTION_NAMESPACE: '${namespace}' is not a namespace name`,
    );
  const duration = (flag: string, variable: string, fallback: number) => {
    const text = value(flag, variable);
    if (text === undefined) return fallback;
    const ms = parseGoDuration(text);
    if (ms === undefined)
      throw new ConfigError(`--${flag} / ${variable}: '${text}' is not a duration such as 15s`);
    return ms;
  };
  const timing: LeaseTiming = {
    leaseDurationMs: duration(
      'leader-election-lease-duration',
      'LEADER_ELECTION_LEASE_DURATION',
      DEFAULT_LEASE_TIMING.leaseDurationMs,
    ),
    renewDeadlineMs: duration(
      'leader-election-renew-deadline',
      'LEADER_ELECTION_RENEW_DEADLINE',
      DEFAULT_LEASE_TIMING.renewDeadlineMs,
    ),
    retryPeriodMs: duration(
      'leader-election-retry-period',
      'LEADER_ELECTION_RETRY_PERIOD',
      DEFAULT_LEASE_TIMING.retryPeriodMs,
    ),
  };
  const problems = timingProblems(timing);
  if (problems.length) throw new ConfigError(problems.join('; '));
  return { namespace, name, timing };
}

/**
 * TLS and the API key towards Temporal, from `--temporal-tls*` and `--temporal-api-key-file` or the
 * variables Temporal's own CLI and SDKs read (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_API_KEY, ...).
 * Every file is read and checked here, so wrong material stops start-up with one line naming it.
 */
function temporalSecurity(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Pick<OrchestratorConfig['temporal'], 'tls' | 'apiKey'> {
  const flag = (name: string) => values[name] as string | undefined;
  /** A PEM from a flag (a path), else the _PATH variable, else the _DATA variable; both variables is an error. */
  const pem = (flagName: string, variable: string): PemInput | undefined => {
    const what = `--${flagName} / ${variable}_PATH`;
    const path = flag(flagName) ?? (env[`${variable}_PATH`] || undefined);
    const data = env[`${variable}_DATA`] || undefined;
    if (flag(flagName) === undefined && path !== undefined && data !== undefined)
      throw new ConfigError(`${variable}_PATH and ${variable}_DATA are both set: use one`);
    if (path !== undefined) return { path, what };
    return data !== undefined ? { data, what: `${variable}_DATA` } : undefined;
  };
  const tlsEnv = env.TEMPORAL_TLS;
  if (tlsEnv !== undefined && !['', 'true', 'false'].includes(tlsEnv))
    throw new ConfigError(`TEMPORAL_TLS: '${tlsEnv}' is not true or false`);
  if (env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true')
    throw new ConfigError(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: the TypeScript SDK always verifies the server certificate; set --temporal-tls-server-name / TEMPORAL_TLS_SERVER_NAME to the name it carries',
    );
  const certInput = pem('temporal-tls-cert', 'TEMPORAL_TLS_CLIENT_CERT');
  const keyInput = pem('temporal-tls-key', 'TEMPORAL_TLS_CLIENT_KEY');
  const caInput = pem('temporal-tls-ca', 'TEMPORAL_TLS_SERVER_CA_CERT');
  const serverName = flag('temporal-tls-server-name') ?? (env.TEMPORAL_TLS_SERVER_NAME || undefined);
  if (serverName !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(serverName))
    throw new ConfigError(
      `--temporal-tls-server-name / TEMPORAL_TLS_SERVER_NAME: '${serverName}' is not a host name`,
    );
  const apiKeyPath = flag('temporal-api-key-file') ?? (env.TEMPORAL_API_KEY_FILE || undefined);
  const apiKeyData = env.TEMPORAL_API_KEY || undefined;
  if (flag('temporal-api-key-file') === undefined && apiKeyPath !== undefined && apiKeyData !== undefined)
    throw new ConfigError('TEMPORAL_API_KEY_FILE and TEMPORAL_API_KEY are both set: use one');
  if (certInput && !keyInput)
    throw new ConfigError(
      `${certInput.what} is set but the client key is not: set --temporal-tls-key / TEMPORAL_TLS_CLIENT_KEY_PATH (or TEMPORAL_TLS_CLIENT_KEY_DATA) too`,
    );
  if (keyInput && !certInput)
    throw new ConfigError(
      `${keyInput.what} is set but the client certificate is not: set --temporal-tls-cert / TEMPORAL_TLS_CLIENT_CERT_PATH (or TEMPORAL_TLS_CLIENT_CERT_DATA) too`,
    );
  const anyTlsOption = certInput ?? caInput ?? serverName ?? apiKeyPath ?? apiKeyData;
  const tlsOn = values['temporal-tls'] === true || tlsEnv === 'true' || anyTlsOption !== undefined;
  if (values['temporal-tls'] !== true && tlsEnv === 'false' && anyTlsOption !== undefined)
    throw new ConfigError(
      'TEMPORAL_TLS=false, yet a client certificate, a CA, a server name or an API key is set, and they need TLS: remove one or the other',
    );
  try {
    const apiKey =
      apiKeyPath !== undefined
        ? readApiKey({ path: apiKeyPath, what: '--temporal-api-key-file / TEMPORAL_API_KEY_FILE' })
        : apiKeyData !== undefined
          ? readApiKey({ data: apiKeyData, what: 'TEMPORAL_API_KEY' })
          : undefined;
    if (!tlsOn) return { tls: undefined, apiKey };
    const ca = caInput && readCertificates(caInput);
    const tls: TemporalTls = {
      ...(ca && { serverCa: { source: ca.source, pem: ca.pem } }),
      ...(serverName && { serverName }),
      ...(certInput && keyInput && { client: readClientCertificate({ cert: certInput, key: keyInput }) }),
    };
    return { tls, apiKey };
  } catch (err) {
    if (err instanceof TemporalConnectionError) throw new ConfigError(err.message);
    throw err;
  }
}

/** A port option: its number (0 = off), the default when unset; a {@link ConfigError} naming `what` otherwise. */
function portOption(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!(/^\d+$/.test(value) && port < 65536))
    throw new ConfigError(`${what}: '${value}' is not a port number (0 turns it off)`);
  return port;
}

/** The custom-image limits from `--custom-image-*` (or their variables); a cluster-wide role must also be allowed. */
function customImagePolicy(values: Record<string, unknown>, env: NodeJS.ProcessEnv): CustomImagePolicy {
  const list = (flag: string, variable: string) =>
    parseList((values[flag] as string | undefined) ?? env[variable]);
  const policy: CustomImagePolicy = {
    namespaces: list('custom-image-namespaces', 'CUSTOM_IMAGE_NAMESPACES'),
    clusterRoles: list('custom-image-cluster-roles', 'CUSTOM_IMAGE_CLUSTER_ROLES'),
    clusterWideRoles: list('custom-image-cluster-wide-roles', 'CUSTOM_IMAGE_CLUSTER_WIDE_ROLES'),
  };
  const stray = policy.clusterWideRoles.filter(
    (r) => !policy.clusterRoles.includes('*') && !policy.clusterRoles.includes(r) && r !== '*',
  );
  if (stray.length)
    throw new ConfigError(
      `--custom-image-cluster-wide-roles / CUSTOM_IMAGE_CLUSTER_WIDE_ROLES: ${stray.join(', ')} not in --custom-image-cluster-roles`,
    );
  return policy;
}
