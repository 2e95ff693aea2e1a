/**
 * Every sample of the Astronetes documentation (k8s/samples) through the bridge on the real
 * stack: created, its workflow runs and reports status; deleted, its workflow is cancelled and the
 * object goes. Addresses in the samples (ZooKeeper servers, bucket endpoints) are pointed at the
 * local stack first: no test ever contacts an address outside this machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ScheduleNotFoundError } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ALL_KINDS, API_VERSION, kindInfo, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { createKubeconfigSecrets, deleteAllOurs, eventually, getResource, target } from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { orchestratorKubeConfig } from './rbac.js';
import { buildTree, deleteTree, openSession, readTree, type NodeSpec } from './zk-tree.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const env = stackEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.MANAGEMENT_KUBECONFIG);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const samplesDir = join(process.cwd(), 'k8s', 'samples');
const files = readdirSync(samplesDir).filter((f) => f.endsWith('.yaml'));

/**
 * Samples the seed text uses together go into one namespace: a Bucket with its Secret and the
 * LiveSynchronization that names it; a Task with the TaskRun that executes it.
 */
const GROUPS: [RegExp, string][] = [
  [/^5\.1\.3\.3-gcp-/, '5.1.3.3 GCP bucket'],
  [/^5\.1\.3\.3-aws-/, '5.1.3.3 AWS bucket'],
  [/^5\.1\.3\.5-/, '5.1.3.5 recovering from a disaster'],
  [/^6\.1\.1-/, '6.1.1 generic bucket'],
  [/^6\.1\.[45]-/, '6.1.4-6.1.5 Task and TaskRun'],
  [/^6\.2\.[12]-/, '6.2.1-6.2.2 ZooKeeper synchronization'],
];
const groups = new Map<string, string[]>();
for (const file of files) {
  if (file.startsWith('6.2.3-')) continue; // the plan has its own test below
  const group = GROUPS.find(([re]) => re.test(file))?.[1] ?? file;
  groups.set(group, [...(groups.get(group) ?? []), file]);
}

/** What the seed text says each object ends as, where it is not simply Ready. */
function expectedOutcome(file: string, r: Resource): string {
  if (r.kind === 'Synchronization') return 'phase Succeeded'; // 6.2.2 copies /test
  if (r.kind === 'TaskRun') return 'phase Failed'; // the seed's patch path does not exist in a Deployment
  if (r.kind === 'Backup') return 'phase Failed'; // not executed yet
  if (file.includes('exclude-regex')) return 'Ready False InvalidSpec'; // the seed's "*.test"
  return 'Ready True';
}

function outcomeOf(r: Resource): string {
  if (r.status?.phase) return `phase ${r.status.phase}`;
  const c = r.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.status === 'True' ? 'Ready True' : `Ready ${c?.status} ${c?.reason}`;
}
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
let bundle: Promise<{ code: string }> | undefined;

/** An orchestrator (worker + bridge) watching one namespace; the workflow bundle is built once. */
async function orchestratorFor(namespace: string): Promise<Orchestrator> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: silent });
  return startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('samples'),
    },
    management: await orchestratorKubeConfig(), // the install's RBAC, not an admin certificate
    log: createLogger({ level: 'silent' }),
    instance: 'samples-test',
    namespaces: [namespace],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: await bundle },
  });
}

type Doc = Omit<Resource, 'kind'> & {
  kind: string;
  stringData?: Record<string, string>;
  metadata: Resource['metadata'] & { generateName?: string };
};

