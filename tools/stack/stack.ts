/**
 * The local stack: etcd, four kube-apiservers (management, source and destination at 1.34, and
 * source-v129, an older source at 1.29) on one etcd with their own prefixes, the Temporal dev server with its UI, MinIO with one bucket, two
 * standalone ZooKeeper servers, Prometheus, which scrapes the targets registered in its
 * file_sd folder, and, for the management cluster, kube-scheduler, kube-controller-manager and
 * kwok with one simulated Node, on which Pods are scheduled and complete without a container. Every process runs in the background on loopback ports; its pid,
 * ports and log file are kept in `.stack/state.json`, and `.stack/env` tells clients where to go.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { StackError } from './errors.js';
import { formatDuration, pidAlive, pidCommandLine, runLogged, withLockDir } from './exec.js';
import { ensurePki, type Pki } from './pki.js';
import { freePort, portInUse } from './ports.js';
import {
  projectRoot,
  stackDir,
  stackEnvFile,
  stackKubeconfigDir,
  stackLogDir,
  stackPkiDir,
  stackStateFile,
} from './paths.js';
import { ensureTools, kubernetesBinary, TOOL_VERSIONS, type ToolPaths } from './tools.js';
import { SEARCH_ATTRIBUTES } from '../../src/api/search-attributes.js';

/** The components of the stack, in start order. */
export const COMPONENTS = [
  'etcd',
  'management',
  'source',
  'destination',
  'source-v129',
  'temporal',
  's3',
  'zk-source',
  'zk-destination',
  'prometheus',
  'management-scheduler',
  'management-controller-manager',
  'management-kwok',
] as const;
export type ComponentName = (typeof COMPONENTS)[number];

const ALIASES: Record<string, ComponentName> = {
  minio: 's3',
  'source-1.29': 'source-v129',
  'zookeeper-source': 'zk-source',
  'zookeeper-destination': 'zk-destination',
  'kube-scheduler': 'management-scheduler',
  'kube-controller-manager': 'management-controller-manager',
  kwok: 'management-kwok',
};

/** Resolves a user-typed component name (aliases such as `minio` included). */
export function componentByName(name: string): ComponentName {
  const n = (ALIASES[name] ?? name) as ComponentName;
  if (!COMPONENTS.includes(n)) {
    throw new StackError(`unknown component '${name}': use one of ${COMPONENTS.join(', ')}`);
  }
  return n;
}

/** What `.stack/state.json` holds for one component. */
interface ComponentState {
  pid: number;
  ports: Record<string, number>;
  logFile: string;
  command: string[];
  /** Text that `/proc/<pid>/cmdline` of this process contains; guards against a recycled pid. */
  match: string;
}

/** The whole of `.stack/state.json`. */
interface StackState {
  components: Partial<Record<ComponentName, ComponentState>>;
  /** Missing for a component added to the stack after this state was written (see {@link up}). */
  ports: Partial<Record<ComponentName, Record<string, number>>>;
  s3: { accessKeyId: string; secretAccessKey: string; bucket: string; region: string };
}

/** The `.stack/env` variables, as the README documents them. */
export type StackEnv = Record<
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_UI_URL'
  | 'MANAGEMENT_KUBECONFIG'
  | 'SOURCE_KUBECONFIG'
  | 'DESTINATION_KUBECONFIG'
  | 'SOURCE_V129_KUBECONFIG'
  | 'S3_ENDPOINT'
  | 'S3_REGION'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
  | 'S3_BUCKET'
  | 'ZK_SOURCE'
  | 'ZK_DESTINATION'
  | 'PROMETHEUS_URL'
  | 'PROMETHEUS_TARGETS_DIR'
  | 'STACK_LOG_DIR',
  string
>;

/** Everything a component definition needs to build its command line. */
interface Ctx {
  tools: ToolPaths;
  pki: Pki;
  state: StackState;
}

/** How to run and probe one component. */
interface ComponentDef {
  /** Port names; `preferred` ports are used when free (Temporal's well-known 7233/8233). */
  ports: string[];
  preferred?: Record<string, number>;
  command(
    ctx: Ctx,
    ports: Record<string, number>,
  ): {
    cmd: string;
    args: string[];
    env?: NodeJS.ProcessEnv;
    /** What the running process's command line contains, when not the program's name (a launcher that execs java). */
    match?: string;
  };
  /** Resolves true once the component serves requests. */
  healthy(ctx: Ctx, ports: Record<string, number>): Promise<boolean>;
  /** One-time set-up once healthy (the bucket). */
  afterHealthy?(ctx: Ctx, ports: Record<string, number>): Promise<void>;
  /** How long start-up may take before we give up. */
  startTimeoutMs: number;
  /** A component that must answer before this one starts (a fresh stack starts it after the rest). */
  after?: ComponentName;
}

