/**
 * Bucket providers on real S3 servers: MinIO servers of this test's own (the shared one is never
 * touched), one told its region (MINIO_REGION=eu-west-3), one with no region and the seed's
 * sample credentials. The orchestrator runs as a child process with `--bucket-endpoint-overrides`
 * (tests only), so that the hosts the specs name (s3.<region>.amazonaws.com,
 * storage.googleapis.com) are served by those MinIOs; nothing leaves this machine. What this does
 * not test: real AWS or Cloud Storage (their TLS, virtual-host addressing, IAM, Cloud Storage's
 * HMAC keys): see docs/replication.md, "Buckets".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { loadAllYaml, type V1Namespace } from '@kubernetes/client-node';
import { kindInfo, API_VERSION, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { stackDir } from '../../tools/stack/paths.js';
import {
  clusterClients,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { startOwnMinio, type OwnMinio } from './own-minio.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const samplesDir = join(process.cwd(), 'k8s', 'samples');

const ns = uniqueName('bkt');
const nsAws = uniqueName('bkt-aws');
const nsGcp = uniqueName('bkt-gcp');
/** One source namespace per LiveSynchronization of ours, so that none owns another's copies. */
const apps = { right: uniqueName('bkt-right'), aws: uniqueName('bkt-aws'), gcs: uniqueName('bkt-gcs') };
const taskQueue = uniqueName('bkt');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const REGION = 'eu-west-3';
const KEYS = { accessKey: uniqueName('key'), secretKey: uniqueName('secret-key') };
/** The seed's sample Secret (5.1.3.3-*-secret-bucket-credentials.yaml) holds these. */
const SAMPLE_KEYS = { accessKey: 'sample-access-key', secretKey: 'sample-secret-key' };
let regional: OwnMinio;
let plain: OwnMinio;
let worker: WorkerProcess;
const sourceNamespaces: string[] = [];
const destinationNamespaces: string[] = [];
const managementNamespaces: string[] = [];

type Doc = Omit<Resource, 'kind'> & { kind: string; stringData?: Record<string, string> };

/** Creates a sample's documents in `namespace`, unchanged but for metadata.namespace (the seed's placeholder). */
async function applySample(file: string, namespace: string): Promise<void> {
  for (const doc of (loadAllYaml(readFileSync(join(samplesDir, file), 'utf8')) as Doc[]).filter(Boolean)) {
    const body = { ...doc, metadata: { ...doc.metadata, namespace } };
    if (doc.kind === 'Secret') await mgmt.core.createNamespacedSecret({ namespace, body: body as never });
    else await custom.createNamespacedCustomObject({ ...target(doc.kind as Kind, namespace, ''), body });
  }
}

async function createResource(kind: Kind, namespace: string, name: string, spec: unknown): Promise<void> {
  const { group } = kindInfo(kind);
  await custom.createNamespacedCustomObject({
    ...target(kind, namespace, ''),
    body: { apiVersion: `${group}/${API_VERSION}`, kind, metadata: { name }, spec },
  });
}

