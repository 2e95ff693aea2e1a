/**
 * The disaster drill, in the 3-cluster architecture: a LiveSynchronization (orchestrator in the
 * management cluster) replicates Deployments with replicas 0, keeps their originals in the bucket
 * and writes its recovery Task (fromOriginal) into the destination cluster. Then the disaster:
 * the management orchestrator is gone and the source and management API servers are stopped. A
 * second orchestrator whose only cluster is the destination (its own task queue) runs a TaskRun
 * applied there: every Deployment comes back as the source had it, including one deleted in the
 * destination, and the run reports its RTO. A dry run first changes nothing and names what the
 * real run restores. The API servers are started again afterwards.
 */
import { Writable } from 'node:stream';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
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
import { control } from '../../tools/stack/stack.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const dstKc = new KubeConfig();
dstKc.loadFromFile(env.DESTINATION_KUBECONFIG);
const dstCustom = dstKc.makeApiClient(CustomObjectsApi);
const ns = uniqueName('restore'); // the LiveSynchronization's namespace, in management and destination
const apps = uniqueName('apps'); // the replicated namespace
const NAMES = ['web', 'api', 'worker'];
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
let management: Orchestrator | undefined;
let recovery: Orchestrator;
let bundle: { code: string };
const managementQueue = uniqueName('restore-mgmt');

/** The recovery orchestrator's log lines, for the seed's bucket and read lines (5.1.4.2). */
const recoveryLines: (Record<string, unknown> & { msg: string })[] = [];

async function orchestrator(
  kc: KubeConfig,
  name: string,
  taskQueue: string,
  log = createLogger({ level: 'silent' }),
): Promise<Orchestrator> {
  return startOrchestrator({
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE, taskQueue },
    management: kc,
    log,
    instance: name,
    namespaces: [ns],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: bundle },
  });
}

async function destinationReplicas(): Promise<Record<string, number | undefined>> {
  const list = await dst.apps.listNamespacedDeployment({ namespace: apps });
  return Object.fromEntries(list.items.map((d) => [d.metadata!.name!, d.spec?.replicas]));
}

async function taskRun(name: string, spec: Record<string, unknown>): Promise<Resource> {
  await dstCustom.createNamespacedCustomObject({
    ...target('TaskRun', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'TaskRun',
      metadata: { name },
      spec,
    },
  });
  return eventually(
    `TaskRun ${name} to finish in the destination cluster`,
    async () => {
      const r = await getResource(dstCustom, 'TaskRun', ns, name);
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    90_000,
  );
}

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await dst.core.createNamespace({ body: { metadata: { name: ns } } });
  await src.core.createNamespace({ body: { metadata: { name: apps, labels: { 'restore-test': ns } } } });
  for (const name of NAMES) {
    await src.apps.createNamespacedDeployment({
      namespace: apps,
      body: {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      },
    });
  }
  await createClusterAssets(custom, mgmt.core, ns);
  await createBucketAsset(custom, mgmt.core, ns);
  // The recovery install's own Bucket asset, in the destination cluster (same bucket, same name).
  await createBucketAsset(dstCustom, dst.core, ns);
  bundle = await bundleWorkflowCode({ workflowsPath, logger: silent });
  management = await orchestrator(await orchestratorKubeConfig(), 'restore-mgmt', managementQueue);
  // The recovery install: the destination cluster as its only cluster, its own task queue.
  recovery = await orchestrator(
    dstKc,
    'restore-dst',
    uniqueName('restore-dst'),
    createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString().split('\n').filter(Boolean)) recoveryLines.push(JSON.parse(l));
          done();
        },
      }),
    }),
  );
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'LiveSynchronization',
      metadata: { name: 'protect-apps' },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          bucketName: 'backups',
          replication: {
            forceNamespaceCreation: true,
            resources: [
              {
                group: 'apps',
                version: 'v1',
                resource: 'deployments',
                filters: { namespaceSelector: { matchLabels: { 'restore-test': ns } } },
                transformation: { patch: [{ op: 'replace', path: '/spec/replicas', value: 0 }] },
                recoveryProcess: { fromOriginal: { enabled: true } },
              },
            ],
          },
        },
      },
    },
  });
  await eventually(
    'the standby copies with replicas 0',
    async () => JSON.stringify(await destinationReplicas()) === JSON.stringify({ api: 0, web: 0, worker: 0 }),
    90_000,
  );
  await eventually('the recovery Task in the destination cluster', () =>
    getResource(dstCustom, 'Task', ns, 'protect-apps'),
  );
}, 240_000);