const dataDir = (name: ComponentName) => join(stackDir, 'data', name);

/** Prometheus's generated config and its file_sd folder; kept across clean starts, unlike data/. */
const prometheusDir = join(stackDir, 'prometheus');
/** Where a scrape target is registered: one `<name>.json` file_sd file per target group. */
export const prometheusTargetsDir = join(prometheusDir, 'targets');
/** The job every registered target is scraped under (its `job` label). */
export const PROMETHEUS_JOB = 'resiliency-orchestrator';
/** Scrape, rule evaluation and file_sd refresh interval: short, so tests see a sample in seconds. */
const PROMETHEUS_INTERVAL = '2s';

/**
 * The Prometheus config of the stack: one job reading `<targets>/*.json` (file_sd), every interval
 * short. A target file is `[{"targets":["127.0.0.1:PORT"],"labels":{...}}]`; write it to a temporary
 * name that does not end in `.json` and rename it, so Prometheus never reads half a file.
 */
export function prometheusConfig(targetsDir: string): string {
  return [
    'global:',
    `  scrape_interval: ${PROMETHEUS_INTERVAL}`,
    `  scrape_timeout: ${PROMETHEUS_INTERVAL}`,
    `  evaluation_interval: ${PROMETHEUS_INTERVAL}`,
    'scrape_configs:',
    `  - job_name: ${PROMETHEUS_JOB}`,
    '    file_sd_configs:',
    `      - files: [${JSON.stringify(join(targetsDir, '*.json'))}]`,
    `        refresh_interval: ${PROMETHEUS_INTERVAL}`,
    '',
  ].join('\n');
}

/** The stack's Kubernetes clusters, one kube-apiserver each; each has a kubeconfig in `.stack/kubeconfig/`. */
export const CLUSTERS = ['management', 'source', 'destination', 'source-v129'] as const;
type Cluster = (typeof CLUSTERS)[number];

/**
 * A kube-apiserver on the shared etcd under `/<name>`. `binary` is the tool's executable: the
 * 1.34 `kube-apiserver`, or `kube-apiserver-1.29` for the older source. Every flag below means
 * the same in 1.29 and 1.34.
 */
