/**
 * The seed's log lines (section 5.1.4.2) on a real replication: an orchestrator in-process, with
 * its log lines captured, runs a LiveSynchronization with a bucket between the stack's clusters.
 * The source gets objects created, updated and deleted, a resync runs, and every `msg` string such
 * a run produces must appear, each line with the fields the seed gives it: the cluster it acted on
 * (`sourceCluster` or `destinationCluster`), `bucket` and `bucketObject` and no cluster field on
 * bucket lines, `event`, `sourceObject` and `lastUpdate` on object lines, `oldSourceObject` on
 * updates only. No line carries a Secret's data.
 */
import { Writable } from 'node:stream';
import { CoreV1Api } from '@kubernetes/client-node';
import { API_VERSION } from '../../src/api/kinds.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { AUDIT_ANNOTATIONS } from '../../src/webhook/audit.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { kc, custom } = managementClients();
const mgmtCore = kc.makeApiClient(CoreV1Api);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);

const ns = uniqueName('seedlogs');
const appNs = uniqueName('sl-app'); // absent from the destination: created there (forced)
const appNs2 = uniqueName('sl-app2'); // present in the destination: read
const secretValue = uniqueName('sl-secret-value');
const NAME = 'logged';
const raw: string[] = [];
let orchestrator: Orchestrator;

type Line = Record<string, unknown> & { msg: string };
const lines = (): Line[] => raw.map((l) => JSON.parse(l) as Line);
/** Lines of this test's LiveSynchronization (other suites share nothing with this orchestrator, but be exact). */
const ours = (): Line[] =>
  lines().filter((l) => (l.liveSynchronization as { namespace?: string })?.namespace === ns);

const SOURCE = { required: ['sourceCluster'], forbidden: ['destinationCluster', 'bucket', 'bucketObject'] };
const DESTINATION = {
  required: ['destinationCluster'],
  forbidden: ['sourceCluster', 'bucket', 'bucketObject'],
};
const BUCKET = { required: ['bucket', 'bucketObject'], forbidden: ['sourceCluster', 'destinationCluster'] };
const OBJECT = ['event', 'sourceObject', 'lastUpdate'];

/** Every seed msg string this run produces → the fields its lines must and must not have. */
const EXPECTED: Record<string, { required: string[]; forbidden: string[] }> = {
  'reading resources for group version': SOURCE,
  'group resource version found': SOURCE,
  'resource group version not found': SOURCE,
  'listing objects in cluster': { required: [], forbidden: ['bucket', 'bucketObject'] },
  'listed objects in cluster': { required: ['count'], forbidden: ['bucket', 'bucketObject'] },
  'list objects not found in cluster': SOURCE,
  'object read from cluster': { ...SOURCE, required: [...SOURCE.required, ...OBJECT] },
  'object not found in cluster': { ...SOURCE, required: [...SOURCE.required, ...OBJECT] },
  'reading namespace from cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, 'destinationObject'],
  },
  'namespace read from cluster': { ...DESTINATION, required: [...DESTINATION.required, 'destinationObject'] },
  'namespace not found in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, 'destinationObject'],
  },
  'creating namespace from cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, 'destinationObject'],
  },
  'namespace created in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, 'destinationObject'],
  },
  'creating object in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'object created in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'updating object in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'object updated in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'deleting object in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'object deleted in cluster': {
    ...DESTINATION,
    required: [...DESTINATION.required, ...OBJECT, 'destinationObject'],
  },
  'uploading object in bucket': { ...BUCKET, required: [...BUCKET.required, ...OBJECT] },
  'object uploaded in bucket': { ...BUCKET, required: [...BUCKET.required, ...OBJECT] },
  'deleting object from bucket': { ...BUCKET, required: [...BUCKET.required, ...OBJECT] },
  'object deleted from bucket': { ...BUCKET, required: [...BUCKET.required, ...OBJECT] },
};

