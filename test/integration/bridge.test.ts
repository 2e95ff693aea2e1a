/**
 * The CRD bridge on the real stack: `kubectl apply`-style creates, spec changes and deletes of our
 * custom resources start, steer and stop their Temporal workflows; status, finalizers, search
 * attributes and the bad inputs of the issue, each named in status without affecting the others.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { API_VERSION, kindInfo, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { FINALIZER } from '../../src/bridge/finalizer.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import {
  createKubeconfigSecrets,
  deleteAllOurs,
  eventually,
  getResource,
  target as targetOf,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { orchestratorKubeConfig } from './rbac.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const env = stackEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.MANAGEMENT_KUBECONFIG);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const ns = uniqueName('bridge');
const taskQueue = uniqueName('bridge-test');

function sample(file: string, kind?: Kind): Resource {
  const docs = loadAllYaml(readFileSync(join(process.cwd(), 'k8s', 'samples', file), 'utf8')) as Resource[];
  const doc = kind ? docs.find((d) => d.kind === kind) : docs[0];
  if (!doc) throw new Error(`no ${kind} in ${file}`);
  return doc;
}

function target(kind: Kind, name: string) {
  return targetOf(kind, ns, name);
}

async function create(obj: Resource | Record<string, unknown>): Promise<Resource> {
  const r = obj as Resource;
  const { group, plural } = kindInfo(r.kind);
  return (await custom.createNamespacedCustomObject({
    group,
    version: API_VERSION,
    namespace: ns,
    plural,
    body: { ...r, metadata: { ...r.metadata, namespace: ns } },
  })) as Resource;
}

function get(kind: Kind, name: string): Promise<Resource | undefined> {
  return getResource(custom, kind, ns, name);
}

async function patchSpec(kind: Kind, name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObject({ ...target(kind, name), body: { spec } }, MERGE);
}

const ready = (r?: Resource) => r?.status?.conditions?.find((c) => c.type === 'Ready');

/** Waits until Ready has `status` (and the given generation is observed), and returns the object. */
function readyIs(kind: Kind, name: string, status: 'True' | 'False', generation = 1): Promise<Resource> {
  return eventually(`${kind} ${name} Ready=${status}`, async () => {
    const r = await get(kind, name);
    return ready(r)?.status === status && r?.status?.observedGeneration === generation ? r : undefined;
  });
}

function phaseIs(kind: Kind, name: string, phase: string): Promise<Resource> {
  return eventually(`${kind} ${name} phase ${phase}`, async () => {
    const r = await get(kind, name);
    return r?.status?.phase === phase ? r : undefined;
  });
}

async function workflowsOf(kind: Kind, name: string) {
  const found = [];
  const query = `AstronetesKind="${kind}" AND AstronetesNamespace="${ns}" AND AstronetesName="${name}"`;
  for await (const w of orchestrator.client.workflow.list({ query })) found.push(w);
  return found;
}

let orchestrator: Orchestrator;

async function start(): Promise<void> {
  orchestrator = await startOrchestrator({
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE, taskQueue },
    management: await orchestratorKubeConfig(), // the install's RBAC, not an admin certificate
    log: createLogger({ level: 'silent' }),
    instance: 'bridge-test',
    namespaces: [ns],
    recheckSeconds: 2,
  });
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await createKubeconfigSecrets(core, ns);
  await start();
  for (const doc of loadAllYaml(
    readFileSync(join(process.cwd(), 'k8s/samples/6.1.2-kubernetesclusters.yaml'), 'utf8'),
  )) {
    await create(doc as Resource);
  }
});

afterAll(async () => {
  await deleteAllOurs(custom, ns);
  await orchestrator?.shutdown();
});

