/**
 * `components.*.logLevel` and `concurrentTasks` on the real stack (src/plugins/kubernetes-objects-
 * to-kubernetes/components.ts): the orchestrator runs as a child process at `--log-level info`
 * and the test reads its log. A LiveSynchronization whose synchronizer logs at debug writes its
 * debug lines; one whose parts log at error writes none of their info lines and still replicates;
 * a level that names none is refused on status naming the field; `concurrentTasks` reaches the
 * engine (its queue's limit is on the destination's list line; the queue keeping to it is the
 * unit test in test/unit/components.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);

const ns = uniqueName('comp');
const taskQueue = uniqueName('comp');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile });
const apps = {
  loud: uniqueName('comp-loud'),
  quiet: uniqueName('comp-quiet'),
  plain: uniqueName('comp-plain'),
};

interface Line {
  level: string;
  msg: string;
  liveSynchronization?: { namespace: string; name: string };
  concurrentTasks?: number;
  destinationCluster?: unknown;
}

/** The worker's JSON lines about LiveSynchronization `name`. */
function linesOf(name: string): Line[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.liveSynchronization?.namespace === ns && l.liveSynchronization.name === name);
}

async function liveSync(name: string, app: string, components?: unknown): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          replication: {
            forceNamespaceCreation: true,
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector: { matchLabels: { 'comp-app': app } } },
              },
            ],
          },
          ...(components !== undefined && { components }),
        },
      },
    },
  });
}

async function copied(app: string, value: string): Promise<void> {
  await eventually(
    `the copy in ${app} with v=${value}`,
    async () => {
      const cm = await dst.core
        .readNamespacedConfigMap({ namespace: app, name: 'settings' })
        .catch(() => undefined);
      return cm?.data?.v === value;
    },
    120_000,
  );
}

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt.core, ns);
  for (const app of Object.values(apps)) {
    await src.core.createNamespace({ body: { metadata: { name: app, labels: { 'comp-app': app } } } });
    await src.core.createNamespacedConfigMap({
      namespace: app,
      body: { metadata: { name: 'settings' }, data: { v: '1' } },
    });
  }
  worker.start();
}, 120_000);

afterAll(async () => {
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  for (const app of Object.values(apps)) {
    await src.core.deleteNamespace({ name: app }).catch(() => undefined);
    await dst.core.deleteNamespace({ name: app }).catch(() => undefined);
  }
}, 180_000);

it('logLevel debug writes the debug lines, error suppresses the info lines; concurrentTasks reaches the engine', async () => {
  await liveSync('loud', apps.loud, { synchronizer: { logLevel: 'debug', concurrentTasks: 3 } });
  await liveSync('quiet', apps.quiet, {
    eventsListener: { logLevel: 'error' },
    processor: { logLevel: 'error' },
    synchronizer: { logLevel: 'error' },
    reconciler: { logLevel: 'error' },
  });
  await liveSync('plain', apps.plain);
  for (const app of Object.values(apps)) await copied(app, '1');
  // A change after the lists: the watch lines (object read, object updated) too.
  for (const app of Object.values(apps))
    await src.core.replaceNamespacedConfigMap({
      namespace: app,
      name: 'settings',
      body: { metadata: { name: 'settings' }, data: { v: '2' } },
    });
  for (const app of Object.values(apps)) await copied(app, '2');
  // Lines reach the file when written, in order; the copy is there once the write's line is.
  await eventually('the update lines of loud and plain', async () =>
    ['loud', 'plain'].every((n) => linesOf(n).some((l) => l.msg === 'object updated in cluster')),
  );

  const loud = linesOf('loud');
  expect(loud.filter((l) => l.level === 'debug').map((l) => l.msg)).toEqual(
    expect.arrayContaining(['creating object in cluster', 'updating object in cluster']),
  );
  expect(
    loud.find((l) => l.msg === 'listing objects in cluster' && l.destinationCluster)?.concurrentTasks,
  ).toBe(3);

  const plain = linesOf('plain'); // no components: the orchestrator's level (info), default concurrency
  expect(plain.filter((l) => l.level === 'debug')).toEqual([]);
  expect(plain.map((l) => l.msg)).toEqual(
    expect.arrayContaining([
      'object read from cluster',
      'object created in cluster',
      'object updated in cluster',
    ]),
  );
  expect(
    plain.find((l) => l.msg === 'listing objects in cluster' && l.destinationCluster)?.concurrentTasks,
  ).toBe(16);

  const quiet = linesOf('quiet');
  const engineMessages = [
    'listing objects in cluster',
    'listed objects in cluster',
    'object read from cluster',
    'object created in cluster',
    'object updated in cluster',
    'namespace read from cluster',
  ];
  expect(quiet.filter((l) => engineMessages.includes(l.msg))).toEqual([]);
  expect(quiet.filter((l) => l.level === 'info' || l.level === 'debug').map((l) => l.msg)).not.toContain(
    'object created in cluster',
  );
}, 300_000);

it('a logLevel that names no level is refused on status, naming the field', async () => {
  await liveSync('bad', apps.plain, { synchronizer: { logLevel: 'loud' } });
  const ready = await eventually('bad to be refused', async () => {
    const c = (await getResource(custom, 'LiveSynchronization', ns, 'bad'))?.status?.conditions?.find(
      (x) => x.type === 'Ready',
    );
    return c?.status === 'False' ? c : undefined;
  });
  expect(ready.reason).toBe('InvalidSpec');
  expect(ready.message).toContain(
    "spec.config.components.synchronizer.logLevel: 'loud' is not a log level; one of trace, debug, info, warn, error, fatal, silent",
  );
}, 120_000);