async function configMap(namespace: string, name: string, v: string): Promise<void> {
  await src.core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { v } } });
}

beforeAll(async () => {
  await mgmtCore.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmtCore, ns);
  await createBucketAsset(custom, mgmtCore, ns);
  for (const n of [appNs, appNs2])
    await src.core.createNamespace({ body: { metadata: { name: n, labels: { 'seed-logs': ns } } } });
  await dst.core.createNamespace({ body: { metadata: { name: appNs2 } } });
  await configMap(appNs, 'cm-1', '1');
  await configMap(appNs, 'cm-2', '1');
  await configMap(appNs2, 'cm-3', '1');
  await src.core.createNamespacedSecret({
    namespace: appNs,
    body: { metadata: { name: 'sl-secret' }, stringData: { token: secretValue } },
  });

  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('seedlogs'),
    },
    management: await orchestratorKubeConfig(),
    log: createLogger({
      level: 'debug',
      process: 'orchestrator',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          raw.push(...chunk.toString().split('\n').filter(Boolean));
          done();
        },
      }),
    }),
    instance: 'seed-logs-test',
    namespaces: [ns],
    recheckSeconds: 2,
  });
  const namespaceSelector = { matchLabels: { 'seed-logs': ns } };
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'LiveSynchronization',
      metadata: {
        name: NAME,
        // As the audit webhook writes them (it overwrites these with the real user where installed).
        annotations: {
          [AUDIT_ANNOTATIONS.time]: '2026-01-02T03:04:05.000Z',
          [AUDIT_ANNOTATIONS.userUid]: '165d3e9f-04f4-418e-863f-07203389b51e',
          [AUDIT_ANNOTATIONS.username]: 'kubernetes-admin',
        },
      },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          bucketName: 'backups',
          replication: {
            forceNamespaceCreation: true,
            resyncPeriod: '10s',
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector, nameSelector: { regex: ['^cm-'] } },
              },
              {
                version: 'v1',
                resource: 'secrets',
                filters: { namespaceSelector, nameSelector: { regex: ['^sl-'] } },
              },
              // A label nothing has: its source list is empty.
              {
                group: 'apps',
                version: 'v1',
                resource: 'deployments',
                filters: { selector: { matchLabels: { none: ns } } },
              },
              // A type the source does not serve.
              { group: 'example.com', version: 'v1', resource: 'widgets' },
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
  await mgmtCore.deleteNamespace({ name: ns }).catch(() => undefined);
  for (const c of [src, dst])
    for (const n of [appNs, appNs2]) await c.core.deleteNamespace({ name: n }).catch(() => undefined);
});

const has =
  (msg: string, where: (l: Line) => boolean = () => true) =>
  () =>
    ours().some((l) => l.msg === msg && where(l));
const named = (name: string) => (l: Line) => (l.sourceObject as { name?: string })?.name === name;