describe('assets', () => {
  it('reports a reachable KubernetesCluster Ready, with its workflow findable by search attributes', async () => {
    const cluster = await readyIs('KubernetesCluster', 'source', 'True');
    expect(ready(cluster)?.reason).toBe('Connected');
    expect(cluster.metadata.finalizers).toContain(FINALIZER);
    expect(cluster.status?.workflowId).toBe(`KubernetesCluster/${ns}/source/${cluster.metadata.uid}`);
    const workflows = await workflowsOf('KubernetesCluster', 'source');
    expect(workflows.map((w) => [w.workflowId, w.status.name, w.type])).toEqual([
      [cluster.status?.workflowId, 'RUNNING', 'assetWorkflow'],
    ]);
  });

  it('shows a missing Secret as Ready=False and recovers by itself once the Secret exists', async () => {
    await create({
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'KubernetesCluster',
      metadata: { name: 'late' },
      spec: { secretName: 'late-secret' },
    });
    const broken = await readyIs('KubernetesCluster', 'late', 'False');
    expect(ready(broken)).toMatchObject({
      reason: 'SecretNotFound',
      message: `spec.secretName: Secret ${ns}/late-secret not found`,
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'late-secret' },
        stringData: { 'kubeconfig.yaml': readFileSync(env.DESTINATION_KUBECONFIG, 'utf8') },
      },
    });
    await readyIs('KubernetesCluster', 'late', 'True');
  });

  it('shows an unreachable cluster as Ready=False with the address', async () => {
    const kubeconfig = readFileSync(env.SOURCE_KUBECONFIG, 'utf8').replace(
      /server: https:\/\/127\.0\.0\.1:\d+/,
      'server: https://127.0.0.1:1',
    );
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'dead' }, stringData: { 'kubeconfig.yaml': kubeconfig } },
    });
    await create({
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'KubernetesCluster',
      metadata: { name: 'dead' },
      spec: { secretName: 'dead' },
    });
    const dead = await readyIs('KubernetesCluster', 'dead', 'False');
    expect(ready(dead)?.reason).toBe('Unreachable');
    expect(ready(dead)?.message).toMatch(/^cluster https:\/\/127\.0\.0\.1:1 unreachable: .*ECONNREFUSED/);
  });
});

describe('a Bucket', () => {
  it('with wrong credentials shows Ready=False access denied; with the right ones, Ready', async () => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'wrong-keys' },
        stringData: { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: 'wrong' },
      },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'right-keys' },
        stringData: { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
      },
    });
    const bucket = (name: string, secretName: string) => ({
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'Bucket',
      metadata: { name },
      spec: {
        generic: {
          name: env.S3_BUCKET,
          endpoint: env.S3_ENDPOINT.replace('http://', ''),
          useSSL: false,
          secretName,
        },
      },
    });
    await create(bucket('denied', 'wrong-keys'));
    await create(bucket('granted', 'right-keys'));
    const denied = await readyIs('Bucket', 'denied', 'False');
    expect(ready(denied)?.message).toBe(`bucket ${env.S3_BUCKET}: access denied (check the credentials)`);
    await readyIs('Bucket', 'granted', 'True');
  });
});

