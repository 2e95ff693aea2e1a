/**
 * Issue 15 on the real stack: a kubeconfig in a KubernetesCluster's Secret is untrusted input.
 * `exec` never runs and file references are refused (status names the field), unless the operator
 * opts in to `exec`; inline credentials work; no secret value reaches a log line, an Event, a
 * status or a workflow history. Every orchestrator here runs on the management cluster as the
 * install's ServiceAccount, under exactly k8s/install/rbac.yaml, never as system:masters.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { ALL_KINDS, API_VERSION, kindInfo, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { installTemporalRuntime } from '../../src/temporal/runtime.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const RECHECK_SECONDS = 2;
const env = stackEnv();
// The test's own hands (creating Secrets and resources) are the admin's; the orchestrators' are not.
const { kc, custom } = managementClients();
const core = kc.makeApiClient(CoreV1Api);
const ns = uniqueName('security');
const nsExec = uniqueName('security-exec');
const dir = mkdtempSync(join(tmpdir(), 'security-test-'));

/** The source cluster's address and admin credentials, to build kubeconfigs of every shape. */
const source = new KubeConfig();
source.loadFromFile(env.SOURCE_KUBECONFIG);
const sourceCluster = source.getCurrentCluster()!;
const sourceUser = source.getCurrentUser()!;
const pem = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
const inlineUser = {
  'client-certificate-data': sourceUser.certData,
  'client-key-data': sourceUser.keyData,
};

function kubeconfig(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = { 'certificate-authority-data': sourceCluster.caData },
  spareUsers: Record<string, unknown>[] = [],
): string {
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: sourceCluster.server, ...cluster } }],
    users: [{ name: 'u', user }, ...spareUsers.map((u, i) => ({ name: `spare-${i}`, user: u }))],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
}

/** A file with an ExecCredential carrying the source cluster's admin certificate. */
const credentialFile = join(dir, 'exec-credential.json');
writeFileSync(
  credentialFile,
  JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { clientCertificateData: pem(sourceUser.certData), clientKeyData: pem(sourceUser.keyData) },
  }),
);

/** An exec user that leaves `marker` behind when it runs, as the issue's `id > /tmp/pwned` did. */
function execUser(marker: string, extra: { args?: string[]; env?: { name: string; value: string }[] } = {}) {
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'sh',
      args: ['-c', `id > '${marker}'; cat '${credentialFile}'`, ...(extra.args ?? [])],
      ...(extra.env ? { env: extra.env } : {}),
      interactiveMode: 'Never',
    },
  };
}

async function secret(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
}

async function create(namespace: string, kind: Kind, name: string, spec: unknown): Promise<Resource> {
  const { group } = kindInfo(kind);
  return (await custom.createNamespacedCustomObject({
    ...target(kind, namespace, ''),
    body: { apiVersion: `${group}/${API_VERSION}`, kind, metadata: { name }, spec },
  })) as Resource;
}

async function clusterWith(namespace: string, name: string, text: string): Promise<void> {
  await secret(namespace, name, { 'kubeconfig.yaml': text });
  await create(namespace, 'KubernetesCluster', name, { secretName: name });
}

const readyOf = (r?: Resource) => r?.status?.conditions?.find((c) => c.type === 'Ready');

/** Waits until the Ready condition has `status` and `reason`; returns it. */
async function readyIs(
  namespace: string,
  kind: Kind,
  name: string,
  status: 'True' | 'False',
  reason: string,
) {
  const r = await eventually(`${kind} ${namespace}/${name} Ready=${status} ${reason}`, async () => {
    const obj = await getResource(custom, kind, namespace, name);
    const c = readyOf(obj);
    return c?.status === status && c.reason === reason ? obj : undefined;
  });
  return readyOf(r)!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps every line, at debug level. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    process: 'orchestrator',
    destination: { write: (s: string) => void lines.push(s) },
  });
  return { log, lines };
}

