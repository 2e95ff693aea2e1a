/**
 * kubernetes-objects-transformation Tasks run by TaskRuns through the bridge, on the real
 * management cluster, with the install's RBAC: a dry run changes nothing and names exactly what
 * the real run then changes; the real run patches every selected object once; a patch that does
 * not apply to some objects is reported per object; the seed's own sample ends with a per-object
 * report. (fromOriginal, custom-image and the disaster drill are issue 9's next steps.)
 */
import { AppsV1Api, CoreV1Api, loadAllYaml } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { PATCHED_BY_ANNOTATION } from '../../src/plugins/kubernetes-objects-transformation/execute.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { orchestratorKubeConfig } from './rbac.js';
import { deleteAllOurs, eventually, getResource, managementClients, target } from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { kc, custom } = managementClients();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const ns = uniqueName('recovery');
let orchestrator: Orchestrator;
const SELECTED = ['web', 'api', 'worker'];

function deployment(name: string, labels: Record<string, string>) {
  return {
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
}

const scaleUp = (patch: unknown[], patchOptions?: unknown) => ({
  plugin: 'kubernetes-objects-transformation',
  config: {
    resources: [
      {
        identifier: { group: 'apps', version: 'v1', resources: 'deployments' },
        selector: { matchLabels: { recover: ns } },
        patch: { operations: patch },
        ...(patchOptions ? { patchOptions } : {}),
      },
    ],
  },
});

async function create(kind: 'Task' | 'TaskRun', name: string, spec: unknown): Promise<Resource> {
  return (await custom.createNamespacedCustomObject({
    ...target(kind, ns, ''),
    body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
  })) as Resource;
}

function finished(name: string): Promise<Resource> {
  return eventually(
    `TaskRun ${name} to finish`,
    async () => {
      const r = await getResource(custom, 'TaskRun', ns, name);
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    60_000,
  );
}

async function replicas(): Promise<Record<string, number | undefined>> {
  const list = await apps.listNamespacedDeployment({ namespace: ns });
  return Object.fromEntries(list.items.map((d) => [d.metadata!.name!, d.spec?.replicas]));
}

interface Report {
  dryRun: boolean;
  resources: {
    matched: number;
    patched: number;
    unchanged: number;
    failed: number;
    objects: { object: string; result: string; error?: string; patch?: unknown[] }[];
  }[];
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
  for (const name of SELECTED)
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, { recover: ns }) });
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment('left-alone', {}) });
  await apps.patchNamespacedDeployment({
    namespace: ns,
    name: 'web',
    body: [{ op: 'add', path: '/metadata/labels/optional', value: 'yes' }],
  });
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('recovery'),
    },
    management: await orchestratorKubeConfig(), // the install's RBAC, recovery role included
    log: createLogger({ level: 'silent' }),
    instance: 'recovery-test',
    namespaces: [ns],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: silent }) },
  });
}, 120_000);

