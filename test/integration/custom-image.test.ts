/**
 * custom-image Tasks through the bridge on the real stack: kube-scheduler binds each Pod to the
 * simulated kwok node, whose stages play the kubelet (no container runs: docs/local-stack.md).
 * The orchestrator runs with the install's RBAC plus what docs/security.md tells an operator to
 * grant for one allowed namespace and one allowed ClusterRole.
 */
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { INSTALL_NAMESPACE, orchestratorKubeConfig, SERVICE_ACCOUNT } from './rbac.js';
import {
  clusterClients,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { kc, custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const ns = uniqueName('cimage');
const denied = uniqueName('cimage-denied');
const reader = uniqueName('cimage-reader'); // the ClusterRole Tasks may use
const bindReader = `${reader}-bind`;
let orchestrator: Orchestrator;

async function create(namespace: string, kind: 'Task' | 'TaskRun', name: string, spec: unknown) {
  await custom.createNamespacedCustomObject({
    ...target(kind, namespace, ''),
    body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
  });
}

function finished(namespace: string, name: string): Promise<Resource> {
  return eventually(
    `TaskRun ${name} to finish`,
    async () => {
      const r = await getResource(custom, 'TaskRun', namespace, name);
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    90_000,
  );
}

const subject = { kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: INSTALL_NAMESPACE };

beforeAll(async () => {
  // The install's RBAC first: it refuses to apply over bindings it does not know.
  const management = await orchestratorKubeConfig();
  for (const n of [ns, denied]) await mgmt.core.createNamespace({ body: { metadata: { name: n } } });
  // What docs/security.md tells an operator to grant: the runner role in the allowed namespace,
  // and `bind` on exactly the allowed ClusterRole.
  await rbac.createClusterRole({
    body: { metadata: { name: reader }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
  });
  await rbac.createClusterRole({
    body: {
      metadata: { name: bindReader },
      rules: [
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterroles'],
          verbs: ['bind'],
          resourceNames: [reader],
        },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: bindReader },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: bindReader },
      subjects: [subject],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'resiliency-orchestrator-custom-image' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'resiliency-orchestrator-custom-image-runner',
      },
      subjects: [subject],
    },
  });
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('cimage'),
    },
    management,
    log: createLogger({ level: 'silent' }),
    instance: 'custom-image-test',
    namespaces: [ns, denied],
    recheckSeconds: 2,
    pluginPolicy: {
      customImage: { namespaces: [ns], clusterRoles: [reader, 'no-such-role'], clusterWideRoles: [] },
    },
    workerOverrides: { workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: silent }) },
  });
}, 120_000);

afterAll(async () => {
  for (const n of [ns, denied]) await deleteAllOurs(custom, n, 120_000);
  await orchestrator?.shutdown();
  await rbac.deleteClusterRoleBinding({ name: bindReader }).catch(() => undefined);
  await rbac
    .deleteNamespacedRoleBinding({ namespace: ns, name: 'resiliency-orchestrator-custom-image' })
    .catch(() => undefined);
  for (const name of [reader, bindReader]) await rbac.deleteClusterRole({ name }).catch(() => undefined);
  for (const n of [ns, denied]) await mgmt.core.deleteNamespace({ name: n }).catch(() => undefined);
}, 180_000);

it("the seed's bash sample runs its Pod to the end: Succeeded with the container's exit code", async () => {
  const [task] = [
    load(readFileSync(join('k8s', 'samples', '002-1.3-task-custom-image-bash.yaml'), 'utf8')) as Resource,
  ];
  await create(ns, 'Task', task.metadata.name, task.spec);
  await create(ns, 'TaskRun', 'hello', { taskName: task.metadata.name });
  const done = await finished(ns, 'hello');
  expect(done.status?.message).toBe(`Pod ${ns}/hello succeeded: container task exited 0 (Completed)`);
  expect(done.status?.phase).toBe('Succeeded');
  expect(done.status?.report).toMatchObject({ pod: `${ns}/hello`, phase: 'Succeeded', exitCode: 0 });
  const pod = await mgmt.core.readNamespacedPod({ namespace: ns, name: 'hello' });
  expect(pod.spec?.nodeName).toBeTruthy(); // kube-scheduler bound it
  expect(pod.spec?.containers[0]).toMatchObject({ image: 'busybox', command: ['echo', 'hello world'] });
  expect(pod.spec?.serviceAccountName).toBe('hello');
  expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'TaskRun', name: 'hello' });
}, 120_000);

