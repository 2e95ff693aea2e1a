/**
 * Restart without starting over, on real processes: a LiveSynchronization of some hundreds of
 * ConfigMaps is synced by an orchestrator child process; it is killed with -9, the source changes
 * while it is down (creates, updates, deletes), and a new process takes over. The retried attempt
 * must resume from the checkpoint in its heartbeat details (its log says so, with the versions),
 * must not list the source, must write exactly the changes (the deleted object's copy pruned), and
 * must prune nothing else: every untouched copy keeps its uid (it was never deleted and created again).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { stackDir } from '../../tools/stack/paths.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import {
  clusterClients,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';
import { orchestratorKubeconfigFile } from './rbac.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG).core;
const src = clusterClients(env.SOURCE_KUBECONFIG).core;
const dst = clusterClients(env.DESTINATION_KUBECONFIG).core;

const ns = uniqueName('ckpt');
const appNs = uniqueName('ckpt-app');
const taskQueue = uniqueName('ckpt');
const owner = { namespace: ns, name: 'live' };
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const COUNT = 300;
let saKubeconfig = '';
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile, kubeconfig: () => saKubeconfig });

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

const copies = () => listAll(dst, `${OWNER_LABEL}=${ownerLabelValue(owner)}`);

/** Log lines (parsed) written since byte `from`. */
function logLinesSince(
  from: number,
): { msg?: string; process?: { attempt?: number }; [k: string]: unknown }[] {
  return readFileSync(logFile)
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string });
}

beforeAll(async () => {
  saKubeconfig = await orchestratorKubeconfigFile();
  await mgmt.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt, ns);
  await src.createNamespace({ body: { metadata: { name: appNs, labels: { 'ckpt-run': ns } } } });
  const names = Array.from({ length: COUNT }, (_, i) => `cm-${i}`);
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(
      names.slice(i, i + 20).map((name) =>
        src.createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name }, data: { v: 'initial' } },
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
            resyncPeriod: '1h0m0s', // the catch-up must come from the retry, not from a new resync
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: {
                  namespaceSelector: { matchLabels: { 'ckpt-run': ns } },
                  nameSelector: { regex: ['^cm-'] },
                },
              },
            ],
          },
          components: { synchronizer: { concurrentTasks: 8 } },
        },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  await src.deleteNamespace({ name: appNs }).catch(() => undefined);
  await dst.deleteNamespace({ name: appNs }).catch(() => undefined);
  await mgmt.deleteNamespace({ name: ns }).catch(() => undefined);
}, 180_000);