/** Points a sample's addresses and credentials at the local stack. */
function localize(doc: Doc): Doc {
  const copy = JSON.parse(JSON.stringify(doc)) as Doc;
  if (copy.kind === 'Database') {
    const zk = copy.metadata.name.includes('destination') ? env.ZK_DESTINATION : env.ZK_SOURCE;
    (copy.spec as { zookeeper: { client: { servers: string[] } } }).zookeeper.client.servers = [zk];
  }
  if (copy.kind === 'Bucket') {
    const generic = (copy.spec as { generic?: { endpoint: string; useSSL?: boolean; name: string } }).generic;
    if (generic)
      Object.assign(generic, {
        endpoint: env.S3_ENDPOINT.replace(/^https?:\/\//, ''),
        useSSL: false,
        name: env.S3_BUCKET,
      });
  }
  if (copy.kind === 'Secret' && copy.stringData?.accessKeyID) {
    copy.stringData = { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY };
  }
  return copy;
}

function get(kind: Kind, namespace: string, name: string): Promise<Resource | undefined> {
  return getResource(custom, kind, namespace, name);
}

/** The tree the ZooKeeper samples copy: `/test` on the source, nothing under it on the destination. */
const TEST_TREE: NodeSpec[] = [
  { path: '/test', data: Buffer.from('sample root') },
  { path: '/test/config', data: Buffer.from('{"replicas":3}') },
  { path: '/test/config/feature', data: Buffer.from('on') },
  { path: '/test/binary', data: Buffer.from([0, 1, 2, 255]) },
];

async function freshTestTree(destinationRoot = false): Promise<void> {
  for (const server of [env.ZK_SOURCE, env.ZK_DESTINATION]) {
    const session = await openSession([server]);
    try {
      await deleteTree(session, '/test');
      if (server === env.ZK_SOURCE) await buildTree(session, TEST_TREE);
      else if (destinationRoot) await buildTree(session, [{ path: '/test', data: Buffer.alloc(0) }]);
    } finally {
      session.close();
    }
  }
}

/** Whether the destination's `/test` equals the source's, data and ACLs. */
async function testTreeCopied(): Promise<boolean> {
  const [src, dst] = await Promise.all([openSession([env.ZK_SOURCE]), openSession([env.ZK_DESTINATION])]);
  try {
    const [want, have] = await Promise.all([
      readTree(src, '/test'),
      readTree(dst, '/test').catch(() => new Map()),
    ]);
    return (
      have.size === TEST_TREE.length && JSON.stringify([...have].sort()) === JSON.stringify([...want].sort())
    );
  } finally {
    src.close();
    dst.close();
  }
}

/** Creates the clusters and databases the samples name, as a user would before applying them. */
async function prerequisites(namespace: string): Promise<void> {
  await freshTestTree();
  await createKubeconfigSecrets(core, namespace);
  // An application for the recovery samples (5.1.3.5, 6.1.4) to patch: they name every Deployment.
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'app' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'app' } },
        template: {
          metadata: { labels: { app: 'app' } },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      },
    },
  });
  for (const doc of loadAllYaml(
    readFileSync(join(samplesDir, '6.1.2-kubernetesclusters.yaml'), 'utf8'),
  ) as Doc[]) {
    await apply(namespace, doc);
  }
  for (const doc of loadAllYaml(
    readFileSync(join(samplesDir, '6.2.1-zookeeper-databases.yaml'), 'utf8'),
  ) as Doc[]) {
    await apply(namespace, localize(doc));
  }
}

/** Creates one document; returns the name the API server gave it. */
async function apply(namespace: string, doc: Doc): Promise<{ kind: string; name: string }> {
  const body = { ...doc, metadata: { ...doc.metadata, namespace } };
  try {
    if (doc.kind === 'Secret') {
      await core.createNamespacedSecret({ namespace, body: body as never });
      return { kind: 'Secret', name: doc.metadata.name };
    }
    const { group, plural } = kindInfo(doc.kind as Kind);
    const created = (await custom.createNamespacedCustomObject({
      group,
      version: API_VERSION,
      namespace,
      plural,
      body,
    })) as Resource;
    return { kind: doc.kind, name: created.metadata.name };
  } catch (err) {
    if ((err as { code?: number }).code === 409) return { kind: doc.kind, name: doc.metadata.name }; // a prerequisite the sample repeats
    throw err;
  }
}

const settled = (r?: Resource) =>
  Boolean(r?.status?.workflowId) &&
  (r?.status?.conditions?.some((c) => c.type === 'Ready') ||
    ['Succeeded', 'Failed'].includes(r?.status?.phase ?? ''));

