/**
 * Kubernetes Backup and restore through the bridge on the real stack (API servers, MinIO,
 * Temporal): a `kubernetes-objects-to-bucket` Backup of two namespaces of the source cluster
 * (Deployments, Services, ConfigMaps, Secrets, a custom resource), restored by
 * `bucket-to-kubernetes-objects` Synchronizations into a clean cluster and back into the wiped
 * source, compared object by object; renamed namespaces, existing objects, a corrupted object,
 * a partial backup, and the bad inputs of the issue.
 */
import { GetObjectCommand, PutObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { parseManifest, type BackupManifest } from '../../src/bucket/manifest.js';
import { AssetLoader } from '../../src/assets/load.js';
import { createLogger } from '../../src/logger.js';
import { kubernetesObjectsToBucket } from '../../src/plugins/kubernetes-objects-to-bucket/index.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import {
  cleanForDestination,
  type KubeObject,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  bucketClient,
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  createFullBucket,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const s3 = bucketClient();

const ns = uniqueName('backups');
const apps = [uniqueName('bk-a'), uniqueName('bk-b')]; // the source namespaces backed up
const group = `${uniqueName('g')}.example.com`; // the custom resource's group, unique per run
let orchestrator: Orchestrator;

type OurKind = 'Backup' | 'Synchronization';

async function create(kind: OurKind, name: string, spec: unknown) {
  return (await custom.createNamespacedCustomObject({
    ...target(kind, ns, ''),
    body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
  })) as Resource;
}

function finished(kind: OurKind, name: string, timeoutMs = 90_000): Promise<Resource> {
  return eventually(
    `${kind} ${name} to finish`,
    async () => {
      const r = await getResource(custom, kind, ns, name);
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    timeoutMs,
  );
}

const backupSpec = (namespaces: string[], basePath = 'k8s') => ({
  plugin: 'kubernetes-objects-to-bucket',
  config: {
    source: { kubernetesCluster: { name: 'source', namespaces } },
    destination: { bucket: { name: 'backups', basePath } },
  },
});

const restoreSpec = (backup: string, cluster: string, extra: Record<string, unknown> = {}) => ({
  plugin: 'bucket-to-kubernetes-objects',
  config: {
    source: { backup: { name: backup } },
    destination: { kubernetesCluster: { name: cluster } },
    ...extra,
  },
});

async function manifestOf(backup: Resource): Promise<BackupManifest> {
  const key = (backup.status?.report as { manifest: { key: string } }).manifest.key;
  const got = await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }));
  const parsed = parseManifest(await got.Body!.transformToString());
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.manifest;
}

const crdName = `widgets.${group}`;

/** Two namespaces with a Deployment, a Service, ConfigMaps, a Secret and a Widget each. */
async function populate(kc: typeof src): Promise<void> {
  const ext = kc.kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: crdName },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    },
  });
  await eventually('the Widget CRD to be served', async () => {
    const crd = await ext.readCustomResourceDefinition({ name: crdName });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  const widgets = kc.kc.makeApiClient(CustomObjectsApi);
  for (const namespace of apps) {
    await kc.core.createNamespace({ body: { metadata: { name: namespace, labels: { team: 'blue' } } } });
    await kc.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels: { app: 'web' }, annotations: { owner: 'team-blue' } },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
          },
        },
      },
    });
    await kc.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] },
      },
    });
    for (let i = 0; i < 5; i++)
      await kc.core.createNamespacedConfigMap({
        namespace,
        body: {
          metadata: { name: `settings-${i}`, labels: { i: String(i) } },
          data: { value: `${namespace}-${i}` },
        },
      });
    await kc.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'password' },
        type: 'Opaque',
        stringData: { password: `s3cret-${namespace}` },
      },
    });
    await widgets.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace,
      plural: 'widgets',
      body: {
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: 'gadget' },
        spec: { size: 7, tags: ['a', 'b'] },
      },
    });
  }
}

/** The objects of the test's types in `namespace`, cleaned, by `<kind>/<name>`: what a restore must reproduce. */
async function snapshot(
  kc: typeof src,
  namespace: string,
  mapped = namespace,
): Promise<Map<string, KubeObject>> {
  const api = KubernetesObjectApi.makeApiClient(kc.kc);
  const out = new Map<string, KubeObject>();
  const types = [
    ['apps/v1', 'Deployment'],
    ['v1', 'Service'],
    ['v1', 'ConfigMap'],
    ['v1', 'Secret'],
    [`${group}/v1`, 'Widget'],
  ];
  for (const [apiVersion, kind] of types) {
    const list = await api.list(apiVersion, kind, namespace);
    for (const item of list.items) {
      if (kind === 'ConfigMap' && item.metadata?.name === 'kube-root-ca.crt') continue;
      const clean = cleanForDestination({ ...item, apiVersion, kind } as KubeObject);
      clean.metadata = { ...clean.metadata, namespace: mapped };
      out.set(`${kind}/${item.metadata!.name}`, clean);
    }
  }
  return out;
}