it('resumes from the checkpoint after kill -9: watches instead of listing, writes exactly the changes', async () => {
  await eventually('the initial sync written', async () => (await copies()).length === COUNT, 360_000);
  // The SDK sends heartbeat details at most every 8 s (0.8 x the 10 s heartbeat timeout): wait
  // until one with the checkpoint of the written initial sync has surely reached the server.
  await new Promise((r) => setTimeout(r, 15_000));
  const before = new Map((await copies()).map((c) => [c.metadata!.name!, c.metadata!.uid!]));

  await worker.stop('SIGKILL');
  // While no worker runs: update 10, delete 5 (their copies must go), create 5, and change one
  // object that no entry selects (it must stay out).
  const updated = Array.from({ length: 10 }, (_, i) => `cm-${i}`);
  const deleted = Array.from({ length: 5 }, (_, i) => `cm-${100 + i}`);
  const created = Array.from({ length: 5 }, (_, i) => `cm-new-${i}`);
  for (const name of updated)
    await src.replaceNamespacedConfigMap({
      namespace: appNs,
      name,
      body: { metadata: { name }, data: { v: 'while-down' } },
    });
  for (const name of deleted) await src.deleteNamespacedConfigMap({ namespace: appNs, name });
  for (const name of created)
    await src.createNamespacedConfigMap({
      namespace: appNs,
      body: { metadata: { name }, data: { v: 'new' } },
    });
  await src.createNamespacedConfigMap({
    namespace: appNs,
    body: { metadata: { name: 'other-1' }, data: { v: 'not selected' } },
  });

  const logFrom = statSync(logFile).size;
  worker.start();

  const want = new Map<string, string>();
  for (const c of await listAll(src))
    if (c.metadata!.name!.startsWith('cm-')) want.set(c.metadata!.name!, JSON.stringify(c.data));
  expect(want.size).toBe(COUNT); // 300 - 5 deleted + 5 created
  let diffs: string[] = [];
  await eventually(
    `the destination converged (last: ${diffs.slice(0, 5).join(', ')})`,
    async () => {
      const have = new Map((await copies()).map((c) => [c.metadata!.name!, JSON.stringify(c.data)]));
      diffs = [];
      for (const [name, data] of want) {
        if (!have.has(name)) diffs.push(`missing ${name}`);
        else if (have.get(name) !== data) diffs.push(`stale ${name}`);
      }
      for (const name of have.keys()) if (!want.has(name)) diffs.push(`extra ${name}`);
      return diffs.length === 0;
    },
    300_000,
  );

  // Exactly the changes: the deleted ones pruned, every other copy the same object as before.
  const after = await copies();
  const names = new Set(after.map((c) => c.metadata!.name!));
  for (const name of deleted) expect(names.has(name)).toBe(false);
  for (const name of created) expect(names.has(name)).toBe(true);
  expect(names.has('other-1')).toBe(false);
  const recreated = after.filter(
    (c) => before.has(c.metadata!.name!) && before.get(c.metadata!.name!) !== c.metadata!.uid,
  );
  expect(recreated.map((c) => c.metadata!.name)).toEqual([]);
  expect(after.filter((c) => before.has(c.metadata!.name!))).toHaveLength(COUNT - deleted.length);
  expect(after.find((c) => c.metadata!.name === 'cm-0')?.data).toEqual({ v: 'while-down' });

  // The new attempt resumed (its log line names the versions) and listed nothing in the source.
  // Status stays meaningful in resumed mode: the copies untouched since the checkpoint count as
  // in sync (from a destination list after the replay), with the changed ones.
  const resumedStatus = await eventually(
    'status.replication counting every copy in sync after the resume',
    async () => {
      const ls = (await custom.getNamespacedCustomObject(target('LiveSynchronization', ns, 'live'))) as {
        status?: {
          replication?: {
            resources?: { inSync: number; pending: number; failed: number }[];
            lastComparisonTime?: string;
          };
        };
      };
      const r = ls.status?.replication?.resources?.[0];
      return r?.inSync === COUNT && r.pending === 0 && r.failed === 0 ? ls.status!.replication : undefined;
    },
    120_000,
  );
  // A resumed attempt compares nothing; the first run's comparison still stands in status.
  expect(resumedStatus.lastComparisonTime).toEqual(expect.any(String));

  // The worker's log is written asynchronously: wait for the prune lines to be flushed.
  await eventually(
    'the prune lines in the worker log',
    async () =>
      Promise.resolve(
        logLinesSince(logFrom).filter((l) => l.msg === 'object deleted in cluster').length >= deleted.length,
      ),
    60_000,
  );
  const lines = logLinesSince(logFrom);
  const resumed = lines.filter((l) => l.msg?.startsWith('resuming from checkpoint'));
  expect(resumed).toHaveLength(1);
  expect(resumed[0].resourceVersions).toEqual({ '': expect.stringMatching(/^\d+$/) });
  expect(resumed[0].process?.attempt).toBeGreaterThanOrEqual(2); // a retry of the killed attempt
  expect(lines.filter((l) => l.msg === 'listing objects in cluster')).toEqual([]);
  expect(lines.filter((l) => l.msg?.includes('listing objects again'))).toEqual([]);
  // The deleted objects came as DELETED events and were pruned; the rest were written from events.
  const pruned = lines.filter((l) => l.msg === 'object deleted in cluster');
  expect(pruned).toHaveLength(deleted.length);
}, 900_000);