function ready(r?: Resource) {
  return r?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Waits until `kind/name` reports Ready with `status`, and returns its condition; a timeout names the last one seen. */
async function readyIs(kind: Kind, namespace: string, name: string, status: 'True' | 'False') {
  let last: unknown;
  try {
    return await eventually(
      `${kind} ${namespace}/${name} Ready=${status}`,
      async () => {
        const c = ready(await getResource(custom, kind, namespace, name));
        last = c;
        return c?.status === status ? c : undefined;
      },
      120_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last Ready: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** The object at `key` of `bucket`, parsed, once it is there. */
async function original(server: OwnMinio, bucket: string, key: string): Promise<Resource> {
  return eventually(
    `s3://${bucket}/${key} on ${server.url}`,
    async () => {
      try {
        const out = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse(await out.Body!.transformToString()) as Resource;
      } catch {
        return undefined;
      }
    },
    120_000,
  );
}

const liveSyncSpec = (bucketName: string, app: string) => ({
  plugin: 'kubernetes-objects-to-kubernetes',
  config: {
    sourceName: 'source',
    destinationName: 'destination',
    bucketName,
    replication: {
      forceNamespaceCreation: true,
      resources: [
        {
          version: 'v1',
          resource: 'configmaps',
          filters: { namespaceSelector: { matchLabels: { 'bkt-app': app } } },
        },
      ],
    },
  },
});

async function sourceNamespace(name: string, labels: Record<string, string>): Promise<void> {
  await src.core.createNamespace({ body: { metadata: { name, labels } } });
  sourceNamespaces.push(name);
}

beforeAll(async () => {
  [regional, plain] = await Promise.all([
    startOwnMinio({ ...KEYS, region: REGION, logFile }),
    startOwnMinio({ ...SAMPLE_KEYS, logFile }),
  ]);
  await regional.createBucket('backups');
  await plain.createBucket('dr-backups');
  for (const n of [ns, nsAws, nsGcp]) {
    await mgmt.core.createNamespace({ body: { metadata: { name: n } } });
    // The samples select every namespace labelled env=pre: their source is the management cluster,
    // where no other test labels namespaces so (the source clusters' env=pre namespaces are other tests').
    await createClusterAssets(custom, mgmt.core, n, n === ns ? undefined : env.MANAGEMENT_KUBECONFIG);
  }
  await mgmt.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'keys' },
      stringData: { accessKeyID: KEYS.accessKey, secretAccessKey: KEYS.secretKey },
    },
  });
  for (const app of Object.values(apps)) {
    await sourceNamespace(app, { 'bkt-app': app });
    destinationNamespaces.push(app); // forceNamespaceCreation
    await src.core.createNamespacedConfigMap({
      namespace: app,
      body: { metadata: { name: 'settings' }, data: { colour: 'blue' } },
    });
  }
  worker = new WorkerProcess({
    taskQueue,
    namespace: `${ns},${nsAws},${nsGcp}`,
    logFile,
    args: [
      '--leader-election-namespace',
      ns,
      '--bucket-endpoint-overrides',
      [
        `s3.${REGION}.amazonaws.com=${regional.url}`,
        `s3.us-east-1.amazonaws.com=${plain.url}`,
        `storage.googleapis.com=${plain.url}`,
      ].join(','),
    ],
  });
  worker.start();
}, 180_000);

afterAll(async () => {
  for (const n of [ns, nsAws, nsGcp]) await deleteAllOurs(custom, n, 90_000).catch(() => undefined);
  await worker?.stop('SIGTERM');
  await Promise.all([regional?.stop(), plain?.stop()]);
  for (const n of sourceNamespaces) await src.core.deleteNamespace({ name: n }).catch(() => undefined);
  for (const n of destinationNamespaces) await dst.core.deleteNamespace({ name: n }).catch(() => undefined);
  for (const n of managementNamespaces) await mgmt.core.deleteNamespace({ name: n }).catch(() => undefined);
  // Unlabelled, so that no other LiveSynchronization selects them while they stay Terminating.
  for (const n of sourceNamespaces)
    await src.core
      .patchNamespace({ name: n, body: [{ op: 'replace', path: '/metadata/labels', value: {} }] } as never)
      .catch(() => undefined);
}, 240_000);

describe('generic Bucket region', () => {
  it('signs for spec.generic.region: the right region works, the default is refused naming the field', async () => {
    await createResource('Bucket', ns, 'right', {
      generic: {
        name: 'backups',
        endpoint: regional.host,
        useSSL: false,
        region: REGION,
        secretName: 'keys',
      },
    });
    await createResource('Bucket', ns, 'wrong', {
      generic: { name: 'backups', endpoint: regional.host, useSSL: false, secretName: 'keys' },
    });
    // The CRD keeps the field (an older CRD would prune it silently).
    expect((await getResource(custom, 'Bucket', ns, 'right'))?.spec).toMatchObject({
      generic: { region: REGION },
    });
    const right = await readyIs('Bucket', ns, 'right', 'True');
    expect(right.reason).toBe('Connected');
    const wrong = await readyIs('Bucket', ns, 'wrong', 'False');
    expect(wrong.reason).toBe('WrongRegion');
    expect(wrong.message).toBe(
      `bucket backups: spec.generic.region: the bucket's server expects region '${REGION}', requests are signed for 'us-east-1'; set spec.generic.region: ${REGION}`,
    );

    await createResource('LiveSynchronization', ns, 'to-wrong', liveSyncSpec('wrong', apps.right));
    const refused = await readyIs('LiveSynchronization', ns, 'to-wrong', 'False');
    expect(refused.reason).toBe('ReferenceNotReady');
    expect(refused.message).toContain('spec.config.bucketName');
    expect(refused.message).toContain('spec.generic.region');

    await createResource('LiveSynchronization', ns, 'to-right', liveSyncSpec('right', apps.right));
    await readyIs('LiveSynchronization', ns, 'to-right', 'True');
    const stored = await original(
      regional,
      'backups',
      `${ns}/to-right/core-v1-configmaps/${apps.right}.settings`,
    );
    expect(stored.metadata.name).toBe('settings');
    expect((stored as unknown as { data: Record<string, string> }).data).toEqual({ colour: 'blue' });
  }, 300_000);
});