describe('LiveSynchronization lifecycle', () => {
  it('starts one workflow on create, signals it on spec change, and cancels it on delete', async () => {
    const created = await create(sample('6.1.3-livesynchronization.yaml'));
    const name = created.metadata.name;
    const first = await readyIs('LiveSynchronization', name, 'True');
    expect(ready(first)).toMatchObject({ reason: 'Replicating', observedGeneration: 1 });
    const [workflow] = await workflowsOf('LiveSynchronization', name);
    expect(workflow.type).toBe('liveSynchronizationWorkflow');
    expect(workflow.memo).toMatchObject({ resource: `LiveSynchronization ${ns}/${name}` });

    const columns = execFileSync(
      join(process.cwd(), '.tools/bin/kubectl'),
      ['--kubeconfig', env.MANAGEMENT_KUBECONFIG, '-n', ns, 'get', 'livesynchronizations', name],
      { encoding: 'utf8' },
    );
    expect(columns.split('\n')[0].split(/\s+/)).toEqual([
      'NAME',
      'SOURCE',
      'DESTINATION',
      'SUSPEND',
      'READY',
      'AGE',
    ]);
    expect(columns.split('\n')[1].split(/\s+/).slice(0, 5)).toEqual([
      name,
      'source',
      'destination',
      'false',
      'True',
    ]);
    const events = await core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=${name}`,
    });
    expect(events.items.map((e) => [e.type, e.reason])).toContainEqual(['Normal', 'Replicating']);

    await patchSpec('LiveSynchronization', name, { suspend: true });
    const suspended = await readyIs('LiveSynchronization', name, 'False', 2);
    expect(ready(suspended)?.reason).toBe('Suspended');
    await patchSpec('LiveSynchronization', name, { suspend: false });
    await readyIs('LiveSynchronization', name, 'True', 3);
    const after = await workflowsOf('LiveSynchronization', name);
    expect(after.map((w) => w.runId)).toEqual([workflow.runId]); // signalled, never restarted

    await custom.deleteNamespacedCustomObject(target('LiveSynchronization', name));
    await eventually(
      'LiveSynchronization gone',
      async () => (await get('LiveSynchronization', name)) === undefined,
    );
    const handle = orchestrator.client.workflow.getHandle(workflow.workflowId);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  });
});

describe('bad input is named in status, and nothing else stops', () => {
  const live = (name: string, config: unknown, plugin = 'kubernetes-objects-to-kubernetes') => ({
    apiVersion: 'automation.astronetes.io/v1alpha1',
    kind: 'LiveSynchronization',
    metadata: { name },
    spec: { plugin, config },
  });
  const resources = [{ group: 'apps', version: 'v1', resource: 'deployments' }];

  it.each([
    [
      'an unknown plugin',
      live('unknown-plugin', {}, 'kubernetes-to-kubernetes'),
      'InvalidSpec',
      'spec.plugin: unknown plugin for LiveSynchronization: "kubernetes-to-kubernetes"',
    ],
    [
      'a config that fails the schema',
      live('bad-config', { sourceName: 'source', replication: { resources } }),
      'InvalidSpec',
      'spec.config.destinationName: required',
    ],
    [
      'a missing cluster',
      live('missing-cluster', {
        sourceName: 'nope',
        destinationName: 'destination',
        replication: { resources },
      }),
      'ReferenceNotReady',
      `spec.config.sourceName: KubernetesCluster ${'NS'}/nope not found`,
    ],
    [
      'a missing bucket',
      live('missing-bucket', {
        sourceName: 'source',
        destinationName: 'destination',
        bucketName: 'nobucket',
        replication: { resources },
      }),
      'ReferenceNotReady',
      `spec.config.bucketName: Bucket ${'NS'}/nobucket not found`,
    ],
    [
      "the seed's invalid regular expression",
      sample('5.1.3.2-livesynchronization-exclude-regex.yaml'),
      'InvalidSpec',
      '"*.test" is not a valid regular expression',
    ],
    [
      'an invalid cron expression',
      {
        apiVersion: 'automation.astronetes.io/v1alpha1',
        kind: 'SynchronizationPlan',
        metadata: { name: 'bad-cron' },
        spec: {
          schedule: '99 * * * *',
          template: {
            spec: {
              plugin: 'zookeeper-to-zookeeper-nodes',
              config: { sourceName: 'a', destinationName: 'b', rootPath: '/x' },
            },
          },
        },
      },
      'InvalidSpec',
      'spec.schedule: "99 * * * *" is not a cron expression',
    ],
  ])('%s → Ready=False naming the field', async (_what, obj, reason, message) => {
    const name = `${(obj as Resource).metadata.name}-${Math.random().toString(36).slice(2, 6)}`;
    const created = await create({ ...(obj as Resource), metadata: { name } });
    const r = await readyIs(created.kind, name, 'False');
    expect(ready(r)?.reason).toBe(reason);
    expect(ready(r)?.message).toContain(message.replace('NS', ns));
  });

  it('a TaskRun naming a missing Task → phase Failed naming spec.taskName', async () => {
    await create({
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'TaskRun',
      metadata: { name: 'orphan' },
      spec: { taskName: 'no-such-task' },
    });
    const run = await phaseIs('TaskRun', 'orphan', 'Failed');
    expect(run.status?.message).toBe(`spec.taskName: Task ${ns}/no-such-task not found`);
    expect(run.status?.completionTime).toBeDefined();
  });

  it('a missing reference recovers by itself once the object exists', async () => {
    await create(
      live('waits-for-cluster', {
        sourceName: 'later',
        destinationName: 'destination',
        replication: { resources },
      }),
    );
    await readyIs('LiveSynchronization', 'waits-for-cluster', 'False');
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'later' },
        stringData: { 'kubeconfig.yaml': readFileSync(env.SOURCE_KUBECONFIG, 'utf8') },
      },
    });
    await create({
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'KubernetesCluster',
      metadata: { name: 'later' },
      spec: { secretName: 'later' },
    });
    await readyIs('LiveSynchronization', 'waits-for-cluster', 'True');
  });

  it('left the healthy objects healthy', async () => {
    expect(ready(await get('KubernetesCluster', 'source'))?.status).toBe('True');
    expect(ready(await get('KubernetesCluster', 'destination'))?.status).toBe('True');
  });
});

describe('a bridge restart', () => {
  it('re-lists and converges with no duplicate workflows', async () => {
    const before = await workflowsOf('KubernetesCluster', 'source');
    await orchestrator.shutdown();
    await start();
    await orchestrator.bridge!.idle();
    await create({
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'KubernetesCluster',
      metadata: { name: 'after-restart' },
      spec: { secretName: 'source' },
    });
    await readyIs('KubernetesCluster', 'after-restart', 'True');
    const after = await workflowsOf('KubernetesCluster', 'source');
    expect(after.map((w) => [w.workflowId, w.runId, w.status.name])).toEqual(
      before.map((w) => [w.workflowId, w.runId, 'RUNNING']),
    );
  });
});