/** Deletes the test's objects (not the namespaces: no namespace controller runs in the stack) and the CRD. */
async function wipe(kc: typeof src): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc.kc);
  for (const namespace of apps) {
    for (const [apiVersion, kind] of [
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
      ['v1', 'ConfigMap'],
      ['v1', 'Secret'],
      [`${group}/v1`, 'Widget'],
    ]) {
      const list = await api.list(apiVersion, kind, namespace);
      for (const item of list.items) await api.delete({ ...item, apiVersion, kind } as KubernetesObject);
    }
  }
  await kc.kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: crdName });
  await eventually('the Widget CRD to go', async () =>
    kc.kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: crdName })
      .then(
        () => false,
        () => true,
      ),
  );
}

let before: Map<string, KubeObject>[];

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt.core, ns);
  await createBucketAsset(custom, mgmt.core, ns);
  await populate(src);
  before = await Promise.all(apps.map((a) => snapshot(src, a)));
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('backups'),
    },
    management: await orchestratorKubeConfig(),
    log: createLogger({ level: 'silent' }),
    instance: 'backup-restore-test',
    namespaces: [ns],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: silent }) },
  });
});

afterAll(async () => {
  await deleteAllOurs(custom, ns, 120_000);
  await orchestrator?.shutdown();
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
  for (const c of [src, dst]) {
    for (const a of [...apps, `${apps[0]}-renamed`])
      await c.core.deleteNamespace({ name: a }).catch(() => undefined);
    await c.kc
      .makeApiClient(ApiextensionsV1Api)
      .deleteCustomResourceDefinition({ name: crdName })
      .catch(() => undefined);
  }
  s3.destroy();
});

