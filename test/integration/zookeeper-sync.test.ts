/**
 * zookeeper-to-zookeeper-nodes Synchronizations through the bridge, with the orchestrator as a
 * child process on the real stack: a kill -9 halfway through a large copy resumes from the
 * checkpoint and converges; deleting a running copy stops it; a missing root path fails naming
 * the field. (The copy's fidelity is tested on the engine in zookeeper-copy.test.ts.)
 */
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { stackDir } from '../../tools/stack/paths.js';
import type { Resource } from '../../src/api/types.js';
import type { ZkSession } from '../../src/plugins/zookeeper-to-zookeeper-nodes/session.js';
import { orchestratorKubeconfigFile } from './rbac.js';
import {
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  maxActivityAttempt,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';
import { ADMIN, buildTree, deleteTree, openSession, payload, readTree, type NodeSpec } from './zk-tree.js';

const env = stackEnv();
const { kc, custom } = managementClients();
const core = kc.makeApiClient(CoreV1Api);
const ns = uniqueName('zksync');
const root = `/${uniqueName('zksync')}`;
const taskQueue = uniqueName('zksync');
let saKubeconfig = '';
const worker = new WorkerProcess({
  taskQueue,
  namespace: ns,
  logFile: join(stackDir, 'logs', `${taskQueue}.log`),
  kubeconfig: () => saKubeconfig,
});
let source: ZkSession;
let destination: ZkSession;

/** 20,000 znodes: 20 top-level folders of 20 folders of 49 leaves, 1 byte to 2 KiB. */
function bigTree(): NodeSpec[] {
  const nodes: NodeSpec[] = [{ path: root, data: Buffer.from('root') }];
  for (let a = 0; a < 20; a++) {
    nodes.push({ path: `${root}/a${a}`, data: payload(16, a) });
    for (let b = 0; b < 20; b++) {
      nodes.push({ path: `${root}/a${a}/b${b}`, data: payload(64, b) });
      for (let c = 0; c < 49; c++)
        nodes.push({
          path: `${root}/a${a}/b${b}/c${c}`,
          data: payload(1 + ((a * 400 + b * 49 + c) % 2048), c),
        });
    }
  }
  return nodes;
}

async function createSynchronization(name: string, config: Record<string, unknown>): Promise<Resource> {
  return (await custom.createNamespacedCustomObject({
    ...target('Synchronization', ns, ''),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'Synchronization',
      metadata: { name },
      spec: {
        plugin: 'zookeeper-to-zookeeper-nodes',
        config: { sourceName: 'zk-source', destinationName: 'zk-destination', ...config },
      },
    },
  })) as Resource;
}

const phaseOf = async (name: string) => (await getResource(custom, 'Synchronization', ns, name))?.status;

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
  for (const [name, server] of [
    ['zk-source', env.ZK_SOURCE],
    ['zk-destination', env.ZK_DESTINATION],
  ]) {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: ADMIN } });
    await custom.createNamespacedCustomObject({
      ...target('Database', ns, ''),
      body: {
        apiVersion: 'assets.astronetes.io/v1alpha1',
        kind: 'Database',
        metadata: { name },
        spec: { zookeeper: { client: { servers: [server] } } },
      },
    });
  }
  source = await openSession([env.ZK_SOURCE]);
  destination = await openSession([env.ZK_DESTINATION]);
  await buildTree(source, bigTree());
  saKubeconfig = await orchestratorKubeconfigFile(); // the install's RBAC, not an admin certificate
  worker.start();
}, 180_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 120_000);
  await worker.stop('SIGTERM');
  for (const s of [source, destination]) {
    await deleteTree(s, root).catch(() => undefined);
    s.close();
  }
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 240_000);

it('a kill -9 halfway through a 20,000-znode copy resumes from its checkpoint and converges', async () => {
  await createSynchronization('big', { rootPath: root, createRootPath: true });
  const before = await eventually(
    'the copy under way',
    async () => {
      const s = await phaseOf('big');
      const written = (s?.progress as { written?: number } | undefined)?.written ?? 0;
      return s?.phase === 'Running' && written >= 1000 ? s : undefined;
    },
    120_000,
  );
  expect(before.phase).toBe('Running');
  await worker.stop('SIGKILL');
  worker.start();
  const done = await eventually(
    'the copy to finish after the kill',
    async () => {
      const s = await phaseOf('big');
      return s?.phase === 'Succeeded' || s?.phase === 'Failed' ? s : undefined;
    },
    240_000,
  );
  expect(done.message).toMatch(/./);
  expect(done.phase).toBe('Succeeded');
  const [want, have] = await Promise.all([readTree(source, root), readTree(destination, root)]);
  expect(have.size).toBe(20 * 20 * 49 + 20 * 20 + 20 + 1);
  expect([...have.entries()].sort()).toEqual([...want.entries()].sort());

  // The second attempt ran from the first one's checkpoint: Temporal shows two attempts.
  expect(await maxActivityAttempt(done.workflowId as string)).toBeGreaterThanOrEqual(2);
}, 480_000);

it('deleting a running copy stops it and lets the object go', async () => {
  await createSynchronization('deleted', { rootPath: root });
  const running = await eventually('the copy running', async () => {
    const s = await phaseOf('deleted');
    return s?.phase === 'Running' ? s : undefined;
  });
  await custom.deleteNamespacedCustomObject(target('Synchronization', ns, 'deleted'));
  await eventually('the Synchronization to go', async () => (await phaseOf('deleted')) === undefined, 60_000);
  expect(running.workflowId).toMatch(/^Synchronization\//);
}, 120_000);

it('a missing root path without createRootPath fails, naming the field', async () => {
  await createSynchronization('missing', { rootPath: `${root}-does-not-exist` });
  const done = await eventually(
    'the copy to fail',
    async () => {
      const s = await phaseOf('missing');
      return s?.phase === 'Failed' ? s : undefined;
    },
    60_000,
  );
  expect(done.message).toMatch(/spec\.config\.rootPath/);
}, 90_000);