const replicateConfigMaps = (sourceName: string, extra: Record<string, unknown> = {}) => ({
  plugin: 'kubernetes-objects-to-kubernetes',
  config: {
    sourceName,
    destinationName: 'destination',
    ...extra,
    replication: {
      resources: [
        {
          version: 'v1',
          resource: 'configmaps',
          filters: { namespaceSelector: { matchLabels: { 'security-test': ns } } },
        },
      ],
    },
  },
});

let orchestratorAs: KubeConfig;
let strict: Orchestrator;
const strictLog = capturingLogger();

beforeAll(async () => {
  // The Temporal SDK's own lines (activity failures, with their messages) go to the same capture.
  installTemporalRuntime(strictLog.log);
  orchestratorAs = await orchestratorKubeConfig();
  for (const name of [ns, nsExec]) await core.createNamespace({ body: { metadata: { name } } });
  await createClusterAssets(custom, core, ns);
  strict = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('security'),
    },
    management: orchestratorAs,
    log: strictLog.log,
    instance: 'security-test',
    namespaces: [ns],
    recheckSeconds: RECHECK_SECONDS,
  });
});

afterAll(async () => {
  await deleteAllOurs(custom, ns).catch(() => undefined);
  await strict?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('a kubeconfig with an exec credential plugin (the issue’s attack)', () => {
  const marker = join(tmpdir(), uniqueName('kubeconfig-exec-ran'));
  afterAll(() => rmSync(marker, { force: true }));

  it('never runs: the cluster and what references it report InsecureKubeconfig naming users[0].user.exec', async () => {
    await clusterWith(ns, 'evil', kubeconfig(execUser(marker)));
    await create(ns, 'LiveSynchronization', 'uses-evil', replicateConfigMaps('evil'));
    const cluster = await readyIs(ns, 'KubernetesCluster', 'evil', 'False', 'InsecureKubeconfig');
    expect(cluster.message).toMatch(
      new RegExp(
        `^spec\\.secretName: Secret ${ns}/evil key kubeconfig\\.yaml: users\\[0\\]\\.user\\.exec: runs a command inside the orchestrator`,
      ),
    );
    const live = await readyIs(ns, 'LiveSynchronization', 'uses-evil', 'False', 'ReferenceNotReady');
    expect(live.message).toContain(
      `spec.config.sourceName: spec.secretName: Secret ${ns}/evil key kubeconfig.yaml: users[0].user.exec:`,
    );
    // The asset is checked again every RECHECK_SECONDS: give it several chances to run the command.
    await sleep(4 * RECHECK_SECONDS * 1000);
    expect(existsSync(marker)).toBe(false);
  });

  it('the same cluster with inline credentials in its Secret becomes Ready, and so does what references it', async () => {
    await core.patchNamespacedSecret(
      { namespace: ns, name: 'evil', body: { stringData: { 'kubeconfig.yaml': kubeconfig(inlineUser) } } },
      MERGE,
    );
    const cluster = await readyIs(ns, 'KubernetesCluster', 'evil', 'True', 'Connected');
    expect(cluster.message).toContain(`${sourceCluster.server} answers, Kubernetes v`);
    await readyIs(ns, 'LiveSynchronization', 'uses-evil', 'True', 'Replicating');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('a kubeconfig naming files on the orchestrator’s machine', () => {
  // What an attacker would point at: the orchestrator's own ServiceAccount token and credentials.
  const files = {
    token: join(dir, 'token'),
    cert: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
    ca: join(dir, 'ca.crt'),
  };
  beforeAll(() => {
    writeFileSync(files.token, orchestratorAs.getCurrentUser()!.token!, { mode: 0o600 });
    writeFileSync(files.cert, pem(sourceUser.certData));
    writeFileSync(files.key, pem(sourceUser.keyData), { mode: 0o600 });
    writeFileSync(files.ca, pem(sourceCluster.caData));
  });

  it.each([
    ['token-file', () => kubeconfig({ 'token-file': files.token }), ['users[0].user.token-file']],
    ['tokenFile', () => kubeconfig({ tokenFile: files.token }), ['users[0].user.tokenFile']],
    [
      'client-certificate and client-key',
      () => kubeconfig({ 'client-certificate': files.cert, 'client-key': files.key }),
      ['users[0].user.client-certificate', 'users[0].user.client-key'],
    ],
    [
      'certificate-authority',
      () => kubeconfig(inlineUser, { 'certificate-authority': files.ca }),
      ['clusters[0].cluster.certificate-authority'],
    ],
  ])('is refused: %s', async (what, text, fields) => {
    const name = `file-${what.toLowerCase().replace(/[^a-z]+/g, '-')}`;
    await clusterWith(ns, name, text());
    const ready = await readyIs(ns, 'KubernetesCluster', name, 'False', 'InsecureKubeconfig');
    for (const field of fields)
      expect(ready.message).toContain(`${field}: reads a file on the orchestrator's machine`);
    expect(ready.message).not.toContain(dir);
  });
});

describe('under exactly the install’s RBAC', () => {
  it('a SynchronizationPlan fires: its Synchronization is created, owned by the plan, and reports its phase', async () => {
    const plan = await create(ns, 'SynchronizationPlan', 'plan', {
      schedule: '0 0 1 1 *',
      template: { spec: replicateConfigMaps('source') },
    });
    await readyIs(ns, 'SynchronizationPlan', 'plan', 'True', 'Scheduled');
    await strict.client.schedule.getHandle(`SynchronizationPlan/${ns}/plan/${plan.metadata.uid}`).trigger();
    const sync = await eventually('the plan’s Synchronization to finish', async () => {
      const list = (await custom.listNamespacedCustomObject({
        ...target('Synchronization', ns, ''),
      })) as { items: Resource[] };
      const s = list.items.find((i) => i.metadata.ownerReferences?.[0]?.uid === plan.metadata.uid);
      return s?.status?.phase === 'Failed' || s?.status?.phase === 'Succeeded' ? s : undefined;
    });
    expect(sync.status?.workflowId).toContain(`Synchronization/${ns}/`);
  });
});

describe('--allow-kubeconfig-exec', () => {
  const marker = join(tmpdir(), uniqueName('kubeconfig-exec-allowed'));
  const optInLog = capturingLogger();
  let optIn: Orchestrator;

  beforeAll(async () => {
    optIn = await startOrchestrator({
      temporal: {
        address: env.TEMPORAL_ADDRESS,
        namespace: env.TEMPORAL_NAMESPACE,
        taskQueue: uniqueName('security-exec'),
      },
      management: orchestratorAs,
      log: optInLog.log,
      instance: 'security-test-exec',
      namespaces: [nsExec],
      recheckSeconds: RECHECK_SECONDS,
      allowKubeconfigExec: true,
    });
  });
  afterAll(async () => {
    await deleteAllOurs(custom, nsExec).catch(() => undefined);
    await optIn?.shutdown();
    rmSync(marker, { force: true });
  });

  it('is reported at start-up, and only when set', () => {
    const warned = (lines: string[]) =>
      lines
        .map((l) => JSON.parse(l) as { level: string; msg: string; allowKubeconfigExec?: boolean })
        .filter((l) => /kubeconfig exec credential plugins are allowed/.test(l.msg));
    expect(warned(optInLog.lines)).toEqual([
      expect.objectContaining({ level: 'warn', allowKubeconfigExec: true }),
    ]);
    expect(warned(strictLog.lines)).toEqual([]);
  });

  it('lets exec run: the command leaves its marker and the cluster becomes Ready with the credential it printed', async () => {
    await clusterWith(nsExec, 'exec', kubeconfig(execUser(marker)));
    await readyIs(nsExec, 'KubernetesCluster', 'exec', 'True', 'Connected');
    expect(existsSync(marker)).toBe(true);
  });

  it('still refuses file references', async () => {
    await clusterWith(nsExec, 'token-file', kubeconfig({ 'token-file': join(dir, 'token') }));
    const ready = await readyIs(nsExec, 'KubernetesCluster', 'token-file', 'False', 'InsecureKubeconfig');
    expect(ready.message).toContain('users[0].user.token-file: reads a file');
  });
});

describe('no secret value leaves the orchestrator', () => {
  const tag = Math.random().toString(36).slice(2, 10);
  const S = Object.fromEntries(
    [
      'kubeconfigToken',
      'spareToken',
      'basicUser',
      'basicPassword',
      'clientCert',
      'clientKey',
      'execArg',
      'execEnv',
      'yamlToken',
      'accessKeyID',
      'secretAccessKey',
      'zkUser',
      'zkPassword',
    ].map((k) => [k, `sentinel-${k}-${tag}`]),
  ) as Record<string, string>;
  const texts: string[] = []; // whole Secret values, whose base64 a dumped Secret would show
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  });

  /** The sentinel and the base64 forms it takes inside a longer base64 text, at any alignment. */
  function forms(value: string): string[] {
    const out = [value, Buffer.from(value).toString('base64').replace(/=+$/, '')];
    for (let pad = 0; pad < 3; pad++)
      out.push(
        Buffer.from('\0'.repeat(pad) + value)
          .toString('base64')
          .slice(4, -4),
      );
    return out;
  }

  it('in logs, Events, statuses or workflow histories, whatever the orchestrator did with it', async () => {
    const put = async (name: string, stringData: Record<string, string>) => {
      texts.push(...Object.values(stringData).filter((v) => v.length > 40));
      await secret(ns, name, stringData);
    };
    // A real identity on the source cluster with no RBAC there: GET /version answers, lists are
    // refused, so a LiveSynchronization replicating with it fails over and over.
    const sourceCore = source.makeApiClient(CoreV1Api);
    const replicator = uniqueName('replicator');
    await sourceCore.createNamespacedServiceAccount({
      namespace: 'default',
      body: { metadata: { name: replicator } },
    });
    const { status } = await sourceCore.createNamespacedServiceAccountToken({
      namespace: 'default',
      name: replicator,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const replicatorToken = status!.token;
    cleanups.push(() =>
      sourceCore.deleteNamespacedServiceAccount({ namespace: 'default', name: replicator }),
    );
    const clusters: [string, string][] = [
      // The source answers 401 to a token it does not know.
      ['s-token', kubeconfig({ token: S.kubeconfigToken })],
      ['s-basic', kubeconfig({ username: S.basicUser, password: S.basicPassword })],
      ['s-sa', kubeconfig({ token: replicatorToken }, undefined, [{ token: S.spareToken }])],
      [
        's-key',
        kubeconfig({
          'client-certificate-data': Buffer.from(S.clientCert).toString('base64'),
          'client-key-data': Buffer.from(S.clientKey).toString('base64'),
        }),
      ],
      [
        's-exec',
        kubeconfig(
          execUser(join(dir, 'never'), { args: [S.execArg], env: [{ name: 'X', value: S.execEnv }] }),
        ),
      ],
      ['s-yaml', `users:\n- name: u\n  user:\n    token: ${S.yamlToken}\n   bad: indentation\n`],
    ];
    for (const [name, text] of clusters) {
      await put(name, { 'kubeconfig.yaml': text });
      await create(ns, 'KubernetesCluster', name, { secretName: name });
    }
    await put('s-bucket', { accessKeyID: S.accessKeyID, secretAccessKey: S.secretAccessKey });
    await create(ns, 'Bucket', 's-bucket', {
      generic: {
        name: env.S3_BUCKET,
        endpoint: env.S3_ENDPOINT.replace(/^https?:\/\//, ''),
        useSSL: false,
        secretName: 's-bucket',
      },
    });
    await put('s-db', { user: S.zkUser, password: S.zkPassword });
    await create(ns, 'Database', 's-db', { zookeeper: { client: { servers: [env.ZK_SOURCE] } } });
    await create(ns, 'LiveSynchronization', 's-live', replicateConfigMaps('s-sa'));
    await create(
      ns,
      'LiveSynchronization',
      's-live-bucket',
      replicateConfigMaps('source', { bucketName: 's-bucket' }),
    );

    const expected: [Kind, string, string][] = [
      ['KubernetesCluster', 's-token', 'Unreachable'],
      ['KubernetesCluster', 's-basic', 'Connected'], // anonymous: Basic auth is ignored, GET /version is public
      ['KubernetesCluster', 's-sa', 'Connected'],
      ['KubernetesCluster', 's-key', 'Unreachable'],
      ['KubernetesCluster', 's-exec', 'InsecureKubeconfig'],
      ['KubernetesCluster', 's-yaml', 'InvalidKubeconfig'],
      ['Bucket', 's-bucket', 'Unreachable'],
      ['Database', 's-db', 'Connected'],
      ['LiveSynchronization', 's-live-bucket', 'ReferenceNotReady'],
    ];
    for (const [kind, name, reason] of expected) {
      await eventually(
        `${kind} ${name} reason ${reason}`,
        async () => readyOf(await getResource(custom, kind, ns, name))?.reason === reason,
      );
    }
    // s-live replicates with an identity the source forbids to list: let its attempts fail and be logged.
    await eventually('s-live to report its replication', async () =>
      readyOf(await getResource(custom, 'LiveSynchronization', ns, 's-live')),
    );
    await sleep(10_000);

    const haystacks: Record<string, string> = {};
    haystacks.logs = strictLog.lines.join('');
    const events = await core.listNamespacedEvent({ namespace: ns });
    haystacks.events = JSON.stringify(events.items);
    const ours: Resource[] = [];
    for (const kind of ALL_KINDS) {
      const list = (await custom.listNamespacedCustomObject({ ...target(kind, ns, '') })) as {
        items: Resource[];
      };
      ours.push(...list.items);
    }
    haystacks.resources = JSON.stringify(ours);
    const histories: unknown[] = [];
    for await (const w of strict.client.workflow.list({ query: `AstronetesNamespace="${ns}"` })) {
      histories.push(await strict.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory());
    }
    // Payload data comes base64-encoded (the history's proto JSON form): decode it, so that a
    // secret inside a payload shows as text.
    haystacks.histories = JSON.stringify(histories, (key, value: unknown) =>
      key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value,
    );

    // The haystacks hold what they should, so that finding nothing in them means something.
    const holds = (where: string, what: string) =>
      `${where} ${haystacks[where].includes(what) ? 'holds' : 'lacks'} ${what}`;
    expect(holds('logs', ns)).toBe(`logs holds ${ns}`);
    expect(holds('logs', 'temporal-sdk')).toBe('logs holds temporal-sdk');
    expect(holds('events', 'InsecureKubeconfig')).toBe('events holds InsecureKubeconfig');
    expect(holds('resources', 'users[0].user.exec')).toBe('resources holds users[0].user.exec');
    expect(holds('resources', 'lastError')).toBe('resources holds lastError'); // s-live's failed lists
    expect(holds('histories', 'users[0].user.exec')).toBe('histories holds users[0].user.exec');
    expect(ours.length).toBeGreaterThanOrEqual(expected.length);

    const needles = [
      ...Object.entries(S).flatMap(([k, v]) => forms(v).map((f) => [k, f] as const)),
      ...texts.map((t, i) => [`secret text ${i}`, Buffer.from(t).toString('base64').slice(0, 60)] as const),
      ['the orchestrator’s token', orchestratorAs.getCurrentUser()!.token!] as const,
      ['the replicator’s token', replicatorToken!] as const,
    ];
    const found = Object.entries(haystacks).flatMap(([where, text]) =>
      needles.filter(([, needle]) => text.includes(needle)).map(([what]) => `${what} in ${where}`),
    );
    expect(found).toEqual([]);
  });
});