describe.each([...groups.entries()])('sample %s', (_group, groupFiles) => {
  const namespace = uniqueName('sample');
  let bridge: Orchestrator;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    bridge = await orchestratorFor(namespace);
    await prerequisites(namespace);
  });

  afterAll(async () => {
    await deleteAllOurs(custom, namespace);
    await bridge?.shutdown();
  });

  it('creates its workflow, reports status, and on delete cancels it and lets the object go', async () => {
    const created: { kind: Kind; name: string; file: string }[] = [];
    for (const file of groupFiles) {
      for (const doc of (loadAllYaml(readFileSync(join(samplesDir, file), 'utf8')) as Doc[]).filter(
        Boolean,
      )) {
        const { kind, name } = await apply(namespace, localize(doc));
        if (ALL_KINDS.includes(kind as Kind)) created.push({ kind: kind as Kind, name, file });
      }
    }
    expect(created.length).toBeGreaterThan(0);
    for (const { kind, name, file } of created) {
      const r = await eventually(`${kind} ${name} to report status`, async () => {
        const obj = await get(kind, namespace, name);
        return settled(obj) && outcomeOf(obj!) === expectedOutcome(file, obj!) ? obj : undefined;
      });
      expect(r.status?.workflowId).toBe(`${kind}/${namespace}/${name}/${r.metadata.uid}`);
      if (kind === 'Synchronization') expect(await testTreeCopied()).toBe(true); // 6.2.2: /test copied
      if (kind === 'TaskRun') {
        // The seed's patch path /labels/test is not in a Deployment: a per-object report, no change.
        const report = r.status?.report as { resources: { objects: { object: string; error?: string }[] }[] };
        const ours = report.resources[0].objects.find((o) => o.object === `${namespace}/app`);
        expect(ours?.error).toMatch(/\/labels\/test/);
      }
      expect(r.status?.observedGeneration).toBe(r.metadata.generation);
      const description = await bridge.client.workflow.getHandle(r.status!.workflowId!).describe();
      expect(description.searchAttributes).toBeDefined();
    }
    for (const { kind, name } of created) {
      const r = (await get(kind, namespace, name))!;
      await custom.deleteNamespacedCustomObject(target(kind, namespace, name));
      await eventually(`${kind} ${name} to go`, async () => (await get(kind, namespace, name)) === undefined);
      const closed = await bridge.client.workflow.getHandle(r.status!.workflowId!).describe();
      expect(['CANCELLED', 'COMPLETED']).toContain(closed.status.name);
    }
  });
});

describe('SynchronizationPlan (sample 6.2.3) on a Temporal Schedule', () => {
  const namespace = uniqueName('plan');
  let bridge: Orchestrator;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    bridge = await orchestratorFor(namespace);
    await prerequisites(namespace);
  });
  afterAll(async () => {
    await deleteAllOurs(custom, namespace);
    await bridge?.shutdown();
  });

  it('schedules, fires a Synchronization from the template, pauses on suspend and deletes the schedule with the plan', async () => {
    const [plan] = loadAllYaml(
      readFileSync(join(samplesDir, '6.2.3-zookeeper-synchronizationplan.yaml'), 'utf8'),
    ) as Doc[];
    await apply(namespace, plan);
    const name = plan.metadata.name;
    const scheduled = await eventually('plan scheduled', async () => {
      const r = await get('SynchronizationPlan', namespace, name);
      return r?.status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'Scheduled')
        ? r
        : undefined;
    });
    const scheduleId = `SynchronizationPlan/${namespace}/${name}/${scheduled.metadata.uid}`;
    const schedule = bridge.client.schedule.getHandle(scheduleId);
    const described = await schedule.describe();
    expect(described.spec.calendars?.length).toBeGreaterThan(0);
    expect(described.state.paused).toBe(false);

    // 6.2.3 has no createRootPath: /test must exist on the destination, as the seed's setup has it.
    await freshTestTree(true);
    await schedule.trigger();
    const sync = await eventually('a Synchronization from the template', async () => {
      const list = (await custom.listNamespacedCustomObject({
        group: 'automation.astronetes.io',
        version: API_VERSION,
        namespace,
        plural: 'synchronizations',
        labelSelector: `automation.astronetes.io/synchronization-plan=${name}`,
      })) as { items: Resource[] };
      return list.items[0];
    });
    expect(sync.spec).toEqual(plan.spec && (plan.spec as { template: { spec: unknown } }).template.spec);
    expect(sync.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'SynchronizationPlan',
      name,
      uid: scheduled.metadata.uid,
    });
    // The firing copies the source's /test into the destination's.
    await eventually(
      'the firing to succeed and copy /test',
      async () => {
        const r = await get('Synchronization', namespace, sync.metadata.name);
        return r?.status?.phase === 'Succeeded' && (await testTreeCopied());
      },
      60_000,
    );
    await eventually(
      'lastScheduleTime',
      async () => (await get('SynchronizationPlan', namespace, name))?.status?.lastScheduleTime,
    );

    await custom.patchNamespacedCustomObject(
      { ...target('SynchronizationPlan', namespace, name), body: { spec: { suspend: true } } },
      MERGE,
    );
    await eventually('schedule paused', async () => (await schedule.describe()).state.paused);

    await custom.deleteNamespacedCustomObject(target('SynchronizationPlan', namespace, name));
    await eventually(
      'plan gone',
      async () => (await get('SynchronizationPlan', namespace, name)) === undefined,
    );
    await expect(schedule.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });
});