describe('awsS3 and gcpCloudStorage variants (their hosts served by a local MinIO)', () => {
  it('awsS3 signs for awsS3.region at s3.<region>.amazonaws.com; gcpCloudStorage goes to storage.googleapis.com', async () => {
    await createResource('Bucket', ns, 'aws', {
      awsS3: { name: 'backups', region: REGION, secretName: 'keys' },
    });
    await mgmt.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'gcs-keys' },
        stringData: { accessKeyID: SAMPLE_KEYS.accessKey, secretAccessKey: SAMPLE_KEYS.secretKey },
      },
    });
    await createResource('Bucket', ns, 'gcs', {
      gcpCloudStorage: { name: 'dr-backups', secretName: 'gcs-keys' },
    });
    await readyIs('Bucket', ns, 'aws', 'True');
    await readyIs('Bucket', ns, 'gcs', 'True');
    await createResource('LiveSynchronization', ns, 'to-aws', liveSyncSpec('aws', apps.aws));
    await createResource('LiveSynchronization', ns, 'to-gcs', liveSyncSpec('gcs', apps.gcs));
    const viaAws = await original(
      regional,
      'backups',
      `${ns}/to-aws/core-v1-configmaps/${apps.aws}.settings`,
    );
    expect(viaAws.metadata.namespace).toBe(apps.aws);
    const viaGcs = await original(
      plain,
      'dr-backups',
      `${ns}/to-gcs/core-v1-configmaps/${apps.gcs}.settings`,
    );
    expect(viaGcs.metadata.namespace).toBe(apps.gcs);
  }, 300_000);
});

describe("the seed's 5.1.3.3 samples, applied unchanged", () => {
  /** A namespace the samples select (env=pre) in their source, with the objects they replicate, and its destination namespace. */
  async function application(name: string): Promise<void> {
    await mgmt.core.createNamespace({ body: { metadata: { name, labels: { env: 'pre' } } } });
    managementNamespaces.push(name);
    // The samples do not set forceNamespaceCreation: the standby's namespace exists, as it would.
    await dst.core.createNamespace({ body: { metadata: { name } } });
    destinationNamespaces.push(name);
    await mgmt.apps.createNamespacedDeployment({
      namespace: name,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      },
    });
    await mgmt.core.createNamespacedService({
      namespace: name,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
    });
  }

  async function unselect(name: string): Promise<void> {
    await mgmt.core.patchNamespace({
      name,
      body: [{ op: 'replace', path: '/metadata/labels', value: {} }],
    } as never);
  }

  it.each([
    ['aws', () => nsAws],
    ['gcp', () => nsGcp],
  ])(
    '%s: Secret, Bucket and LiveSynchronization write the originals to the bucket',
    async (provider, namespace) => {
      const n = namespace();
      const app = uniqueName(`bkt-pre-${provider}`);
      await application(app);
      for (const part of ['secret-bucket-credentials', 'bucket', 'livesynchronization-bucket'])
        await applySample(`5.1.3.3-${provider}-${part}.yaml`, n);
      expect((await getResource(custom, 'Bucket', n, 'gcp'))?.spec).toEqual(
        loadAllYaml(readFileSync(join(samplesDir, `5.1.3.3-${provider}-bucket.yaml`), 'utf8'))[0].spec,
      );
      await readyIs('Bucket', n, 'gcp', 'True');
      await readyIs('LiveSynchronization', n, 'livesynchronization-sample', 'True');
      const base = `${n}/livesynchronization-sample`;
      const deployment = await original(plain, 'dr-backups', `${base}/apps-v1-deployments/${app}.web`);
      expect((deployment as unknown as { spec: { replicas: number } }).spec.replicas).toBe(2); // the original
      await original(plain, 'dr-backups', `${base}/core-v1-services/${app}.web`);
      const copy = await eventually('the transformed copy in the destination', async () =>
        dst.apps.readNamespacedDeployment({ namespace: app, name: 'web' }).catch(() => undefined),
      );
      expect(copy.spec?.replicas).toBe(0); // the sample's transformation
      // Done: the next provider's sample selects env=pre too.
      await deleteAllOurs(custom, n, 90_000);
      await unselect(app);
      const left = (await mgmt.core.listNamespace({ labelSelector: 'env=pre' })).items as V1Namespace[];
      expect(left.map((x) => x.metadata?.name)).not.toContain(app);
    },
    300_000,
  );
});
