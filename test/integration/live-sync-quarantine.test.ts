/**
 * Prunes are reversible, on the real stack with MinIO: a LiveSynchronization with a bucket prunes
 * a copy whose source was deleted and one whose source left the filter (a label changed); before
 * deleting each copy and its bucket original it keeps the original under the documented quarantine
 * key. A TaskRun of the destination cluster (the recovery install, 3-cluster architecture) whose
 * Task restores from the quarantine (`fromOriginal.quarantine`) brings both back; a tiny retention
 * then deletes the expired quarantine folder.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { API_VERSION } from '../../src/api/kinds.js';
import { MERGE_PATCH } from '../../src/kube/objects.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { liveSyncPrefix, quarantineRoot } from '../../src/bucket/layout.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import type { ReplicationReport } from '../../src/plugins/kubernetes-objects-to-kubernetes/run.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  bucketClient,
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  quietWorkflowBundle,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const dstKc = new KubeConfig();
dstKc.loadFromFile(env.DESTINATION_KUBECONFIG);
const dstCustom = dstKc.makeApiClient(CustomObjectsApi);
const s3: S3Client = bucketClient();
const ns = uniqueName('quarantine'); // the LiveSynchronization's namespace, in management and destination
const apps = uniqueName('quarantine-app'); // the replicated namespace
const ls = { namespace: ns, name: 'live' };
const NAMES = ['keep', 'gone', 'unselect'];
let management: Orchestrator;
let recovery: Orchestrator;

async function orchestrator(kc: KubeConfig, name: string): Promise<Orchestrator> {
  return startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName(name),
    },
    management: kc,
    log: createLogger({ level: 'silent' }),
    instance: name,
    namespaces: [ns],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: await quietWorkflowBundle() },
  });
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: env.S3_BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

async function read(key: string): Promise<{ metadata: { name: string }; data?: Record<string, string> }> {
  const got = await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }));
  return JSON.parse(await got.Body!.transformToString());
}

async function copies(): Promise<string[]> {
  const list = await dst.core.listNamespacedConfigMap({
    namespace: apps,
    labelSelector: `${OWNER_LABEL}=${ownerLabelValue(ls)}`,
  });
  return list.items.map((c) => c.metadata!.name!).sort();
}

async function replicationStatus(): Promise<ReplicationReport | undefined> {
  const r = await getResource(custom, 'LiveSynchronization', ns, 'live');
  return (r?.status as { replication?: ReplicationReport } | undefined)?.replication;
}

function liveSync(retention: string) {
  return {
    sourceName: 'source',
    destinationName: 'destination',
    bucketName: 'backups',
    replication: {
      forceNamespaceCreation: true,
      quarantine: { retention },
      resources: [
        {
          version: 'v1',
          resource: 'configmaps',
          filters: {
            selector: { matchLabels: { dr: 'yes' } },
            namespaceSelector: { matchLabels: { 'quarantine-test': ns } },
          },
        },
      ],
    },
  };
}

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await dst.core.createNamespace({ body: { metadata: { name: ns } } });
  await src.core.createNamespace({ body: { metadata: { name: apps, labels: { 'quarantine-test': ns } } } });
  for (const name of NAMES)
    await src.core.createNamespacedConfigMap({
      namespace: apps,
      body: { metadata: { name, labels: { dr: 'yes', qt: ns } }, data: { v: `original-${name}` } },
    });
  await createClusterAssets(custom, mgmt.core, ns);
  await createBucketAsset(custom, mgmt.core, ns);
  await createBucketAsset(dstCustom, dst.core, ns); // the recovery install's Bucket asset
  management = await orchestrator(await orchestratorKubeConfig(), 'quarantine-mgmt');
  recovery = await orchestrator(dstKc, 'quarantine-dst');
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'LiveSynchronization',
      metadata: { name: 'live' },
      spec: { plugin: 'kubernetes-objects-to-kubernetes', config: liveSync('1h') },
    },
  });
  await eventually(
    'the three copies and originals',
    async () =>
      (await copies()).length === 3 && (await keys(`${liveSyncPrefix(ls)}core-v1-configmaps/`)).length === 3,
    90_000,
  );
}, 240_000);

afterAll(async () => {
  await deleteAllOurs(custom, ns, 120_000).catch(() => undefined);
  await deleteAllOurs(dstCustom, ns, 120_000).catch(() => undefined);
  await management?.shutdown();
  await recovery?.shutdown();
  for (const c of [src, dst]) await c.core.deleteNamespace({ name: apps }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await dst.core.deleteNamespace({ name: ns }).catch(() => undefined);
  const left = [...(await keys(liveSyncPrefix(ls))), ...(await keys(quarantineRoot(ls)))];
  if (left.length)
    await s3.send(
      new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: left.map((Key) => ({ Key })) } }),
    );
}, 300_000);

/** The quarantine keys of `name`, as layout.ts documents them. */
const quarantined = (all: string[], name: string) =>
  all.filter((k) =>
    new RegExp(`^_quarantine/${ns}/live/\\d{8}T\\d{6}Z/core-v1-configmaps/${apps}\\.${name}$`).test(k),
  );