afterAll(async () => {
  await deleteAllOurs(custom, ns, 120_000);
  await orchestrator?.shutdown();
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 180_000);

it('a dry run changes nothing and names exactly what the real run then changes', async () => {
  await create('Task', 'scale-up', scaleUp([{ op: 'replace', path: '/spec/replicas', value: 2 }]));
  await create('TaskRun', 'preview', { taskName: 'scale-up', dryRun: true });
  const preview = await finished('preview');
  expect(preview.status?.phase).toBe('Succeeded');
  expect(preview.status?.message).toMatch(/^would patch 3 of 3 objects, 0 unchanged, 0 failed/);
  expect(await replicas()).toEqual({ web: 0, api: 0, worker: 0, 'left-alone': 0 });
  const report = preview.status?.report as Report;
  expect(report.dryRun).toBe(true);
  const wouldPatch = report.resources[0].objects.map((o) => o.object).sort();
  expect(wouldPatch).toEqual(SELECTED.map((n) => `${ns}/${n}`).sort());
  for (const o of report.resources[0].objects) {
    expect(o.result).toBe('would-patch');
    expect(o.patch).toEqual([{ op: 'replace', path: '/spec/replicas', value: 2 }]);
  }
  const configMap = await core.readNamespacedConfigMap({ namespace: ns, name: 'preview-dry-run' });
  expect(JSON.parse(configMap.data!['report.json']).resources[0].objects).toHaveLength(3);

  const run = await create('TaskRun', 'recover', { taskName: 'scale-up' });
  const done = await finished('recover');
  expect(done.status?.phase).toBe('Succeeded');
  expect(done.status?.message).toMatch(/^patched 3 of 3 objects, 0 unchanged, 0 failed in [\d.]+ s$/);
  expect(done.status?.progress).toEqual({ matched: 3, patched: 3, restored: 0, unchanged: 0, failed: 0 });
  expect(await replicas()).toEqual({ web: 2, api: 2, worker: 2, 'left-alone': 0 });
  const changed = (await apps.listNamespacedDeployment({ namespace: ns })).items
    .filter((d) => d.metadata?.annotations?.[PATCHED_BY_ANNOTATION] === run.metadata.uid)
    .map((d) => `${ns}/${d.metadata!.name}`)
    .sort();
  expect(changed).toEqual(wouldPatch);

  // Running it again changes nothing: every object already has what the patch gives.
  await create('TaskRun', 'again', { taskName: 'scale-up' });
  expect((await finished('again')).status?.message).toMatch(/^patched 0 of 3 objects, 3 unchanged, 0 failed/);
}, 180_000);

it('a patch that does not apply to some objects reports each, and skipIfNotFoundOnDelete silences it', async () => {
  await create('Task', 'drop-label', scaleUp([{ op: 'remove', path: '/metadata/labels/optional' }]));
  await create('TaskRun', 'drop', { taskName: 'drop-label' });
  const done = await finished('drop');
  expect(done.status?.phase).toBe('Failed');
  expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('TransformationIncomplete');
  expect(done.status?.message).toMatch(/^patched 1 of 3 objects, 0 unchanged, 2 failed/);
  const report = done.status?.report as Report;
  const failed = report.resources[0].objects
    .filter((o) => o.result === 'failed')
    .map((o) => o.object)
    .sort();
  expect(failed).toEqual([`${ns}/api`, `${ns}/worker`]);
  expect(
    (await apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).metadata?.labels?.optional,
  ).toBeUndefined();

  await create(
    'Task',
    'drop-label-quietly',
    scaleUp([{ op: 'remove', path: '/metadata/labels/optional' }], { skipIfNotFoundOnDelete: true }),
  );
  await create('TaskRun', 'drop-quietly', { taskName: 'drop-label-quietly' });
  const quiet = await finished('drop-quietly');
  expect(quiet.status?.phase).toBe('Succeeded');
  expect(quiet.status?.message).toMatch(/^patched 0 of 3 objects, 3 unchanged, 0 failed/);
}, 120_000);

it("the seed's sample 6.1.4 (a patch of /labels/test) ends with a per-object report, changing nothing", async () => {
  const [task] = loadAllYaml(readFileSync(join('k8s', 'samples', '6.1.4-task.yaml'), 'utf8')) as Resource[];
  // As the seed writes it, the Task patches every Deployment of the cluster; here, ours only.
  const config = task.spec as { config: { resources: Record<string, unknown>[] } };
  config.config.resources[0].selector = { matchLabels: { recover: ns } };
  await create('Task', task.metadata.name, task.spec);
  await create('TaskRun', 'seed-run', { taskName: task.metadata.name });
  const done = await finished('seed-run');
  expect(done.status?.phase).toBe('Failed');
  const report = done.status?.report as Report;
  expect(report.resources[0]).toMatchObject({ matched: 3, patched: 0, failed: 3 });
  for (const o of report.resources[0].objects) expect(o.error).toMatch(/\/labels\/test|path/i);
  expect(done.status?.message).toMatch(/spec\.config\.resources\[0\] .*\/(web|api|worker): /);
  expect(await replicas()).toEqual({ web: 2, api: 2, worker: 2, 'left-alone': 0 });
}, 120_000);

it("a TaskRun restarts as its Task's restartPolicy says, up to backoffLimit, unless the TaskRun overrides it", async () => {
  const failing = scaleUp([{ op: 'remove', path: '/metadata/labels/not-there' }]);
  await create('Task', 'retrying', { ...failing, restartPolicy: 'OnFailure', backoffLimit: 1 });
  await create('TaskRun', 'retried', { taskName: 'retrying' });
  const retried = await eventually(
    'TaskRun retried to fail after its restart',
    async () => {
      const r = await getResource(custom, 'TaskRun', ns, 'retried');
      return r?.status?.phase === 'Failed' ? r : undefined;
    },
    90_000,
  );
  expect(retried.status).toMatchObject({ restarts: 1, restartLimit: 1 });
  expect(retried.status?.message).toMatch(/\(after 1 of 1 restarts\)$/);
  expect(retried.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe(
    'TransformationIncomplete',
  );

  await create('TaskRun', 'once', { taskName: 'retrying', restartPolicy: 'Never' });
  const once = await finished('once');
  expect(once.status?.phase).toBe('Failed');
  expect(once.status?.restarts).toBeUndefined();
  expect(once.status?.message).not.toMatch(/restarts/);
}, 150_000);
