/**
 * The seed's 2-cluster architecture (000 section 5.1.1): the orchestrator runs in the destination
 * cluster, so the destination KubernetesCluster's kubeconfig points at the management API server
 * itself. Replication works there, and the orchestrator's own objects in that cluster (its custom
 * resources, the kubeconfig Secrets, the recovery Task, anything else it did not write) are never
 * overwritten or pruned, even when the source has objects of the same names in a namespace of the
 * same name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackDir } from '../../tools/stack/paths.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import {
  clusterClients,
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

const ns = uniqueName('mgd');
const other = uniqueName('mgd-other');
const taskQueue = uniqueName('mgd');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile });
const LABEL = 'mgd-run';
const owner = { namespace: ns, name: 'standby' };

async function createCluster(name: string, kubeconfigFile: string): Promise<void> {
  await mgmt.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name }, stringData: { 'kubeconfig.yaml': readFileSync(kubeconfigFile, 'utf8') } },
  });
  await custom.createNamespacedCustomObject({
    ...target('KubernetesCluster', ns, ''),
    body: {
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'KubernetesCluster',
      metadata: { name },
      spec: { secretName: name },
    },
  });
}

const configMap = (namespace: string, name: string) =>
  mgmt.core.readNamespacedConfigMap({ namespace, name }).catch(() => undefined);

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createCluster('source', env.SOURCE_KUBECONFIG);
  // The management cluster is the destination: its own API server, its admin kubeconfig.
  await createCluster('destination', env.MANAGEMENT_KUBECONFIG);
  // Something of the management cluster's own, in the namespace the copies land in.
  await mgmt.core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'bystander' }, data: { mine: 'yes' } },
  });
  // The source: a namespace of the same name, with objects named as the orchestrator's own.
  for (const n of [ns, other])
    await src.core.createNamespace({ body: { metadata: { name: n, labels: { [LABEL]: ns } } } });
  await src.core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'app-config' }, data: { colour: 'blue' } },
  });
  await src.core.createNamespacedConfigMap({
    namespace: other,
    body: { metadata: { name: 'app-config' }, data: { colour: 'green' } },
  });
  await src.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'source' }, stringData: { 'kubeconfig.yaml': 'not a kubeconfig' } },
  });
  await src.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'app-secret' }, stringData: { password: 'p' } },
  });
  worker.start();
  await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, ''),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name: owner.name },
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
                recoveryProcess: {
                  fromPatch: [{ op: 'add', path: '/metadata/labels/recovered', value: 'yes' }],
                },
              },
              {
                version: 'v1',
                resource: 'secrets',
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
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  for (const n of [ns, other]) await src.core.deleteNamespace({ name: n }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: other }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 180_000);

it('replicates into the management cluster and never overwrites or prunes what is not its own', async () => {
  const kubeconfigBefore = await mgmt.core.readNamespacedSecret({ namespace: ns, name: 'source' });
  const copy = await eventually(
    'the copy in the management cluster',
    () => configMap(ns, 'app-config'),
    120_000,
  );
  expect(copy.data).toEqual({ colour: 'blue' });
  expect(copy.metadata?.labels?.[OWNER_LABEL]).toBe(ownerLabelValue(owner));
  expect(
    (await eventually('the other namespace copy', () => configMap(other, 'app-config'), 60_000)).data,
  ).toEqual({
    colour: 'green',
  });
  await eventually('the secret copy', () =>
    mgmt.core.readNamespacedSecret({ namespace: ns, name: 'app-secret' }).catch(() => undefined),
  );

  // The orchestrator's kubeconfig Secret of the same name is not overwritten: reported instead.
  const degraded = await eventually('Degraded naming the Secret', async () => {
    const c = (await getResource(custom, 'LiveSynchronization', ns, owner.name))?.status?.conditions;
    const d = c?.find((x) => x.type === 'Degraded');
    return d?.status === 'True' && c?.find((x) => x.type === 'Ready')?.status === 'True' ? d : undefined;
  });
  expect(degraded.message).toContain(
    `${ns}/source: exists in the destination and is not created by this LiveSynchronization`,
  );
  const kubeconfigAfter = await mgmt.core.readNamespacedSecret({ namespace: ns, name: 'source' });
  expect(kubeconfigAfter.metadata?.resourceVersion).toBe(kubeconfigBefore.metadata?.resourceVersion);
  expect(kubeconfigAfter.data).toEqual(kubeconfigBefore.data);

  // The recovery Task lives in the destination: here, next to the LiveSynchronization.
  const task = await eventually('the recovery Task', () => getResource(custom, 'Task', ns, owner.name));
  expect(task.spec).toMatchObject({ plugin: 'kubernetes-objects-transformation' });

  // A prune: the source object goes; only its copy goes.
  await src.core.deleteNamespacedConfigMap({ namespace: ns, name: 'app-config' });
  await eventually('the copy pruned', async () => (await configMap(ns, 'app-config')) === undefined, 120_000);
  // A resync (every run's start lists both sides and prunes) changes nothing either: the spec edit starts one.
  await custom.patchNamespacedCustomObject({
    ...target('LiveSynchronization', ns, owner.name),
    body: [{ op: 'add', path: '/spec/config/replication/resyncPeriod', value: '1h0m0s' }],
  } as never);
  await eventually(
    'a run of the new generation',
    async () => {
      const r = await getResource(custom, 'LiveSynchronization', ns, owner.name);
      return r?.status?.observedGeneration === r?.metadata.generation &&
        r?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
        ? r
        : undefined;
    },
    120_000,
  );
  await eventually('the resync idle', async () =>
    (
      (await getResource(custom, 'LiveSynchronization', ns, owner.name))?.status?.replication as
        { resources: { pending: number }[] } | undefined
    )?.resources.every((r) => r.pending === 0),
  );
  expect((await configMap(ns, 'bystander'))?.data).toEqual({ mine: 'yes' });
  for (const name of ['source', 'destination'])
    expect(
      (await mgmt.core.readNamespacedSecret({ namespace: ns, name })).data?.['kubeconfig.yaml'],
    ).toBeDefined();
  for (const name of ['source', 'destination'])
    expect(await getResource(custom, 'KubernetesCluster', ns, name)).toBeDefined();
  expect(await getResource(custom, 'Task', ns, owner.name)).toBeDefined();
  expect(await getResource(custom, 'LiveSynchronization', ns, owner.name)).toBeDefined();
  expect((await configMap(other, 'app-config'))?.data).toEqual({ colour: 'green' });
}, 360_000);
