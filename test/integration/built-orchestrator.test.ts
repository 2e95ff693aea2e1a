/**
 * The image's entry on the real stack: `npm run build`, then the orchestrator as a plain
 * `node dist/src/main.js` child process (no tsx, as the image runs it), with the install's RBAC.
 * It must do real work (a Synchronization applied through the bridge copies ConfigMaps from the
 * source cluster to the destination) with the workflow bundle of the build, not one made by webpack
 * at start-up; without that bundle it must stop at once with one line saying what to do.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { stackDir } from '../../tools/stack/paths.js';
import { buildDist } from '../bench/proc.js';
import { orchestratorKubeconfigFile } from './rbac.js';
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

const ns = uniqueName('built');
const data = uniqueName('built-data'); // the source namespace whose ConfigMaps are copied
const taskQueue = uniqueName('built');
const logFile = join(stackDir, 'logs', `${taskQueue}.log`);
let saKubeconfig = '';
const worker = new WorkerProcess({
  taskQueue,
  namespace: ns,
  logFile,
  kubeconfig: () => saKubeconfig,
  entry: 'built',
});
const log = () => readFileSync(logFile, 'utf8');

beforeAll(async () => {
  // A clean clone has no dist/: build it here, as the image's build stage does (15 to 40 s).
  const ms = buildDist();
  process.stderr.write(`built-orchestrator: npm run build took ${(ms / 1000).toFixed(1)} s\n`);
  saKubeconfig = await orchestratorKubeconfigFile();
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await src.core.createNamespace({ body: { metadata: { name: data, labels: { 'built-test': data } } } });
  for (const name of ['one', 'two', 'three'])
    await src.core.createNamespacedConfigMap({
      namespace: data,
      body: { metadata: { name, labels: { app: 'built' } }, data: { value: name } },
    });
  await createClusterAssets(custom, mgmt.core, ns);
  worker.start();
  await eventually(
    'the built orchestrator to be running',
    async () => log().includes('orchestrator running'),
    90_000,
  );
}, 240_000);

afterAll(async () => {
  await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
  await worker.stop('SIGTERM');
  for (const c of [src, dst]) await c.core.deleteNamespace({ name: data }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
}, 120_000);

it('runs as plain node on the build output, with the prebuilt workflow bundle and without webpack or swc', () => {
  const pid = worker.pid!;
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  expect(cmdline.slice(1, cmdline.indexOf('--temporal-address'))).toEqual(['dist/src/main.js']);
  const lines = log();
  expect(lines).toContain('"msg":"workflows: prebuilt bundle"');
  expect(lines).toContain(`"codePath":"${join(process.cwd(), 'dist', 'workflow-bundle.js')}"`);
  expect(lines).not.toContain('workflows: bundling from source');
  expect(lines).not.toContain('Workflow bundle created'); // the SDK's line when webpack bundles
  // swc (webpack's TypeScript loader) is a native addon: loaded, it would be mapped into the process.
  expect(readFileSync(`/proc/${pid}/maps`, 'utf8')).not.toMatch(/swc/);
});

it('copies ConfigMaps through a Synchronization applied to the management cluster', async () => {
  await custom.createNamespacedCustomObject({
    ...target('Synchronization', ns, ''),
    body: {
      apiVersion: `automation.astronetes.io/${API_VERSION}`,
      kind: 'Synchronization',
      metadata: { name: 'copy' },
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
                filters: { namespaceSelector: { matchLabels: { 'built-test': data } } },
                transformation: { patch: [{ op: 'add', path: '/metadata/labels/copied', value: 'yes' }] },
              },
            ],
          },
        },
      },
    },
  });
  const done = await eventually(
    'the Synchronization to finish',
    async () => {
      const r: Resource | undefined = await getResource(custom, 'Synchronization', ns, 'copy');
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    90_000,
  );
  expect(done.status?.phase).toBe('Succeeded');
  expect(done.status?.progress).toMatchObject({ inSync: 3, failed: 0, pending: 0 });
  const copies = await dst.core.listNamespacedConfigMap({ namespace: data, labelSelector: 'copied=yes' });
  expect(copies.items.map((c) => [c.metadata!.name, c.data]).sort()).toEqual([
    ['one', { value: 'one' }],
    ['three', { value: 'three' }],
    ['two', { value: 'two' }],
  ]);
}, 120_000);

it('stops at once with one error line, exit code 1, when the build output has no workflow bundle', () => {
  // The running orchestrator read its bundle at start-up; the file is put back whatever happens.
  const bundle = join(process.cwd(), 'dist', 'workflow-bundle.js');
  renameSync(bundle, `${bundle}.aside`);
  try {
    const res = spawnSync(
      process.execPath,
      [
        'dist/src/main.js',
        '--temporal-address',
        env.TEMPORAL_ADDRESS,
        '--kubeconfig',
        env.MANAGEMENT_KUBECONFIG,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, METRICS_PORT: '0', TEMPORAL_METRICS_PORT: '0' },
      },
    );
    expect(res.stderr).toBe(
      `error: ${bundle} is missing: the compiled worker runs the workflow bundle of the same build; run \`npm run build\`\n`,
    );
    expect(res.signal).toBeNull(); // it exited by itself, not by the timeout
    expect(res.status).toBe(1);
  } finally {
    renameSync(`${bundle}.aside`, bundle);
  }
}, 90_000);