afterAll(async () => {
  // Back from the disaster: the API servers and the management orchestrator again, to let the
  // LiveSynchronization go.
  for (const name of ['management', 'source']) await control('start', name, { print: () => undefined });
  management ??= await orchestrator(await orchestratorKubeConfig(), 'restore-mgmt', managementQueue);
  await deleteAllOurs(custom, ns, 120_000);
  await deleteAllOurs(dstCustom, ns, 120_000);
  await management?.shutdown();
  await recovery?.shutdown();
  for (const c of [src, dst]) await c.core.deleteNamespace({ name: apps }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await dst.core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 300_000);

it('the recovery Task carries what a restore needs', async () => {
  const task = (await getResource(dstCustom, 'Task', ns, 'protect-apps'))!;
  expect(task.spec).toMatchObject({
    plugin: 'kubernetes-objects-transformation',
    config: {
      resources: [
        { fromOriginal: { enabled: true, bucketName: 'backups', liveSynchronization: `${ns}/protect-apps` } },
      ],
    },
  });
});

it('a TaskRun in the destination cluster restores every original, including a deleted copy; a dry run first changes nothing', async () => {
  // Disaster day: the management cluster's orchestrator is gone, the source and management API
  // servers are down, and the copy of api is lost too.
  await management!.shutdown();
  management = undefined;
  for (const name of ['source', 'management']) await control('stop', name, { print: () => undefined });
  await expect(src.core.listNamespace({ limit: 1 })).rejects.toThrow();
  await expect(mgmt.core.listNamespace({ limit: 1 })).rejects.toThrow();
  await dst.apps.deleteNamespacedDeployment({ namespace: apps, name: 'api' });
  await eventually('api gone', async () => !('api' in (await destinationReplicas())));

  const preview = await taskRun('preview', { taskName: 'protect-apps', dryRun: true });
  expect(preview.status?.phase).toBe('Succeeded');
  expect(preview.status?.message).toMatch(/would restore 3, 0 unchanged, 0 failed/);
  expect(await destinationReplicas()).toEqual({ web: 0, worker: 0 });

  const done = await taskRun('recover', { taskName: 'protect-apps' });
  expect(done.status?.message).toMatch(/restored 3, 0 unchanged, 0 failed in \d+\.\d s$/);
  expect(done.status?.phase).toBe('Succeeded');
  // The RTO: the run's duration, and each step's share of it.
  expect(done.status?.duration).toMatch(/^\d+(m\d+)?s$/);
  const steps = (done.status?.report as { resources: { resource: string; durationMs: number }[] }).resources;
  expect(steps.map((r) => r.resource)).toEqual(['apps/v1/deployments']);
  expect(steps[0].durationMs).toBeGreaterThan(0);
  expect(await destinationReplicas()).toEqual({ api: 3, web: 3, worker: 3 });
  const restored = await dst.apps.readNamespacedDeployment({ namespace: apps, name: 'api' });
  expect(restored.metadata?.uid).toBeDefined();
  expect(restored.spec?.template?.spec?.containers?.[0]?.image).toBe('busybox');

  const again = await taskRun('again', { taskName: 'protect-apps' });
  expect(again.status?.message).toMatch(/patched 0 of 3 objects, 3 unchanged, 0 failed/);

  // The seed's lines of a fromOriginal restore: bucket lines carry the bucket and the object path
  // and no cluster field; the dry run read the lost copy of api and did not find it.
  const seen = (msg: string) => recoveryLines.filter((l) => l.msg === msg);
  const folder = `${ns}/protect-apps/apps-v1-deployments/`;
  expect(seen('listing object from bucket')[0]?.bucketObject).toEqual({ path: folder });
  for (const msg of ['listing object from bucket', 'getting object from bucket', 'object got from bucket'])
    for (const line of seen(msg)) {
      expect(line).toMatchObject({ bucket: { name: 'backups', namespace: ns } });
      expect(String((line.bucketObject as { path: string }).path)).toMatch(new RegExp(`^${folder}`));
      expect(['sourceCluster', 'destinationCluster'].filter((f) => f in line)).toEqual([]);
    }
  const got = seen('object got from bucket').map((l) => (l.sourceObject as { name: string }).name);
  expect(new Set(got)).toEqual(new Set(NAMES));
  expect(seen('getting object from bucket').length).toBe(got.length);
  for (const msg of ['reading object from cluster', 'object not found in cluster'])
    expect(seen(msg).map((l) => (l.destinationObject as { name: string }).name)).toContain('api');
  for (const msg of [
    'reading resources for group version',
    'group resource version found',
    'listed objects in cluster',
  ])
    expect(seen(msg).length).toBeGreaterThan(0);
}, 240_000);
