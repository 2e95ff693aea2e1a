/**
 * Drift, on the real stack: every run starts by comparing source (filtered, transformed),
 * destination and bucket; a user asks for a comparison now with the compare annotation. What
 * differs is counted per resource in `status.replication.resources[].drift`, named in an Event and
 * in the log, and repaired: hand edits to a copy reverted, a deleted copy written again, a copy no
 * entry selects pruned, a missing or stale bucket original uploaded again. A clean comparison
 * (Deployments and Services included: what the destination adds itself is not drift) records
 * `lastCleanComparisonTime`.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { objectKey } from '../../src/bucket/layout.js';
import {
  OWNER_ANNOTATION,
  OWNER_LABEL,
  ownerLabelValue,
  SOURCE_VERSION_ANNOTATION,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { COMPARE_ANNOTATION } from '../../src/plugins/kubernetes-objects-to-kubernetes/drift.js';
import type { ReplicationReport } from '../../src/plugins/kubernetes-objects-to-kubernetes/run.js';
import {
  bucketClient,
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { orchestratorKubeConfig } from './rbac.js';


const env = stackEnv();
const { kc, custom } = managementClients();
const mgmtCore = kc.makeApiClient(CoreV1Api);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const s3 = bucketClient();
const ns = uniqueName('drift');
const appNs = uniqueName('drift-app');
const owner = { namespace: ns, name: 'pre' };
const CM = { group: '', version: 'v1', resource: 'configmaps' };
let orchestrator: Orchestrator;

async function replication(): Promise<ReplicationReport | undefined> {
  const ls = await getResource(custom, 'LiveSynchronization', ns, 'pre');
  return ls?.status?.replication as ReplicationReport | undefined;
}

/** Sets the compare annotation to `value` and waits until status says the comparison answered it. */
async function compareNow(value: string): Promise<ReplicationReport> {
  await custom.patchNamespacedCustomObject(
    {
      ...target('LiveSynchronization', ns, 'pre'),
      body: { metadata: { annotations: { [COMPARE_ANNOTATION]: value } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  return eventually(
    `status answering comparison ${value}`,
    async () => {
      const r = await replication();
      // Every type compared after the request (lastComparisonTime is the oldest type's).
      return r?.lastComparisonRequest === value &&
        r.lastComparisonTime &&
        Date.parse(r.lastComparisonTime) > requestedAt[value]
        ? r
        : undefined;
    },
    60_000,
  );
}
const requestedAt: Record<string, number> = {};

const readCopy = (name: string) =>
  dst.core.readNamespacedConfigMap({ namespace: appNs, name }).catch(() => undefined);
const originalKey = (name: string) => objectKey(owner, CM, { namespace: appNs, name });

beforeAll(async () => {
  await mgmtCore.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmtCore, ns);
  await createBucketAsset(custom, mgmtCore, ns);
  await src.core.createNamespace({ body: { metadata: { name: appNs } } });
  for (const n of [1, 2, 3, 4, 5])
    await src.core.createNamespacedConfigMap({
      namespace: appNs,
      body: { metadata: { name: `cm-${n}` }, data: { value: `v${n}` } },
    });
  await src.apps.createNamespacedDeployment({
    namespace: appNs,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80 }] }] },
        },
      },
    },
  });
  await src.core.createNamespacedService({
    namespace: appNs,
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
  });
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('drift'),
    },
    management: await orchestratorKubeConfig(),
    log: createLogger({ level: (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent' }),
    instance: 'drift-test',
    namespaces: [ns],
    recheckSeconds: 2,
  });
  const only = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': appNs } } };
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name: 'pre', namespace: ns },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          bucketName: 'backups',
          replication: {
            forceNamespaceCreation: true,
            resyncPeriod: '1h', // only the first run's comparison, and the ones asked for
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { ...only, nameSelector: { regex: ['^cm-'] } },
              },
              {
                group: 'apps',
                version: 'v1',
                resource: 'deployments',
                filters: only,
                transformation: { patch: [{ op: 'replace', path: '/spec/replicas', value: 0 }] },
              },
              { version: 'v1', resource: 'services', filters: only },
            ],
          },
        },
      },
    },
  });
});

afterAll(async () => {
  await deleteAllOurs(custom, ns);
  await orchestrator?.shutdown();
  for (const c of [src, dst]) await c.core.deleteNamespace({ name: appNs }).catch(() => undefined);
  s3.destroy();
});

it('counts what the first comparison finds missing, then writes it', async () => {
  const r = await eventually(
    'the first comparison in status',
    async () => {
      const rep = await replication();
      return rep?.lastComparisonTime && rep.resources.every((x) => x.drift) ? rep : undefined;
    },
    60_000,
  );
  const [configmaps, deployments, services] = r.resources;
  expect(configmaps.drift).toMatchObject({ missing: 5, stale: 0, extra: 0, bucketMissing: 5 });
  expect(deployments.drift).toMatchObject({ missing: 1, bucketMissing: 1 });
  expect(services.drift).toMatchObject({ missing: 1, bucketMissing: 1 });
  for (const n of [1, 2, 3, 4, 5]) await eventually(`cm-${n} copied`, () => readCopy(`cm-${n}`));
});

