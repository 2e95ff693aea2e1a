/**
 * A recovery TaskRun through the bridge, with the orchestrator as a child process on the real
 * stack: a kill -9 halfway through a TaskRun over 3,000 Deployments resumes and finishes, and no
 * Deployment is patched twice: the patch appends to a list (`add .../args/-`), which a second
 * application would show as a second entry.
 */
import { join } from 'node:path';
import { pool } from '../../src/pool.js';
import { stackDir } from '../../tools/stack/paths.js';
import { orchestratorKubeconfigFile } from './rbac.js';
import {
  clusterClients,
  deleteAllOurs,
  eventually,
  maxActivityAttempt,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const ns = uniqueName('rccrash');
const taskQueue = uniqueName('rccrash');
const DEPLOYMENTS = 3000;
let saKubeconfig = '';
const worker = new WorkerProcess({
  taskQueue,
  namespace: ns,
  logFile: join(stackDir, 'logs', `${taskQueue}.log`),
  kubeconfig: () => saKubeconfig,
});

async function create(kind: 'Task' | 'TaskRun', name: string, spec: unknown): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...target(kind, ns, ''),
    body: { apiVersion: 'automation.astronetes.io/v1alpha1', kind, metadata: { name }, spec },
  });
}

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `app-${i}`);
  await pool(names, 32, async (name) => {
    await mgmt.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels: { recover: ns } },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'c', image: 'busybox', args: ['serve'] }] },
          },
        },
      },
    });
  });
  saKubeconfig = await orchestratorKubeconfigFile(); // the install's RBAC, recovery role included
  worker.start();
}, 240_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 120_000);
  await worker.stop('SIGTERM');
  // No namespace controller runs in the stack: empty the namespace before deleting it.
  await mgmt.apps.deleteCollectionNamespacedDeployment({ namespace: ns }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 240_000);

it('a kill -9 halfway through a TaskRun over 3,000 Deployments resumes, and patches each exactly once', async () => {
  await create('Task', 'bring-back', {
    plugin: 'kubernetes-objects-transformation',
    config: {
      resources: [
        {
          identifier: { group: 'apps', version: 'v1', resources: 'deployments' },
          selector: { matchLabels: { recover: ns } },
          patch: {
            operations: [
              { op: 'replace', path: '/spec/replicas', value: 2 },
              {
                op: 'add',
                path: '/spec/template/spec/containers/0/args/-',
                value: '--recovered',
              },
            ],
          },
        },
      ],
    },
  });
  await create('TaskRun', 'drill', { taskName: 'bring-back' });
  const statusOf = async () => (await getResource(custom, 'TaskRun', ns, 'drill'))?.status;
  await eventually(
    'the TaskRun under way',
    async () => {
      const s = await statusOf();
      const patched = (s?.progress as { patched?: number } | undefined)?.patched ?? 0;
      return s?.phase === 'Running' && patched >= 100 ? s : undefined;
    },
    120_000,
  );
  await worker.stop('SIGKILL');
  worker.start();
  const done = await eventually(
    'the TaskRun to finish after the kill',
    async () => {
      const s = await statusOf();
      return s?.phase === 'Succeeded' || s?.phase === 'Failed' ? s : undefined;
    },
    300_000,
  );
  expect(done.message).toMatch(
    new RegExp(`^patched ${DEPLOYMENTS} of ${DEPLOYMENTS} objects, 0 unchanged, 0 failed`),
  );
  expect(done.phase).toBe('Succeeded');

  // Every Deployment: replicas 2 and `--recovered` appended once, whichever attempt patched it.
  const list = await mgmt.apps.listNamespacedDeployment({ namespace: ns });
  expect(list.items).toHaveLength(DEPLOYMENTS);
  const wrong = list.items.filter(
    (d) =>
      d.spec?.replicas !== 2 ||
      JSON.stringify(d.spec.template.spec?.containers[0].args) !== JSON.stringify(['serve', '--recovered']),
  );
  expect(wrong.map((d) => d.metadata?.name)).toEqual([]);

  // The second attempt ran after the kill: Temporal shows two attempts of the activity.
  expect(await maxActivityAttempt(done.workflowId as string)).toBeGreaterThanOrEqual(2);
}, 480_000);