describe('a Kubernetes backup restored', () => {
  let backup: Resource;

  it('backs up two namespaces: status names the manifest, which is Complete with a checksum per object', async () => {
    await create('Backup', 'nightly', backupSpec(apps));
    backup = await finished('Backup', 'nightly');
    expect(backup.status?.message).toMatch(/backed up \d+ objects/);
    expect(backup.status?.phase).toBe('Succeeded');
    expect(backup.status?.startTime).toBeDefined();
    expect(backup.status?.completionTime).toBeDefined();
    const report = backup.status?.report as {
      manifest: { bucket: string; key: string };
      state: string;
      items: number;
      bytes: number;
    };
    expect(report.state).toBe('Complete');
    expect(report.manifest.bucket).toBe('backups');
    expect(report.manifest.key).toMatch(
      new RegExp(`^k8s/_backups/${ns}/nightly/\\d{8}T\\d{6}Z/manifest\\.json$`),
    );
    const manifest = await manifestOf(backup);
    expect(manifest.state).toBe('Complete');
    expect(manifest.source).toMatchObject({ kind: 'KubernetesCluster', name: 'source', namespaces: apps });
    expect(manifest.source.serverVersion).toMatch(/^v1\.\d+/);
    // Per namespace: 1 deployment, 1 service, 5+1 configmaps (kube-root-ca.crt only with a controller), 1 secret, 1 widget.
    expect(manifest.counts['apps-v1-deployments'].items).toBe(2);
    expect(manifest.counts['core-v1-services'].items).toBe(2);
    expect(manifest.counts['core-v1-secrets'].items).toBeGreaterThanOrEqual(2);
    expect(manifest.counts[`${group}-v1-widgets`].items).toBe(2);
    expect(manifest.counts['core-v1-namespaces'].items).toBe(2);
    expect(manifest.counts['apiextensions.k8s.io-v1-customresourcedefinitions'].items).toBe(1);
    expect(manifest.counts['core-v1-events']).toBeUndefined();
    expect(manifest.totals.items).toBe(manifest.entries.length);
    expect(report.items).toBe(manifest.totals.items);
    expect(backup.status?.progress).toMatchObject({
      items: manifest.totals.items,
      bytes: manifest.totals.bytes,
    });
    for (const e of manifest.entries) expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('restores into a clean cluster: every object equal in content, labels and annotations, the CRD first', async () => {
    await create('Synchronization', 'restore-dst', restoreSpec('nightly', 'destination'));
    const done = await finished('Synchronization', 'restore-dst');
    expect(done.status?.message).toMatch(/0 failed$/);
    expect(done.status?.phase).toBe('Succeeded');
    for (const [i, a] of apps.entries()) {
      const after = await snapshot(dst, a);
      expect([...after.keys()].sort()).toEqual([...before[i].keys()].sort());
      for (const [key, obj] of before[i]) expect(after.get(key)).toEqual(obj);
    }
    const nsObj = await dst.core.readNamespace({ name: apps[0] });
    expect(nsObj.metadata?.labels?.team).toBe('blue');
    // A Service gets a new cluster IP from its new cluster, not the backup's.
    const [srcSvc, dstSvc] = await Promise.all([
      src.core.readNamespacedService({ namespace: apps[0], name: 'web' }),
      dst.core.readNamespacedService({ namespace: apps[0], name: 'web' }),
    ]);
    expect(dstSvc.spec?.clusterIP).toBeDefined();
    expect(dstSvc.metadata?.uid).not.toBe(srcSvc.metadata?.uid);
  });

  it('restores into the wiped source, and a second restore skips everything that exists', async () => {
    await wipe(src);
    await create('Synchronization', 'restore-src', restoreSpec('nightly', 'source'));
    const done = await finished('Synchronization', 'restore-src');
    expect(done.status?.phase).toBe('Succeeded');
    for (const [i, a] of apps.entries()) expect(await snapshot(src, a)).toEqual(before[i]);
    // The namespaces were still there: skipped, not failed.
    const report = done.status?.report as {
      totals: Record<string, number>;
      types: Record<string, Record<string, number>>;
    };
    expect(report.types['core-v1-namespaces']).toMatchObject({ skipped: 2, failed: 0 });

    await create('Synchronization', 'restore-src-again', restoreSpec('nightly', 'source'));
    const again = await finished('Synchronization', 'restore-src-again');
    expect(again.status?.phase).toBe('Succeeded');
    const totals = (again.status?.report as { totals: Record<string, number> }).totals;
    expect(totals).toMatchObject({ created: 0, updated: 0, failed: 0 });
    expect(totals.skipped).toBeGreaterThan(10);
  });

  it('never overwrites an object that exists unless existingResourcePolicy is update', async () => {
    const edited = await src.core.readNamespacedConfigMap({ namespace: apps[0], name: 'settings-0' });
    await src.core.replaceNamespacedConfigMap({
      namespace: apps[0],
      name: 'settings-0',
      body: { ...edited, data: { value: 'changed by hand' } },
    });
    await create(
      'Synchronization',
      'restore-none',
      restoreSpec('nightly', 'source', { namespaces: [apps[0]] }),
    );
    expect((await finished('Synchronization', 'restore-none')).status?.phase).toBe('Succeeded');
    const kept = await src.core.readNamespacedConfigMap({ namespace: apps[0], name: 'settings-0' });
    expect(kept.data).toEqual({ value: 'changed by hand' });

    await create(
      'Synchronization',
      'restore-update',
      restoreSpec('nightly', 'source', { namespaces: [apps[0]], existingResourcePolicy: 'update' }),
    );
    const updated = await finished('Synchronization', 'restore-update');
    expect(updated.status?.phase).toBe('Succeeded');
    expect((updated.status?.report as { totals: Record<string, number> }).totals.updated).toBeGreaterThan(0);
    const back = await src.core.readNamespacedConfigMap({ namespace: apps[0], name: 'settings-0' });
    expect(back.data).toEqual({ value: `${apps[0]}-0` });
  });

  it('restores one namespace into a renamed one, from the bucket path alone', async () => {
    const renamed = `${apps[0]}-renamed`;
    const key = (backup.status?.report as { manifest: { key: string } }).manifest.key;
    await create('Synchronization', 'restore-renamed', {
      plugin: 'bucket-to-kubernetes-objects',
      config: {
        source: { bucket: { name: 'backups', path: key.replace(/manifest\.json$/, '') } },
        destination: { kubernetesCluster: { name: 'destination' } },
        namespaces: [apps[0]],
        namespaceMapping: { [apps[0]]: renamed },
      },
    });
    const done = await finished('Synchronization', 'restore-renamed');
    expect(done.status?.phase).toBe('Succeeded');
    expect(await snapshot(dst, renamed)).toEqual(await snapshot(src, apps[0], renamed));
    // Only the namespace asked for.
    const report = done.status?.report as { types: Record<string, Record<string, number>> };
    expect(report.types['core-v1-namespaces']).toMatchObject({ created: 1 });
  });

  it('catches a corrupted object by its checksum: reported failed by name, the rest restored', async () => {
    const manifest = await manifestOf(backup);
    const entry = manifest.entries.find((e) => e.path === `core-v1-configmaps/${apps[1]}.settings-3`)!;
    const prefix = (backup.status?.report as { manifest: { key: string } }).manifest.key.replace(
      /manifest\.json$/,
      '',
    );
    const key = `${prefix}${entry.path}`;
    const original = await (
      await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }))
    ).Body!.transformToString();
    await s3.send(
      new PutObjectCommand({
        Bucket: env.S3_BUCKET,
        Key: key,
        Body: original.replace(`${apps[1]}-3`, 'tampered'),
      }),
    );
    await dst.core.deleteNamespacedConfigMap({ namespace: apps[1], name: 'settings-3' });
    await dst.core.deleteNamespacedConfigMap({ namespace: apps[1], name: 'settings-4' });

    await create(
      'Synchronization',
      'restore-corrupt',
      restoreSpec('nightly', 'destination', { namespaces: [apps[1]] }),
    );
    const done = await finished('Synchronization', 'restore-corrupt');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('RestoreIncomplete');
    expect(done.status?.message).toContain(`core-v1-configmaps ${apps[1]}/settings-3`);
    expect(done.status?.message).toContain('does not match its checksum');
    const report = done.status?.report as {
      failed: { object: string; error: string }[];
      totals: Record<string, number>;
    };
    expect(report.failed).toHaveLength(1);
    expect(report.totals).toMatchObject({ failed: 1, created: 1 });
    // The tampered content never reached the cluster; its neighbour came back.
    await expect(
      dst.core.readNamespacedConfigMap({ namespace: apps[1], name: 'settings-3' }),
    ).rejects.toThrow();
    expect((await dst.core.readNamespacedConfigMap({ namespace: apps[1], name: 'settings-4' })).data).toEqual(
      {
        value: `${apps[1]}-4`,
      },
    );
  });
});