it('finds nothing when asked again: what the destination adds to a Deployment or a Service is not drift', async () => {
  await eventually('every write done', async () => {
    const rep = await replication();
    return rep?.resources.every((x) => x.inSync > 0 && x.pending === 0) ? rep : undefined;
  });
  requestedAt.clean = Date.now();
  const r = await compareNow('clean');
  for (const res of r.resources)
    expect({ resource: res.resource, ...res.drift, comparedAt: undefined }).toEqual({
      resource: res.resource,
      missing: 0,
      extra: 0,
      outdated: 0,
      stale: 0,
      bucketMissing: 0,
      bucketStale: 0,
      bucketExtra: 0,
      reverted: 0,
      comparedAt: undefined,
    });
  expect(r.lastCleanComparisonTime).toBe(r.lastComparisonTime);
});

it('finds hand edits, deleted copies, stray copies and bucket damage, names them, and repairs them', async () => {
  const damagedAt = new Date().toISOString();
  // Hand edits in the standby: a value changed, a key added; a copy deleted; a stray copy that
  // claims to be ours for an object the source does not have.
  await dst.core.patchNamespacedConfigMap(
    { namespace: appNs, name: 'cm-1', body: { data: { value: 'edited by hand' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await dst.core.patchNamespacedConfigMap(
    { namespace: appNs, name: 'cm-2', body: { data: { added: 'by hand' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await dst.core.deleteNamespacedConfigMap({ namespace: appNs, name: 'cm-3' });
  await dst.core.createNamespacedConfigMap({
    namespace: appNs,
    body: {
      metadata: {
        name: 'cm-stray',
        labels: { [OWNER_LABEL]: ownerLabelValue(owner) },
        annotations: { [OWNER_ANNOTATION]: `${ns}/pre`, [SOURCE_VERSION_ANNOTATION]: '1' },
      },
      data: { value: 'stray' },
    },
  });
  // The bucket: one original gone, one overwritten.
  await s3.send(new DeleteObjectCommand({ Bucket: env.S3_BUCKET, Key: originalKey('cm-4') }));
  await s3.send(
    new PutObjectCommand({ Bucket: env.S3_BUCKET, Key: originalKey('cm-5'), Body: '{"not":"the source"}' }),
  );

  requestedAt.damaged = Date.now();
  const r = await compareNow('damaged');
  const configmaps = r.resources[0];
  expect(configmaps.drift).toMatchObject({
    missing: 1,
    extra: 1,
    stale: 2,
    outdated: 0,
    bucketMissing: 1,
    bucketStale: 1,
  });
  expect(r.lastCleanComparisonTime! < damagedAt).toBe(true); // not clean: the last clean one stays

  // Repaired: the edits reverted (the added key removed), the copy back, the stray one pruned.
  await eventually('cm-1 reverted', async () => (await readCopy('cm-1'))?.data?.value === 'v1');
  await eventually('cm-2 reverted', async () => {
    const c = await readCopy('cm-2');
    return c && JSON.stringify(c.data) === JSON.stringify({ value: 'v2' });
  });
  await eventually('cm-3 written again', () => readCopy('cm-3'));
  await eventually('cm-stray pruned', async () => (await readCopy('cm-stray')) === undefined);
  for (const name of ['cm-4', 'cm-5'])
    await eventually(`the original of ${name} uploaded again`, async () => {
      const got = await s3
        .send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: originalKey(name) }))
        .catch(() => undefined);
      const body = got && ((await got.Body!.transformToString()) as string);
      return body && (JSON.parse(body) as { data?: { value?: string } }).data?.value === `v${name.slice(3)}`;
    });
  const reverted = await eventually('reverted counted', async () => {
    const rep = await replication();
    return rep?.resources[0].drift?.reverted === 2 ? rep : undefined;
  });
  expect(reverted.resources[0].drift?.reverted).toBe(2);

  // An Event on the LiveSynchronization names the drifted objects.
  const event = await eventually('a DriftDetected Event', async () => {
    const list = await mgmtCore.listNamespacedEvent({ namespace: ns });
    return list.items.find((e) => e.reason === 'DriftDetected' && e.message?.includes('stale'));
  });
  expect(event.type).toBe('Warning');
  expect(event.involvedObject.name).toBe('pre');
  expect(event.message).toContain(`${appNs}/cm-1 (stale at /data/value)`);
  expect(event.message).toContain(`${appNs}/cm-stray (extra)`);

  // Asked once more: clean, and the time of the last clean comparison moves on.
  requestedAt.repaired = Date.now();
  const again = await compareNow('repaired');
  expect(again.resources[0].drift).toMatchObject({
    missing: 0,
    extra: 0,
    stale: 0,
    bucketMissing: 0,
    bucketStale: 0,
  });
  expect(again.lastCleanComparisonTime! > damagedAt).toBe(true);
});