it('with clusterRole, the Pod runs under its own ServiceAccount bound to it, and the binding goes when the run ends', async () => {
  await create(ns, 'Task', 'reader', {
    plugin: 'custom-image',
    config: { image: 'busybox', command: ['true'], clusterRole: reader },
  });
  await create(ns, 'TaskRun', 'read', { taskName: 'reader' });
  const done = await finished(ns, 'read');
  expect(done.status?.phase).toBe('Succeeded');
  expect((done.status?.report as { binding: string }).binding).toBe(
    `RoleBinding read → ClusterRole ${reader}`,
  );
  await expect(rbac.readNamespacedRoleBinding({ namespace: ns, name: 'read' })).rejects.toThrow();
  const sa = await mgmt.core.readNamespacedServiceAccount({ namespace: ns, name: 'read' });
  expect(sa.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'TaskRun', name: 'read' });
}, 120_000);

it('an image that fails: Failed ContainerFailed with the exit code and reason', async () => {
  await create(ns, 'Task', 'failing', {
    plugin: 'custom-image',
    config: { image: 'busybox:fail', command: ['false'] },
  });
  await create(ns, 'TaskRun', 'fails', { taskName: 'failing' });
  const done = await finished(ns, 'fails');
  expect(done.status?.phase).toBe('Failed');
  expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('ContainerFailed');
  expect(done.status?.message).toBe(`Pod ${ns}/fails failed: container task exited 1 (Error)`);
}, 120_000);

it('a ClusterRole that does not exist, one not allowed, and a namespace not allowed: Failed, naming the field', async () => {
  await create(ns, 'Task', 'missing-role', {
    plugin: 'custom-image',
    config: { image: 'busybox', command: ['true'], clusterRole: 'no-such-role' },
  });
  await create(ns, 'TaskRun', 'missing', { taskName: 'missing-role' });
  const missing = await finished(ns, 'missing');
  expect(missing.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('ClusterRoleNotFound');
  expect(missing.status?.message).toBe('spec.config.clusterRole: ClusterRole no-such-role does not exist');

  const [kubectl] = [
    load(readFileSync(join('k8s', 'samples', '002-1.3-task-custom-image-kubectl.yaml'), 'utf8')) as Resource,
  ];
  await create(ns, 'Task', kubectl.metadata.name, kubectl.spec); // clusterRole: cluster-admin
  await create(ns, 'TaskRun', 'admin', { taskName: kubectl.metadata.name });
  const admin = await finished(ns, 'admin');
  expect(admin.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('CustomImageNotAllowed');
  expect(admin.status?.message).toMatch(
    /^spec\.config\.clusterRole: ClusterRole cluster-admin is not one the operator allows/,
  );

  await create(denied, 'Task', 'hello', {
    plugin: 'custom-image',
    config: { image: 'busybox', command: ['true'] },
  });
  await create(denied, 'TaskRun', 'hello', { taskName: 'hello' });
  const refused = await finished(denied, 'hello');
  expect(refused.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('CustomImageNotAllowed');
  expect(refused.status?.message).toContain(`custom-image Pods may not run in namespace ${denied}`);
  await expect(mgmt.core.readNamespacedPod({ namespace: denied, name: 'hello' })).rejects.toThrow();
}, 180_000);

it('deleting a running TaskRun deletes its Pod, ServiceAccount and binding', async () => {
  await create(ns, 'Task', 'long', {
    plugin: 'custom-image',
    config: { image: 'busybox:hang', command: ['sleep', '3600'], clusterRole: reader },
  });
  await create(ns, 'TaskRun', 'long', { taskName: 'long' });
  await eventually('the Pod running, its binding in place', async () => {
    const pod = await mgmt.core.readNamespacedPod({ namespace: ns, name: 'long' }).catch(() => undefined);
    const binding = await rbac
      .readNamespacedRoleBinding({ namespace: ns, name: 'long' })
      .catch(() => undefined);
    return pod?.status?.phase === 'Running' && binding !== undefined;
  });
  await custom.deleteNamespacedCustomObject(target('TaskRun', ns, 'long'));
  await eventually(
    'the TaskRun, its Pod, ServiceAccount and binding to go',
    async () => {
      const left = await Promise.all([
        getResource(custom, 'TaskRun', ns, 'long'),
        mgmt.core.readNamespacedPod({ namespace: ns, name: 'long' }).catch(() => undefined),
        mgmt.core.readNamespacedServiceAccount({ namespace: ns, name: 'long' }).catch(() => undefined),
        rbac.readNamespacedRoleBinding({ namespace: ns, name: 'long' }).catch(() => undefined),
      ]);
      return left.every((o) => o === undefined);
    },
    60_000,
  );
}, 120_000);
