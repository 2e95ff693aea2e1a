/**
 * Crash safety of LiveSynchronization on real processes: the orchestrator runs as a child process
 * (as in production), and each fault is real: kill -9 of the worker mid-sync, a restart of the
 * Temporal server, the source or the destination API server down for a minute, a watch that
 * expires (410 Gone after an etcd compaction). After each, the destination must converge to the
 * source: nothing missing, nothing extra, nothing stale.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { control } from '../../tools/stack/stack.js';
import { stackDir } from '../../tools/stack/paths.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { createClusterAssets, deleteAllOurs, eventually, managementClients, target } from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';
import { orchestratorKubeconfigFile } from './rbac.js';

const env = stackEnv();
const { custom } = managementClients();
const core = (file: string) => {
  const k = new KubeConfig();
  k.loadFromFile(file);
  return k.makeApiClient(CoreV1Api);
};
const mgmt = core(env.MANAGEMENT_KUBECONFIG);
const src = core(env.SOURCE_KUBECONFIG);
const dst = core(env.DESTINATION_KUBECONFIG);

const ns = uniqueName('crash');
const appNs = uniqueName('crash-app');
const taskQueue = uniqueName('crash');
const owner = { namespace: ns, name: 'live' };
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const COUNT = 600;
let saKubeconfig = '';
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile, kubeconfig: () => saKubeconfig });
let stamp = 0;

async function listAll(api: CoreV1Api, labelSelector?: string): Promise<V1ConfigMap[]> {
  const out: V1ConfigMap[] = [];
  let cont: string | undefined;
  do {
    const page = await api.listNamespacedConfigMap({
      namespace: appNs,
      labelSelector,
      limit: 500,
      _continue: cont,
    });
    out.push(...page.items);
    cont = page.metadata?._continue;
  } while (cont);
  return out;
}

/** Differences between source and destination; empty when converged. */
async function differences(): Promise<string[]> {
  const [source, destination] = await Promise.all([
    listAll(src),
    listAll(dst, `${OWNER_LABEL}=${ownerLabelValue(owner)}`),
  ]);
  const want = new Map(
    source
      .filter((c) => c.metadata!.name!.startsWith('cm-'))
      .map((c) => [c.metadata!.name!, JSON.stringify(c.data)]),
  );
  const have = new Map(destination.map((c) => [c.metadata!.name!, JSON.stringify(c.data)]));
  const diffs: string[] = [];
  for (const [name, data] of want) {
    if (!have.has(name)) diffs.push(`missing ${name}`);
    else if (have.get(name) !== data) diffs.push(`stale ${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) diffs.push(`extra ${name}`);
  return diffs;
}

async function converged(what: string, timeoutMs = 150_000): Promise<void> {
  let last: string[] = [];
  await eventually(
    `${what}: destination converged (last: ${last.slice(0, 5).join(', ')})`,
    async () => {
      last = await differences();
      return last.length === 0;
    },
    timeoutMs,
  );
}

/** Updates, deletes and creates some source objects; returns when the API server took them. */
async function mutate(n: number): Promise<void> {
  stamp++;
  const names = (await listAll(src)).map((c) => c.metadata!.name!).filter((x) => x.startsWith('cm-'));
  for (const name of names.slice(0, n)) {
    await src.replaceNamespacedConfigMap({
      namespace: appNs,
      name,
      body: { metadata: { name }, data: { v: `update-${stamp}` } },
    });
  }
  for (const name of names.slice(n, n + Math.ceil(n / 4)))
    await src.deleteNamespacedConfigMap({ namespace: appNs, name });
  for (let i = 0; i < Math.ceil(n / 4); i++) {
    const name = `cm-new-${stamp}-${i}`;
    await src.createNamespacedConfigMap({
      namespace: appNs,
      body: { metadata: { name }, data: { v: 'new' } },
    });
  }
}

beforeAll(async () => {
  saKubeconfig = await orchestratorKubeconfigFile(); // the install's RBAC, not an admin certificate
  await mgmt.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt, ns);
  await src.createNamespace({ body: { metadata: { name: appNs, labels: { 'crash-run': ns } } } });
  const names = Array.from({ length: COUNT }, (_, i) => `cm-${i}`);
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(
      names.slice(i, i + 20).map((name) =>
        src.createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name }, data: { v: 'initial', pad: 'x'.repeat(512) } },
        }),
      ),
    );
  }
  worker.start();
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, 'live'),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name: 'live' },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          replication: {
            forceNamespaceCreation: true,
            resyncPeriod: '1h0m0s', // convergence after a fault must not wait for a resync
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: {
                  namespaceSelector: { matchLabels: { 'crash-run': ns } },
                  nameSelector: { regex: ['^cm-'] },
                },
              },
            ],
          },
          components: { synchronizer: { concurrentTasks: 4 } },
        },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
}, 180_000);

it('survives kill -9 of the worker in the middle of the initial sync', async () => {
  await eventually(
    'the initial sync under way',
    async () => {
      const n = (await listAll(dst, `${OWNER_LABEL}=${ownerLabelValue(owner)}`)).length;
      return n >= 30 && n < COUNT;
    },
    60_000,
  );
  await worker.stop('SIGKILL');
  await mutate(40);
  worker.start();
  await converged('after kill -9');
}, 240_000);

it('survives a restart of the Temporal server', async () => {
  await control('restart', 'temporal', { print: () => undefined });
  await mutate(20);
  await converged('after the Temporal restart');
}, 240_000);

it('survives the destination API server down for a minute', async () => {
  await control('stop', 'destination', { print: () => undefined });
  await mutate(20); // changes the destination cannot take yet
  await new Promise((r) => setTimeout(r, 60_000));
  await control('start', 'destination', { print: () => undefined });
  await converged('after the destination outage');
}, 300_000);

it('survives the source API server down for a minute', async () => {
  await mutate(10);
  await control('stop', 'source', { print: () => undefined });
  await new Promise((r) => setTimeout(r, 60_000));
  await control('start', 'source', { print: () => undefined });
  await mutate(10);
  await converged('after the source outage');
}, 300_000);

it('survives a watch that expires (410 Gone after an etcd compaction)', async () => {
  const before = readFileSync(logFile, 'utf8').split('watch expired (410 Gone); listing again').length;
  const etcdPort = (
    JSON.parse(readFileSync(join(stackDir, 'state.json'), 'utf8')) as { ports: { etcd: { client: number } } }
  ).ports.etcd.client;
  await control('stop', 'source', { print: () => undefined });
  const range = (await (
    await fetch(`http://127.0.0.1:${etcdPort}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: 'AA==' }),
    })
  ).json()) as { header: { revision: string } };
  const compacted = await fetch(`http://127.0.0.1:${etcdPort}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: range.header.revision, physical: true }),
  });
  expect(compacted.ok).toBe(true);
  await control('start', 'source', { print: () => undefined });
  await mutate(10);
  await converged('after the watch expired');
  await eventually(
    'the relist after 410 Gone in the worker log',
    async () =>
      readFileSync(logFile, 'utf8').split('watch expired (410 Gone); listing again').length > before,
    30_000,
  );
}, 300_000);