function apiserver(name: Cluster, binary = 'kube-apiserver'): ComponentDef {
  return {
    ports: ['https'],
    startTimeoutMs: 120_000,
    command: ({ tools, pki, state }, ports) => ({
      cmd: tools[binary],
      args: [
        `--etcd-servers=http://127.0.0.1:${portsOf(state, 'etcd').client}`,
        `--etcd-prefix=/${name}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.https}`,
        `--cert-dir=${dataDir(name)}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=https://127.0.0.1:${ports.https}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--disable-admission-plugins=ServiceAccount',
        '--allow-privileged=true',
        '--profiling=false',
      ],
    }),
    healthy: ({ pki }, ports) => httpOk(`https://127.0.0.1:${ports.https}/readyz`, readFileSync(pki.caCert)),
  };
}

function zookeeper(name: 'zk-source' | 'zk-destination'): ComponentDef {
  return {
    ports: ['client'],
    startTimeoutMs: 60_000,
    command: ({ tools }, ports) => {
      const dir = dataDir(name);
      mkdirSync(dir, { recursive: true });
      const cfg = join(dir, 'zoo.cfg');
      writeFileSync(
        cfg,
        [
          'tickTime=2000',
          `dataDir=${join(dir, 'data')}`,
          `clientPort=${ports.client}`,
          'clientPortAddress=127.0.0.1',
          'admin.enableServer=false',
          '4lw.commands.whitelist=ruok,srvr,mntr',
          'maxClientCnxns=0',
          '',
        ].join('\n'),
      );
      return { cmd: tools['zookeeper-server'], args: [cfg], match: cfg };
    },
    // `ruok` answers imok before the database is loaded; `srvr` reports a Mode only once serving.
    healthy: async (_ctx, ports) => /Mode: standalone/.test(await fourLetterWord(ports.client, 'srvr')),
  };
}

/** The simulated Node that kwok manages in the management cluster. */
export const KWOK_NODE = 'kwok-node-0';
/** Where the management cluster's scheduler, controller-manager and kwok keep their files. */
const managementControllersDir = join(stackDir, 'management-controllers');

/**
 * The controllers kube-controller-manager runs, and no more: namespace (deleting a namespace
 * deletes its objects and then the namespace), garbage-collector (objects whose owners are gone
 * are deleted) and node-lifecycle (the only one that lifts the not-ready taint the
 * TaintNodesByCondition admission plugin puts on a new Node, and marks a silent Node NotReady).
 * No workload controller (deployment, replicaset, statefulset, daemonset, job, cronjob): tests
 * create thousands of Deployments in the management cluster and none may get a Pod. No
 * service-account controllers either: the API servers run without the ServiceAccount admission
 * plugin, so Pods need no token.
 */
export const MANAGEMENT_CONTROLLERS = [
  'namespace-controller',
  'garbage-collector-controller',
  'node-lifecycle-controller',
];

/**
 * The admin kubeconfig of the management cluster for its scheduler, controller-manager and kwok: a
 * file of their own, so that starting them never rewrites the kubeconfig clients read.
 */
function managementControllersKubeconfig({ pki, state }: Ctx): string {
  const path = join(managementControllersDir, 'kubeconfig.yaml');
  const text = kubeconfig(pki, 'management', portsOf(state, 'management').https);
  mkdirSync(managementControllersDir, { recursive: true, mode: 0o700 });
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/**
 * kube-scheduler or kube-controller-manager for the management cluster: its admin kubeconfig, no
 * leader election, and /healthz on `--secure-port` with our CA's serving certificate. No
 * --authentication/authorization-kubeconfig: /healthz, /readyz and /livez are always allowed, and
 * with them the servers look for a request-header CA our API servers lack and log an error every
 * few seconds.
 */
function managementKubeComponent(
  binary: 'kube-scheduler' | 'kube-controller-manager',
  flags: string[],
): ComponentDef {
  return {
    ports: ['https'],
    after: 'management',
    startTimeoutMs: 60_000,
    command: (ctx, ports) => ({
      cmd: ctx.tools[binary],
      args: [
        `--kubeconfig=${managementControllersKubeconfig(ctx)}`,
        '--leader-elect=false',
        ...flags,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.https}`,
        `--tls-cert-file=${ctx.pki.serverCert}`,
        `--tls-private-key-file=${ctx.pki.serverKey}`,
        '--profiling=false',
      ],
    }),
    healthy: ({ pki }, ports) => httpOk(`https://127.0.0.1:${ports.https}/healthz`, readFileSync(pki.caCert)),
  };
}

/** The Node kwok manages: created once the management API server answers; applying it again changes nothing. */
function kwokNodeManifest(): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: ${KWOK_NODE}
  labels:
    type: kwok
    kubernetes.io/hostname: ${KWOK_NODE}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
`;
}

const DEFS: Record<ComponentName, ComponentDef> = {
  etcd: {
    ports: ['client', 'peer'],
    startTimeoutMs: 60_000,
    command: ({ tools }, ports) => ({
      cmd: tools.etcd,
      args: [
        '--name=stack',
        `--data-dir=${dataDir('etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${ports.client}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.client}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.peer}`,
        `--initial-cluster=stack=http://127.0.0.1:${ports.peer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
    }),
    healthy: (_ctx, ports) => httpOk(`http://127.0.0.1:${ports.client}/health`),
  },
  management: apiserver('management'),
  source: apiserver('source'),
  destination: apiserver('destination'),
  'source-v129': apiserver('source-v129', kubernetesBinary('kube-apiserver', TOOL_VERSIONS.kubernetesSource)),
  temporal: {
    ports: ['grpc', 'ui'],
    preferred: { grpc: 7233, ui: 8233 },
    startTimeoutMs: 90_000,
    command: ({ tools }, ports) => {
      mkdirSync(dataDir('temporal'), { recursive: true });
      return {
        cmd: tools.temporal,
        args: [
          'server',
          'start-dev',
          '--ip=127.0.0.1',
          `--port=${ports.grpc}`,
          `--ui-port=${ports.ui}`,
          `--db-filename=${join(dataDir('temporal'), 'temporal.db')}`,
          '--namespace=default',
          '--log-level=warn',
          ...SEARCH_ATTRIBUTES.map((a) => `--search-attribute=${a.name}=${a.type}`),
        ],
      };
    },
    healthy: async (_ctx, ports) => {
      try {
        const conn = await Connection.connect({ address: `127.0.0.1:${ports.grpc}`, connectTimeout: 2000 });
        try {
          await conn.workflowService.describeNamespace({ namespace: 'default' });
          return await httpOk(`http://127.0.0.1:${ports.ui}/`);
        } finally {
          await conn.close();
        }
      } catch {
        return false;
      }
    },
  },
  s3: {
    ports: ['api', 'console'],
    startTimeoutMs: 60_000,
    command: ({ tools, state }, ports) => ({
      cmd: tools.minio,
      args: [
        'server',
        dataDir('s3'),
        `--address=127.0.0.1:${ports.api}`,
        `--console-address=127.0.0.1:${ports.console}`,
      ],
      env: {
        ...process.env,
        MINIO_ROOT_USER: state.s3.accessKeyId,
        MINIO_ROOT_PASSWORD: state.s3.secretAccessKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
      },
    }),
    healthy: (_ctx, ports) => httpOk(`http://127.0.0.1:${ports.api}/minio/health/live`),
    afterHealthy: async ({ state }, ports) => {
      const s3 = s3Client(state, ports.api);
      try {
        await s3.send(new HeadBucketCommand({ Bucket: state.s3.bucket }));
      } catch {
        await s3.send(new CreateBucketCommand({ Bucket: state.s3.bucket }));
      } finally {
        s3.destroy();
      }
    },
  },
  'zk-source': zookeeper('zk-source'),
  'zk-destination': zookeeper('zk-destination'),
  prometheus: {
    ports: ['web'],
    startTimeoutMs: 60_000,
    command: ({ tools }, ports) => {
      mkdirSync(prometheusTargetsDir, { recursive: true });
      const cfg = join(prometheusDir, 'prometheus.yml');
      writeFileSync(cfg, prometheusConfig(prometheusTargetsDir));
      return {
        cmd: tools.prometheus,
        args: [
          `--config.file=${cfg}`,
          `--storage.tsdb.path=${dataDir('prometheus')}`,
          '--storage.tsdb.retention.time=1d',
          `--web.listen-address=127.0.0.1:${ports.web}`,
          '--log.level=warn',
        ],
        match: cfg,
      };
    },
    healthy: (_ctx, ports) => httpOk(`http://127.0.0.1:${ports.web}/-/ready`),
  },
  'management-scheduler': managementKubeComponent('kube-scheduler', []),
  'management-controller-manager': managementKubeComponent('kube-controller-manager', [
    '--use-service-account-credentials=false',
    `--controllers=${MANAGEMENT_CONTROLLERS.join(',')}`,
    // Namespace deletion and garbage collection of many objects: more than the default 20/s.
    '--kube-api-qps=100',
    '--kube-api-burst=200',
  ]),
  'management-kwok': {
    ports: ['http'],
    after: 'management',
    startTimeoutMs: 60_000,
    command: (ctx, ports) => {
      const kubeconfigFile = managementControllersKubeconfig(ctx);
      const stages = join(managementControllersDir, 'kwok-stages.yaml');
      copyFileSync(join(projectRoot, 'tools', 'stack', 'kwok-stages.yaml'), stages);
      return {
        cmd: ctx.tools.kwok,
        args: [
          `--kubeconfig=${kubeconfigFile}`,
          `--config=${stages}`,
          '--manage-nodes-with-label-selector=type=kwok',
          `--server-address=127.0.0.1:${ports.http}`,
          // Pod IPs, away from the API servers' service range (10.0.0.0/24).
          '--cidr=10.244.0.0/16',
          '--node-ip=10.243.0.1',
          // The Node's Lease, renewed by kwok, is what node-lifecycle watches (grace 50 s). kwok 0.8
          // renews none unless told to: without it the Node went NotReady and tainted each minute.
          '--node-lease-duration-seconds=40',
        ],
      };
    },
    healthy: (_ctx, ports) => httpOk(`http://127.0.0.1:${ports.http}/healthz`),
    afterHealthy: async (ctx) => {
      const manifest = join(managementControllersDir, 'kwok-node.yaml');
      writeFileSync(manifest, kwokNodeManifest());
      await runLogged(
        ctx.tools.kubectl,
        [
          `--kubeconfig=${managementControllersKubeconfig(ctx)}`,
          'apply',
          '--server-side',
          '--field-manager=resiliency-orchestrator-stack',
          '-f',
          manifest,
        ],
        {
          logFile: join(stackLogDir, 'management-kwok.log'),
          what: `creating the kwok node ${KWOK_NODE} in management`,
          progressEveryMs: 0,
        },
      );
    },
  },
};

function s3Client(state: StackState, port: number): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: state.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: state.s3.accessKeyId, secretAccessKey: state.s3.secretAccessKey },
  });
}

/** Resolves true when GET url answers 2xx within two seconds. */
function httpOk(url: string, ca?: Buffer): Promise<boolean> {
  return new Promise((resolveOk) => {
    const onRes = (res: IncomingMessage) => {
      res.resume();
      resolveOk((res.statusCode ?? 500) < 300);
    };
    const req = url.startsWith('https:')
      ? httpsGet(url, { ca, timeout: 2000 }, onRes)
      : httpGet(url, { timeout: 2000 }, onRes);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveOk(false));
  });
}

/** Sends a ZooKeeper four-letter word and returns the reply, or '' on failure. */
function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolveReply) => {
    let out = '';
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(word));
    sock.setTimeout(2000, () => sock.destroy());
    sock.on('data', (d) => (out += d.toString()));
    sock.on('close', () => resolveReply(out.trim()));
    sock.on('error', () => resolveReply(''));
  });
}