describe('Backup bad input', () => {
  it('a namespace that does not exist: Failed, naming the field', async () => {
    await create('Backup', 'no-such-ns', backupSpec([apps[0], 'no-such-namespace']));
    const done = await finished('Backup', 'no-such-ns');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('NamespaceNotFound');
    expect(done.status?.message).toContain(
      'spec.config.source.kubernetesCluster.namespaces[1]: namespace no-such-namespace does not exist',
    );
  });

  it('a Bucket that does not exist: Failed, naming the field', async () => {
    await create('Backup', 'no-bucket', {
      ...backupSpec(apps),
      config: { ...backupSpec(apps).config, destination: { bucket: { name: 'nowhere' } } },
    });
    const done = await finished('Backup', 'no-bucket');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.message).toContain('spec.config.destination.bucket.name');
    expect(done.status?.message).toContain('nowhere');
  });

  it('a bucket that is full: Failed BucketWriteFailed, naming the bucket and the S3 error', async () => {
    const full = uniqueName('full');
    await createFullBucket(full);
    await custom.createNamespacedCustomObject({
      ...target('Bucket', ns, 'full'),
      body: {
        apiVersion: 'assets.astronetes.io/v1alpha1',
        kind: 'Bucket',
        metadata: { name: 'full' },
        spec: {
          generic: {
            name: full,
            endpoint: env.S3_ENDPOINT.replace(/^https?:\/\//, ''),
            useSSL: false,
            secretName: 'bucket-credentials',
          },
        },
      },
    });
    await create('Backup', 'refused', {
      ...backupSpec(apps),
      config: { ...backupSpec(apps).config, destination: { bucket: { name: 'full' } } },
    });
    const done = await finished('Backup', 'refused');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BucketWriteFailed');
    expect(done.status?.message).toContain(
      `spec.config.destination.bucket.name: Bucket ${ns}/full (S3 bucket ${full})`,
    );
    expect(done.status?.message).toContain('XMinioAdminBucketQuotaExceeded');
  });

  it('a restore of a backup that is not Complete: Failed BackupIncomplete; of one that does not exist: BackupNotFound', async () => {
    const key = `partial-${ns}/_backups/${ns}/x/20260101T000000Z/`;
    const manifest: Partial<BackupManifest> = {
      format: 'resiliency-orchestrator.backup/v1',
      plugin: 'kubernetes-objects-to-bucket',
      state: 'Partial',
      reason: 'cancelled: the Backup was deleted while it ran',
      run: '20260101T000000Z',
      entries: [],
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: env.S3_BUCKET,
        Key: `${key}manifest.json`,
        Body: JSON.stringify(manifest),
      }),
    );
    await create('Synchronization', 'restore-partial', {
      plugin: 'bucket-to-kubernetes-objects',
      config: {
        source: { bucket: { name: 'backups', path: key } },
        destination: { kubernetesCluster: { name: 'destination' } },
      },
    });
    const partial = await finished('Synchronization', 'restore-partial');
    expect(partial.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackupIncomplete');
    expect(partial.status?.message).toContain('is partial (cancelled: the Backup was deleted while it ran)');

    await create('Synchronization', 'restore-missing', restoreSpec('no-such-backup', 'destination'));
    const missing = await finished('Synchronization', 'restore-missing');
    expect(missing.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackupNotFound');
    expect(missing.status?.message).toContain('spec.config.source.backup.name: Backup');
  });

  it('a Backup cancelled halfway through (its resource deleted) stops, and its manifest says partial; a resumed run skips what is there', async () => {
    const big = uniqueName('bk-big');
    await src.core.createNamespace({ body: { metadata: { name: big } } });
    try {
      const objects = Array.from({ length: 1500 }, (_, i) => i);
      for (let at = 0; at < objects.length; at += 50)
        await Promise.all(
          objects.slice(at, at + 50).map((i) =>
            src.core.createNamespacedConfigMap({
              namespace: big,
              body: { metadata: { name: `cm-${i}` }, data: { payload: 'x'.repeat(2000) } },
            }),
          ),
        );
      // The plugin as runPlugin calls it, with the real assets; the signal is what a deletion aborts.
      const stop = new AbortController();
      let details: unknown;
      const run = (checkpoint?: unknown) => ({
        ref: { kind: 'Backup' as const, namespace: ns, name: 'cancelled', uid: 'uid-1' },
        config: backupSpec([big], `cancelled-${ns}`).config,
        assets: new AssetLoader(mgmt.kc),
        home: mgmt.kc,
        log: createLogger({ level: 'silent' }),
        heartbeat: (d: unknown) => (details = d),
        checkpoint,
        progress: () => undefined,
        report: () => undefined,
        dryRun: false,
        signal: stop.signal,
      });
      const first = kubernetesObjectsToBucket.execute!(run() as never);
      const count = async () =>
        (
          await s3.send(
            new ListObjectsV2Command({ Bucket: env.S3_BUCKET, Prefix: `cancelled-${ns}/`, MaxKeys: 200 }),
          )
        ).KeyCount ?? 0;
      await eventually('the Backup to write its first objects', async () => (await count()) >= 100, 60_000);
      stop.abort(new Error('deleted'));
      await expect(first).rejects.toThrow();
      const runName = (details as { run: string }).run;
      const manifestKey = `cancelled-${ns}/_backups/${ns}/cancelled/${runName}/manifest.json`;
      const read = async () => {
        const text = await (
          await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: manifestKey }))
        ).Body!.transformToString();
        const parsed = parseManifest(text);
        if (!parsed.ok) throw new Error(parsed.problem);
        return parsed.manifest;
      };
      const partial = await read();
      expect(partial.state).toBe('Partial');
      expect(partial.reason).toBe('cancelled: the Backup was deleted while it ran');
      expect(partial.entries.length).toBeGreaterThan(0);
      expect(partial.entries.length).toBeLessThan(1500);

      // A retried attempt (a lost worker) resumes the same run from its checkpoint.
      const resumed = await kubernetesObjectsToBucket.execute!({
        ...run(details),
        signal: new AbortController().signal,
      } as never);
      expect(resumed.progress?.alreadyInBucket).toBeGreaterThanOrEqual(partial.entries.length - 16);
      const complete = await read();
      expect(complete.state).toBe('Complete');
      expect(complete.counts['core-v1-configmaps'].items).toBe(1500);
    } finally {
      // No namespace controller runs in the stack: empty the namespace before deleting it.
      await src.core.deleteCollectionNamespacedConfigMap({ namespace: big }).catch(() => undefined);
      await src.core.deleteNamespace({ name: big }).catch(() => undefined);
    }
  });
});
