/**
 * RPO measured at the source, on real processes: the orchestrator runs as a child process, and
 * - a change the destination refuses for a while (a ValidatingAdmissionPolicy of the destination
 *   denies it) shows as the age of the oldest pending change in `status.replication.lag`, and its
 *   lag, once written, counts from the change, not from its last retry;
 * - changes made while the worker is killed (-9) and down for a known time D are measured from
 *   when they happened at the source (their managedFields stamps), so the lag's max is at least D,
 *   although the restarted worker receives them (by its relist) only a moment before it writes them.
 */
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { stackDir } from '../../tools/stack/paths.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import type { ReplicationReport } from '../../src/plugins/kubernetes-objects-to-kubernetes/run.js';
import {
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';
import { orchestratorKubeconfigFile } from './rbac.js';

const env = stackEnv();
const { custom } = managementClients();
const kubeconfig = (file: string) => {
  const k = new KubeConfig();
  k.loadFromFile(file);
  return k;
};
const mgmt = kubeconfig(env.MANAGEMENT_KUBECONFIG).makeApiClient(CoreV1Api);
const src = kubeconfig(env.SOURCE_KUBECONFIG).makeApiClient(CoreV1Api);
const dstKc = kubeconfig(env.DESTINATION_KUBECONFIG);
const dst = dstKc.makeApiClient(CoreV1Api);
const admission = dstKc.makeApiClient(AdmissionregistrationV1Api);

const ns = uniqueName('rpo');
const appNs = uniqueName('rpo-app');
const taskQueue = uniqueName('rpo');
const owner = { namespace: ns, name: 'live' };
const policy = uniqueName('rpo-block');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
let saKubeconfig = '';
const worker = new WorkerProcess({ taskQueue, namespace: ns, logFile, kubeconfig: () => saKubeconfig });
/** The time the worker is kept down, and a change refused, in ms. */
const D = 8000;

type Lag = NonNullable<ReplicationReport['lag']>;

async function lag(): Promise<Lag | undefined> {
  const r = await getResource(custom, 'LiveSynchronization', ns, 'live');
  return (r?.status as { replication?: ReplicationReport } | undefined)?.replication?.lag;
}

async function copies(): Promise<Map<string, string | undefined>> {
  const list = await dst.listNamespacedConfigMap({
    namespace: appNs,
    labelSelector: `${OWNER_LABEL}=${ownerLabelValue(owner)}`,
  });
  return new Map(list.items.map((c: V1ConfigMap) => [c.metadata!.name!, c.data?.v]));
}

async function setSource(name: string, v: string): Promise<void> {
  await src.replaceNamespacedConfigMap({ namespace: appNs, name, body: { metadata: { name }, data: { v } } });
}

function sane(l: Lag): void {
  expect(l.samples).toBeGreaterThan(0);
  expect(l.p50).toBeGreaterThanOrEqual(0);
  expect(l.p50).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.max);
  expect(l.windowSeconds).toBe(600);
}

beforeAll(async () => {
  saKubeconfig = await orchestratorKubeconfigFile();
  await mgmt.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt, ns);
  await src.createNamespace({ body: { metadata: { name: appNs, labels: { 'rpo-run': ns } } } });
  await dst.createNamespace({ body: { metadata: { name: appNs } } });
  for (let i = 0; i < 5; i++)
    await src.createNamespacedConfigMap({
      namespace: appNs,
      body: { metadata: { name: `cm-${i}` }, data: { v: 'initial' } },
    });
  // The destination refuses a ConfigMap whose v is "blocked", in this test's namespace only.
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: policy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['configmaps'],
            },
          ],
        },
        validations: [
          {
            expression: "!has(object.data) || !('v' in object.data) || object.data.v != 'blocked'",
            message: 'blocked by the RPO test',
          },
        ],
      },
    },
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: {
      metadata: { name: policy },
      spec: {
        policyName: policy,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': appNs } } },
      },
    },
  });
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
            resyncPeriod: '1h0m0s',
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: {
                  namespaceSelector: { matchLabels: { 'rpo-run': ns } },
                  nameSelector: { regex: ['^cm-'] },
                },
              },
            ],
          },
        },
      },
    },
  });
  await eventually('the initial sync', async () => (await copies()).size === 5, 90_000);
}, 180_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await admission.deleteValidatingAdmissionPolicyBinding({ name: policy }).catch(() => undefined);
  await admission.deleteValidatingAdmissionPolicy({ name: policy }).catch(() => undefined);
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  await src.deleteNamespace({ name: appNs }).catch(() => undefined);
  await dst.deleteNamespace({ name: appNs }).catch(() => undefined);
}, 180_000);

it('shows the age of a change the destination refuses, and counts its lag from the change', async () => {
  // Wait until the policy is enforced (the API server loads it within a second or so).
  await eventually(
    'the destination policy enforced',
    async () =>
      dst
        .createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name: 'probe' }, data: { v: 'blocked' } },
        })
        .then(
          async () => {
            await dst.deleteNamespacedConfigMap({ namespace: appNs, name: 'probe' });
            return false;
          },
          () => true,
        ),
    30_000,
  );
  const changedAt = Date.now();
  await setSource('cm-0', 'blocked');
  // While refused: the oldest pending change's age grows past D in status.
  const pending = await eventually(
    `oldestPendingChangeAgeMs >= ${D} while the destination refuses`,
    async () => {
      const l = await lag();
      return l && l.oldestPendingChangeAgeMs >= D ? l : undefined;
    },
    90_000,
  );
  expect(pending.oldestPendingChangeAgeMs).toBeLessThan(Date.now() - changedAt + 2000);
  // A newer change the destination takes: written, and its lag counts from the FIRST one it replaced.
  await setSource('cm-0', 'accepted');
  await eventually('cm-0 written', async () => (await copies()).get('cm-0') === 'accepted', 90_000);
  const after = await eventually(
    'the lag figures after the write',
    async () => {
      const l = await lag();
      return l && l.oldestPendingChangeAgeMs === 0 && l.max >= D ? l : undefined;
    },
    30_000,
  );
  sane(after);
}, 240_000);

it('measures changes made while the worker was down from when they happened at the source', async () => {
  await worker.stop('SIGKILL');
  const changedAt = Date.now();
  await setSource('cm-1', 'while-down');
  await setSource('cm-2', 'while-down');
  await src.createNamespacedConfigMap({
    namespace: appNs,
    body: { metadata: { name: 'cm-new' }, data: { v: 'while-down' } },
  });
  await new Promise((r) => setTimeout(r, D));
  worker.start();
  await eventually(
    'the changes made while down written',
    async () => {
      const c = await copies();
      return (
        c.get('cm-1') === 'while-down' && c.get('cm-2') === 'while-down' && c.get('cm-new') === 'while-down'
      );
    },
    120_000,
  );
  const after = await eventually(
    'status after the restart',
    async () => {
      const l = await lag();
      // A new attempt (in a new process) reports its own window: at least the three writes.
      return l && l.samples >= 3 && l.oldestPendingChangeAgeMs === 0 ? l : undefined;
    },
    60_000,
  );
  sane(after);
  // Received by the restarted worker's list moments before the write, yet measured from the change.
  // (Measured from the receipt, they would be the moments from the restarted worker's list to its
  // writes, far below D.) Every write of the new attempt's window is one of them.
  expect(after.max).toBeGreaterThanOrEqual(D);
  expect(after.p50).toBeGreaterThanOrEqual(D);
  expect(after.max).toBeLessThanOrEqual(Date.now() - changedAt + 1000);
}, 300_000);