/** The ports of a component of a recorded stack; a clear error for one the stack predates. */
function portsOf(state: StackState, name: ComponentName): Record<string, number> {
  const ports = state.ports[name];
  if (!ports) {
    throw new StackError(
      `${name} is not part of the running stack (it was started before ${name} was added): run \`npm run stack -- up\` to add it`,
    );
  }
  return ports;
}

function readState(): StackState | undefined {
  try {
    return JSON.parse(readFileSync(stackStateFile, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function writeState(state: StackState): void {
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(stackStateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Whether the recorded pid still runs the recorded program (guards against pid reuse). */
function ownsPid(cs: ComponentState | undefined): cs is ComponentState {
  if (!cs || !pidAlive(cs.pid)) return false;
  const cmdline = pidCommandLine(cs.pid);
  return cmdline === undefined || cmdline.includes(cs.match);
}

/**
 * Picks the ports of one component: `STACK_PORT_<COMPONENT>_<PORT>` (for example
 * STACK_PORT_TEMPORAL_GRPC=7233) pins one and fails when it is taken; otherwise a preferred port
 * when free, else any free loopback port.
 */
async function allocatePorts(name: ComponentName, taken: Set<number>): Promise<Record<string, number>> {
  const def = DEFS[name];
  const ports: Record<string, number> = {};
  for (const p of def.ports) {
    const variable = `STACK_PORT_${name.replaceAll('-', '_').toUpperCase()}_${p.toUpperCase()}`;
    const pinned = process.env[variable];
    let port: number | undefined;
    if (pinned) {
      port = Number(pinned);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) {
        throw new StackError(`${variable}=${pinned} is not a port number`);
      }
      if (taken.has(port) || (await portInUse(port))) {
        throw new StackError(
          `cannot start ${name}: port ${port} (${variable}) on 127.0.0.1 is in use by another process`,
        );
      }
    } else {
      port = def.preferred?.[p];
      if (port !== undefined && (taken.has(port) || (await portInUse(port)))) port = undefined;
      while (port === undefined || taken.has(port)) port = await freePort();
    }
    taken.add(port);
    ports[p] = port;
  }
  return ports;
}

/** Options of the stack operations. */
export interface StackOptions {
  print?: (line: string) => void;
  /**
   * `up` never stops a partly running stack (to start it clean) and fails instead: for a stack that
   * others use at the same time, where a crash test may have one server stopped for a moment.
   * The CLI sets it from `STACK_NO_CLEAN=1`.
   */
  noClean?: boolean;
}

const defaultPrint = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Brings the whole stack up, or reuses it when it already runs and answers. A running stack started
 * before a component was added to the stack (its state has no ports for it) is kept as it is, and
 * only the new components are started beside it. A stack left over by a crashed run (some
 * processes gone) is stopped and started clean. Returns the env of `.stack/env` and whether a
 * running stack was reused.
 */
export async function up(opts: StackOptions = {}): Promise<{ env: StackEnv; reused: boolean }> {
  const print = opts.print ?? defaultPrint;
  return withLockDir(join(stackDir, '.lock'), async () => {
    const tools = await ensureTools(print);
    const existing = readState();
    if (existing) {
      const ctx: Ctx = {
        tools,
        pki: await ensurePki(tools.openssl, stackPkiDir, join(stackLogDir, 'pki.log')),
        state: existing,
      };
      const { known, added } = splitByState(existing);
      const alive = known.filter((c) => ownsPid(existing.components[c]));
      let silent: ComponentName[] = [];
      if (alive.length === known.length && known.length > 0) {
        const answering = await Promise.all(known.map((c) => DEFS[c].healthy(ctx, portsOf(existing, c))));
        silent = known.filter((_c, i) => !answering[i]);
        if (silent.length === 0) {
          print(`stack: reusing the running stack (${stackDir})`);
          if (added.length > 0) await addComponents(ctx, added, print);
          writeKubeconfigs(ctx.pki, existing);
          await installCrds(tools, print);
          return { env: writeEnv(existing), reused: true };
        }
      }
      if (opts.noClean && alive.length > 0) {
        const down = known.filter((c) => !alive.includes(c));
        const why = down.length > 0 ? `down: ${down.join(', ')}` : `not answering: ${silent.join(', ')}`;
        throw new StackError(
          `the stack in ${stackDir} is only partly up (${why}) and STACK_NO_CLEAN=1 forbids stopping it to start clean: try again once it is up`,
        );
      }
      if (alive.length > 0 || Object.keys(existing.components).length > 0) {
        print(
          `stack: cleaning a stack left over by an earlier run (${alive.length} of ${known.length} processes alive)`,
        );
      }
      await stopAll(existing, print);
      rmSync(join(stackDir, 'data'), { recursive: true, force: true });
    }
    const env = await startAll(tools, print);
    await installCrds(tools, print);
    return { env, reused: false };
  });
}

/** The components a recorded stack knows (has ports for) and those added to the stack since. */
export function splitByState(state: Pick<StackState, 'ports'>): {
  known: ComponentName[];
  added: ComponentName[];
} {
  const known = COMPONENTS.filter((c) => state.ports[c] !== undefined);
  return { known, added: COMPONENTS.filter((c) => !known.includes(c)) };
}

/**
 * Starts components that a running stack predates (it was started before they were added to
 * COMPONENTS), on new free ports, without touching the running ones. On failure it stops only what
 * it started and forgets their ports, so the next `up` tries them again.
 */
async function addComponents(ctx: Ctx, names: ComponentName[], print: (l: string) => void): Promise<void> {
  const { state } = ctx;
  const taken = new Set(Object.values(state.ports).flatMap((p) => Object.values(p)));
  print(`stack: adding ${names.join(', ')} to the running stack`);
  for (const c of names) state.ports[c] = await allocatePorts(c, taken);
  writeState(state);
  const results: { ok: boolean; error: unknown }[] = [];
  for (const phase of [['etcd' as const], ...startPhases()]) {
    const now = phase.filter((c) => names.includes(c));
    if (results.some((r) => !r.ok)) break;
    results.push(...(await Promise.all(now.map((c) => startComponent(ctx, c, print).then(ok, fail)))));
  }
  const failure = results.find((r) => !r.ok);
  if (failure) {
    for (const c of names) {
      try {
        await stopComponent(state.components[c]);
      } catch (err) {
        print(`stack: cannot stop ${c}: ${err instanceof StackError ? err.oneLine() : String(err)}`);
      }
      delete state.components[c];
      delete state.ports[c];
    }
    writeState(state);
    throw failure.error;
  }
}

async function startAll(tools: ToolPaths, print: (l: string) => void): Promise<StackEnv> {
  mkdirSync(stackLogDir, { recursive: true });
  const pki = await ensurePki(tools.openssl, stackPkiDir, join(stackLogDir, 'pki.log'));
  const taken = new Set<number>();
  const ports: StackState['ports'] = {};
  for (const c of COMPONENTS) ports[c] = await allocatePorts(c, taken);
  const previous = readState();
  const state: StackState = {
    components: {},
    ports,
    s3: previous?.s3 ?? {
      accessKeyId: `stack-${randomBytes(4).toString('hex')}`,
      secretAccessKey: randomBytes(18).toString('base64url'),
      bucket: 'resiliency-orchestrator',
      region: 'us-east-1',
    },
  };
  writeState(state);
  const ctx: Ctx = { tools, pki, state };
  const started = Date.now();
  // etcd first (the API servers need it), then the rest side by side, and last what must wait for
  // another component (the management cluster's controllers). Every start is awaited, failed or
  // not, before anything is stopped, so no process can be spawned after the clean-up.
  const startEach = (names: ComponentName[]) =>
    Promise.all(names.map((c) => startComponent(ctx, c, print).then(ok, fail)));
  const results = [await startComponent(ctx, 'etcd', print).then(ok, fail)];
  for (const phase of startPhases()) {
    if (results.some((r) => !r.ok)) break;
    results.push(...(await startEach(phase)));
  }
  const failure = results.find((r) => !r.ok);
  if (failure) {
    print('stack: start-up failed; stopping what was started');
    await stopAll(state, print);
    throw failure.error;
  }
  writeKubeconfigs(pki, state);
  const env = writeEnv(state);
  print(`stack: up in ${formatDuration(Date.now() - started)}; env: ${stackEnvFile}`);
  return env;
}

/** The components after etcd in start order: those that wait for no other one, then the rest. */
export function startPhases(): ComponentName[][] {
  const rest = COMPONENTS.filter((c) => c !== 'etcd');
  return [rest.filter((c) => !DEFS[c].after), rest.filter((c) => DEFS[c].after)];
}

const ok = () => ({ ok: true as const, error: undefined });
const fail = (error: unknown) => ({ ok: false as const, error });

async function startComponent(ctx: Ctx, name: ComponentName, print: (l: string) => void): Promise<void> {
  const def = DEFS[name];
  const ports = portsOf(ctx.state, name);
  const logFile = join(stackLogDir, `${name}.log`);
  for (const port of Object.values(ports)) {
    if (await portInUse(port)) {
      throw new StackError(
        `cannot start ${name}: port ${port} on 127.0.0.1 is in use by another process`,
        logFile,
      );
    }
  }
  const { cmd, args, env, match } = def.command(ctx, ports);
  mkdirSync(stackLogDir, { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('error', () => undefined);
  child.unref();
  if (!child.pid) throw new StackError(`cannot start ${name}: ${cmd} did not spawn`, logFile);
  ctx.state.components[name] = {
    pid: child.pid,
    ports,
    logFile,
    command: [cmd, ...args],
    match: match ?? (cmd.split('/').pop() as string),
  };
  writeState(ctx.state);
  const deadline = Date.now() + def.startTimeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== undefined) {
      const tail = safeTail(logFile);
      const why = /address already in use|bind: address/i.test(tail)
        ? 'a port it needs is in use'
        : `exit code ${exitCode}`;
      throw new StackError(`${name} exited during start-up (${why})`, logFile);
    }
    if (await def.healthy(ctx, ports)) break;
    if (Date.now() > deadline) {
      throw new StackError(`${name} did not become healthy within ${def.startTimeoutMs / 1000}s`, logFile);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await def.afterHealthy?.(ctx, ports);
  print(`stack: ${name} up (pid ${child.pid}, ${describePorts(ports)})`);
}

function describePorts(ports: Record<string, number>): string {
  return Object.entries(ports)
    .map(([k, v]) => `${k} 127.0.0.1:${v}`)
    .join(', ');
}

function safeTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

async function stopComponent(cs: ComponentState | undefined): Promise<boolean> {
  if (!ownsPid(cs)) return false;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-cs.pid, sig);
    } catch {
      try {
        process.kill(cs.pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pidAlive(cs.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(cs.pid)) signalGroup('SIGKILL');
  // SIGKILL cannot be caught, but a process in uninterruptible sleep dies only when its I/O ends:
  // wait a bounded time, so a stuck server can never hang `down` (and a CI run with it).
  const killDeadline = Date.now() + 15_000;
  while (pidAlive(cs.pid) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 50));
  if (pidAlive(cs.pid)) {
    throw new StackError(`pid ${cs.pid} (${cs.match}) is still alive 15 s after SIGKILL`, cs.logFile);
  }
  return true;
}

async function stopAll(state: StackState, print: (l: string) => void): Promise<void> {
  for (const c of [...COMPONENTS].reverse()) {
    try {
      if (await stopComponent(state.components[c]))
        print(`stack: ${c} stopped (pid ${state.components[c]?.pid})`);
    } catch (err) {
      print(`stack: cannot stop ${c}: ${err instanceof StackError ? err.oneLine() : String(err)}`);
    }
    delete state.components[c];
  }
  writeState(state);
}

/** Stops every process of the stack, by pid. Data stays until the next clean `up`. */
export async function down(opts: StackOptions = {}): Promise<void> {
  const print = opts.print ?? defaultPrint;
  await withLockDir(join(stackDir, '.lock'), async () => {
    const state = readState();
    if (!state) {
      print('stack: nothing to stop');
      return;
    }
    await stopAll(state, print);
    rmSync(stackEnvFile, { force: true });
    print('stack: down');
  });
}

/**
 * Stops one component (`stop`), starts it again on the same ports with the same data (`start`),
 * or both (`restart`). The crash tests use these to kill and bring back real servers.
 */
export async function control(
  action: 'stop' | 'start' | 'restart',
  name: string,
  opts: StackOptions = {},
): Promise<void> {
  const print = opts.print ?? defaultPrint;
  const component = componentByName(name);
  await withLockDir(join(stackDir, '.lock'), async () => {
    const state = readState();
    if (!state) throw new StackError('the stack is not up: run `npm run stack -- up` first');
    if (action !== 'start') {
      const stopped = await stopComponent(state.components[component]);
      print(stopped ? `stack: ${component} stopped` : `stack: ${component} was not running`);
      delete state.components[component];
      writeState(state);
    }
    if (action !== 'stop') {
      if (ownsPid(state.components[component])) {
        print(`stack: ${component} already running`);
        return;
      }
      const tools = await ensureTools(print);
      const pki = await ensurePki(tools.openssl, stackPkiDir, join(stackLogDir, 'pki.log'));
      await startComponent({ tools, pki, state }, component, print);
    }
  });
}

/** One row of `stack status`. */
export interface ComponentStatus {
  component: ComponentName;
  state: 'up' | 'unhealthy' | 'down';
  pid?: number;
  address: string;
  logFile: string;
}

/** What runs, where, and where its logs are. */
export async function status(): Promise<ComponentStatus[]> {
  const state = readState();
  if (!state) return [];
  const pki = {
    caCert: join(stackPkiDir, 'ca.crt'),
  } as Pki;
  const ctx = { tools: {}, pki, state } as Ctx;
  return Promise.all(
    COMPONENTS.map(async (c) => {
      const cs = state.components[c];
      const ports = state.ports[c];
      const running = ports !== undefined && ownsPid(cs);
      const ok = running && existsSync(pki.caCert) ? await DEFS[c].healthy(ctx, ports) : false;
      return {
        component: c,
        state: running ? (ok ? 'up' : 'unhealthy') : 'down',
        pid: running ? cs.pid : undefined,
        // A component added after this stack was started has no ports yet: `up` adds it.
        address: ports ? describePorts(ports) : '- (not in this stack yet: run up)',
        logFile: join(stackLogDir, `${c}.log`),
      } satisfies ComponentStatus;
    }),
  );
}

function kubeconfig(pki: Pki, name: string, port: number): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority-data: ${b64(pki.caCert)}
users:
- name: ${name}-admin
  user:
    client-certificate-data: ${b64(pki.adminCert)}
    client-key-data: ${b64(pki.adminKey)}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: ${name}-admin
current-context: ${name}
`;
}

function kubeconfigPath(name: Cluster): string {
  return join(stackKubeconfigDir, `${name}.yaml`);
}

/**
 * Writes `text` to `path` unless it already holds it, through a temporary file and a rename, so
 * that a client reading the file while a running stack gains a component never sees half of it.
 */
function replaceFile(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The admin kubeconfig of every cluster the stack runs; files already right are left alone. */
function writeKubeconfigs(pki: Pki, state: StackState): void {
  mkdirSync(stackKubeconfigDir, { recursive: true, mode: 0o700 });
  for (const name of CLUSTERS) {
    replaceFile(kubeconfigPath(name), kubeconfig(pki, name, portsOf(state, name).https));
  }
}

function writeEnv(state: StackState): StackEnv {
  const env: StackEnv = {
    TEMPORAL_ADDRESS: `127.0.0.1:${portsOf(state, 'temporal').grpc}`,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_UI_URL: `http://127.0.0.1:${portsOf(state, 'temporal').ui}`,
    MANAGEMENT_KUBECONFIG: kubeconfigPath('management'),
    SOURCE_KUBECONFIG: kubeconfigPath('source'),
    DESTINATION_KUBECONFIG: kubeconfigPath('destination'),
    SOURCE_V129_KUBECONFIG: kubeconfigPath('source-v129'),
    S3_ENDPOINT: `http://127.0.0.1:${portsOf(state, 's3').api}`,
    S3_REGION: state.s3.region,
    S3_ACCESS_KEY_ID: state.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: state.s3.secretAccessKey,
    S3_BUCKET: state.s3.bucket,
    ZK_SOURCE: `127.0.0.1:${portsOf(state, 'zk-source').client}`,
    ZK_DESTINATION: `127.0.0.1:${portsOf(state, 'zk-destination').client}`,
    PROMETHEUS_URL: `http://127.0.0.1:${portsOf(state, 'prometheus').web}`,
    PROMETHEUS_TARGETS_DIR: prometheusTargetsDir,
    STACK_LOG_DIR: stackLogDir,
  };
  const text = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  replaceFile(stackEnvFile, `${text}\n`);
  return env;
}

/**
 * Installs (server-side apply, idempotent) our CRDs from k8s/crds into the management cluster,
 * where the custom resources live, and the destination cluster, where recovery Tasks live.
 */
async function installCrds(tools: ToolPaths, print: (l: string) => void): Promise<void> {
  for (const cluster of ['management', 'destination'] as const) {
    await runLogged(
      tools.kubectl,
      [
        '--kubeconfig',
        kubeconfigPath(cluster),
        'apply',
        '--server-side',
        '--force-conflicts',
        '--field-manager=resiliency-orchestrator-stack',
        '-k',
        join(projectRoot, 'k8s', 'crds'),
      ],
      {
        logFile: join(stackLogDir, 'crds.log'),
        what: `installing the CRDs into ${cluster}`,
        progressEveryMs: 0,
        print,
      },
    );
  }
  print('stack: CRDs installed in management and destination');
}

/** Reads `.stack/env` when the stack is up, or undefined. */
export function readEnv(): StackEnv | undefined {
  try {
    const env: Record<string, string> = {};
    for (const line of readFileSync(stackEnvFile, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
    }
    return env as StackEnv;
  } catch {
    return undefined;
  }
}