describe('the seed log lines of a real replication', () => {
  it('logs the initial sync, the source changes and a resync, each line with its seed fields', async () => {
    await eventually(
      'the initial sync',
      async () => has('object created in cluster', named('cm-3'))(),
      90_000,
    );
    // Create, update and delete at the source.
    await configMap(appNs, 'cm-new', '1');
    await src.core.patchNamespacedConfigMap({
      namespace: appNs,
      name: 'cm-1',
      body: [{ op: 'replace', path: '/data/v', value: '2' }],
    });
    await src.core.deleteNamespacedConfigMap({ namespace: appNs, name: 'cm-2' });
    await eventually(
      'the create, update and delete replicated',
      async () =>
        has('object created in cluster', named('cm-new'))() &&
        has('object updated in cluster', named('cm-1'))() &&
        has('object deleted from bucket', named('cm-2'))(),
      60_000,
    );
    // A resync: the next run lists both sides again.
    const resyncs = () => ours().filter((l) => l.msg === 'resync done').length;
    const before = resyncs();
    await eventually('a resync', async () => resyncs() > before, 60_000);

    const all = ours();
    for (const [msg, rule] of Object.entries(EXPECTED)) {
      const found = all.filter((l) => l.msg === msg);
      expect(found.length > 0 ? msg : `${msg}: never logged`).toBe(msg);
      for (const line of found) {
        const missing = ['level', 'timestamp', 'process', ...rule.required].filter(
          (f) => line[f] === undefined,
        );
        const extra = rule.forbidden.filter((f) => line[f] !== undefined);
        expect({ msg, missing, extra }).toEqual({ msg, missing: [], extra: [] });
      }
    }
    // oldSourceObject on updates only, with the version the copy was written from.
    for (const line of all.filter((l) => 'event' in l)) {
      const type = (line.event as { type: string }).type;
      expect([line.msg, type, 'oldSourceObject' in line]).toEqual([line.msg, type, type === 'update']);
    }
    const update = all.find((l) => l.msg === 'object updated in cluster' && named('cm-1')(l))!;
    const [now, old] = [update.sourceObject, update.oldSourceObject] as {
      resourceVersion: string;
      name: string;
    }[];
    expect(old.name).toBe('cm-1');
    expect(Number(old.resourceVersion)).toBeLessThan(Number(now.resourceVersion));
    expect(update.sourceObject).toMatchObject({
      apiGroup: '',
      apiVersion: 'v1',
      resource: 'configmaps',
      namespace: appNs,
    });
    // The seed's field shapes: the clusters, the bucket and its object path, the audit info.
    expect(update.destinationCluster).toEqual({ name: 'destination', namespace: ns });
    expect(all.find((l) => l.msg === 'object read from cluster')!.sourceCluster).toEqual({
      name: 'source',
      namespace: ns,
    });
    const upload = all.find((l) => l.msg === 'object uploaded in bucket' && named('cm-1')(l))!;
    expect(upload.bucket).toMatchObject({ name: 'backups', namespace: ns, bucketName: env.S3_BUCKET });
    expect(upload.bucketObject).toEqual({ path: `${ns}/${NAME}/core-v1-configmaps/${appNs}.cm-1` });
    for (const l of all.filter((x) => 'lastUpdate' in x)) {
      const u = l.lastUpdate as Record<string, string>;
      for (const f of ['time', 'userUID', 'username'])
        expect(typeof u[f] === 'string' && u[f].length > 0).toBe(true);
    }
    // The namespaces: appNs was created in the destination, appNs2 was there already.
    const nsLine = (msg: string) => all.find((l) => l.msg === msg)!.destinationObject as { name: string };
    expect(nsLine('namespace created in cluster').name).toBe(appNs);
    expect(
      all.some(
        (l) =>
          l.msg === 'namespace read from cluster' &&
          (l.destinationObject as { name: string }).name === appNs2,
      ),
    ).toBe(true);
    // The source delete: the object is gone from the source, then its copy and its original.
    expect(has('object not found in cluster', named('cm-2'))()).toBe(true);
    expect(has('object deleted in cluster', named('cm-2'))()).toBe(true);
    expect(all.find((l) => l.msg === 'resource group version not found')!.resource).toMatchObject({
      apiGroup: 'example.com',
    });
    // Levels: intent lines debug, outcomes info, per the seed's samples.
    expect(all.find((l) => l.msg === 'creating object in cluster')!.level).toBe('debug');
    expect(all.find((l) => l.msg === 'object uploaded in bucket')!.level).toBe('info');
  });

  it('logs one process key per line and no Secret data', () => {
    expect(raw.length).toBeGreaterThan(50);
    for (const line of raw) expect(line.match(/"process":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(ours().some((l) => named('sl-secret')(l) && l.msg === 'object created in cluster')).toBe(true);
    const text = raw.join('\n');
    for (const v of [secretValue, Buffer.from(secretValue).toString('base64')])
      expect(text.includes(v)).toBe(false);
  });
});
