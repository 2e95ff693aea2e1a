/**
 * Namespaces that change while no watch runs: the orchestrator (a child process) is killed with
 * -9, one selected source namespace loses the label the namespaceSelector asks for, another is
 * deleted, and a new process starts. The namespace informer lists again on the new run, so the
 * copies of both are pruned, and the copies of the namespace that still matches stay.
 *
 * The source cluster runs no namespace controller (docs/local-stack.md): a deleted namespace would
 * stay Terminating with its objects. The test finalizes it, as the controller does at the end, but
 * leaves its ConfigMap in etcd: the copy must go because the namespace went, not because the object did.
 */
import { join } from 'node:path';
import { stackDir } from '../../tools/stack/paths.js';
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

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);

const ns = uniqueName('nsr');
const taskQueue = uniqueName('nsr');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile });
const apps = { keep: uniqueName('nsr-keep'), leave: uniqueName('nsr-leave'), gone: uniqueName('nsr-gone') };
const LABEL = 'nsr-run';

async function copy(app: string): Promise<Record<string, string> | undefined> {
  const cm = await dst.core
    .readNamespacedConfigMap({ namespace: app, name: 'settings' })
    .catch(() => undefined);
  return cm?.data;
}

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt.core, ns);
  for (const app of Object.values(apps)) {
    await src.core.createNamespace({ body: { metadata: { name: app, labels: { [LABEL]: ns } } } });
    await src.core.createNamespacedConfigMap({
      namespace: app,
      body: { metadata: { name: 'settings' }, data: { v: '1' } },
    });
  }
  worker.start();
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
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
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector: { matchLabels: { [LABEL]: ns } } },
              },
            ],
          },
        },
      },
    },
  });
}, 120_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  for (const app of Object.values(apps)) {
    // The ConfigMap left in etcd by the finalized namespace, then the namespaces.
    await src.core.deleteNamespacedConfigMap({ namespace: app, name: 'settings' }).catch(() => undefined);
    await src.core.deleteNamespace({ name: app }).catch(() => undefined);
    await dst.core.deleteNamespace({ name: app }).catch(() => undefined);
  }
}, 180_000);

it('after kill -9, a namespace that left the selector and one deleted meanwhile lose their copies', async () => {
  for (const app of Object.values(apps))
    await eventually(`the copy in ${app}`, async () => (await copy(app))?.v === '1', 120_000);

  await worker.stop('SIGKILL');
  // While no watch runs: one namespace stops matching, one is deleted, one keeps changing.
  await src.core.patchNamespace({
    name: apps.leave,
    body: [{ op: 'remove', path: `/metadata/labels/${LABEL}` }],
  } as never);
  await src.core.deleteNamespace({ name: apps.gone });
  const terminating = await src.core.readNamespace({ name: apps.gone });
  await src.core.replaceNamespaceFinalize({
    name: apps.gone,
    body: { ...terminating, spec: { finalizers: [] } },
  });
  await eventually(`namespace ${apps.gone} gone from the source`, async () =>
    src.core.readNamespace({ name: apps.gone }).then(
      () => false,
      () => true,
    ),
  );
  // Its ConfigMap is still listed (no namespace controller removed it): only the namespace went.
  const orphans = await src.core.listConfigMapForAllNamespaces({
    fieldSelector: `metadata.namespace=${apps.gone}`,
  });
  expect(orphans.items.map((c) => c.metadata?.name)).toEqual(['settings']);
  await src.core.replaceNamespacedConfigMap({
    namespace: apps.keep,
    name: 'settings',
    body: { metadata: { name: 'settings' }, data: { v: '2' } },
  });
  worker.start();

  await eventually(
    'the copies of the unselected and the deleted namespace pruned, the kept one updated',
    async () =>
      (await copy(apps.leave)) === undefined &&
      (await copy(apps.gone)) === undefined &&
      (await copy(apps.keep))?.v === '2',
    180_000,
  );
  // And the informer keeps going: the namespace that left comes back.
  await src.core.patchNamespace({
    name: apps.leave,
    body: [{ op: 'add', path: `/metadata/labels/${LABEL}`, value: ns }],
  } as never);
  await eventually(
    'the copy of the namespace selected again',
    async () => (await copy(apps.leave))?.v === '1',
    60_000,
  );
}, 360_000);