it('keeps a pruned copy in the quarantine before deleting it and its original', async () => {
  await src.core.deleteNamespacedConfigMap({ namespace: apps, name: 'gone' });
  await src.core.patchNamespacedConfigMap({
    namespace: apps,
    name: 'unselect',
    body: [{ op: 'replace', path: '/metadata/labels/dr', value: 'no' }],
  });
  await eventually('the two copies pruned', async () => (await copies()).join() === 'keep', 90_000);
  await eventually(
    'the two originals deleted',
    async () =>
      (await keys(`${liveSyncPrefix(ls)}core-v1-configmaps/`)).join() ===
      `${liveSyncPrefix(ls)}core-v1-configmaps/${apps}.keep`,
    30_000,
  );
  const all = await keys(quarantineRoot(ls));
  expect(all).toHaveLength(2);
  for (const name of ['gone', 'unselect']) {
    const [key] = quarantined(all, name);
    expect(key).toBeDefined();
    // The bucket original, as the source had it before it went (or left the filter).
    const kept = await read(key);
    expect(kept.metadata.name).toBe(name);
    expect(kept.data).toEqual({ v: `original-${name}` });
  }
  const status = await eventually(
    'status.replication.quarantine',
    async () => {
      const q = (await replicationStatus())?.quarantine;
      return q && q.objects >= 2 ? q : undefined;
    },
    30_000,
  );
  expect(status.retention).toBe('1h');
  expect(status.lastPrefix).toMatch(new RegExp(`^_quarantine/${ns}/live/\\d{8}T\\d{6}Z/$`));
  expect(all.some((k) => k.startsWith(status.lastPrefix!))).toBe(true);
}, 180_000);

it('restores the quarantined objects with a TaskRun of the destination cluster', async () => {
  // The folders' common time prefix (their day, or more): the restore names folders by prefix.
  const [a, b] = (await keys(quarantineRoot(ls))).map((k) => k.split('/')[3]);
  let prefix = '';
  while (prefix.length < a.length && a[prefix.length] === b[prefix.length]) prefix += a[prefix.length];
  await dstCustom.createNamespacedCustomObject({
    ...target('Task', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'Task',
      metadata: { name: 'undo-prunes' },
      spec: {
        plugin: 'kubernetes-objects-transformation',
        config: {
          resources: [
            {
              identifier: { version: 'v1', resource: 'configmaps' },
              selector: { matchLabels: { qt: ns } },
              fromOriginal: { bucketName: 'backups', liveSynchronization: `${ns}/live`, quarantine: prefix },
            },
          ],
        },
      },
    },
  });
  await dstCustom.createNamespacedCustomObject({
    ...target('TaskRun', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'TaskRun',
      metadata: { name: 'undo' },
      spec: { taskName: 'undo-prunes' },
    },
  });
  const run: Resource = await eventually(
    'the TaskRun to finish',
    async () => {
      const r = await getResource(dstCustom, 'TaskRun', ns, 'undo');
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    120_000,
  );
  expect(run.status?.message).toMatch(/restored 2/);
  expect(run.status?.phase).toBe('Succeeded');
  for (const name of ['gone', 'unselect']) {
    const back = await dst.core.readNamespacedConfigMap({ namespace: apps, name });
    expect(back.data).toEqual({ v: `original-${name}` });
  }
}, 180_000);

it('deletes an expired quarantine folder at the start of a run', async () => {
  expect(await keys(quarantineRoot(ls))).toHaveLength(2);
  await new Promise((r) => setTimeout(r, 2000)); // older than the retention below, to the second
  await custom.patchNamespacedCustomObject(
    { ...target('LiveSynchronization', ns, 'live'), body: { spec: { config: liveSync('1s') } } },
    MERGE_PATCH,
  );
  await eventually(
    'the expired folders deleted',
    async () => (await keys(quarantineRoot(ls))).length === 0,
    90_000,
  );
  // The originals of what is still replicated are untouched.
  expect(await keys(`${liveSyncPrefix(ls)}core-v1-configmaps/`)).toEqual([
    `${liveSyncPrefix(ls)}core-v1-configmaps/${apps}.keep`,
  ]);
}, 120_000);
