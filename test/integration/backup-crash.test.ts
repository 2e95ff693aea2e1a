/**
 * A Backup through the bridge, with the orchestrator as a child process on the real stack: a
 * kill -9 halfway through a backup of 4,000 ConfigMaps resumes the same run from its checkpoint
 * (files already in the bucket are not written again) and ends Succeeded with a Complete
 * manifest that lists every object, never a falsely complete one.
 */
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Resource } from '../../src/api/types.js';
import { parseManifest } from '../../src/bucket/manifest.js';
import { stackDir } from '../../tools/stack/paths.js';
import { pool } from '../../src/pool.js';
import { orchestratorKubeconfigFile } from './rbac.js';
import {
  bucketClient,
  clusterClients,
  createBucketAsset,
  createClusterAssets,
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
const src = clusterClients(env.SOURCE_KUBECONFIG);
const s3 = bucketClient();
const ns = uniqueName('bkcrash');
const data = uniqueName('bkcrash-data');
const taskQueue = uniqueName('bkcrash');
const OBJECTS = 4000;
let saKubeconfig = '';
const worker = new WorkerProcess({
  taskQueue,
  namespace: ns,
  logFile: join(stackDir, 'logs', `${taskQueue}.log`),
  kubeconfig: () => saKubeconfig,
});

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt.core, ns);
  await createBucketAsset(custom, mgmt.core, ns);
  await src.core.createNamespace({ body: { metadata: { name: data } } });
  const names = Array.from({ length: OBJECTS }, (_, i) => `cm-${i}`);
  await pool(names, 32, async (name) => {
    await src.core.createNamespacedConfigMap({
      namespace: data,
      body: { metadata: { name }, data: { payload: 'y'.repeat(1024) } },
    });
  });
  saKubeconfig = await orchestratorKubeconfigFile(); // the install's RBAC, not an admin certificate
  worker.start();
}, 180_000);

afterAll(async () => {
  if (!worker.running) worker.start();
  await deleteAllOurs(custom, ns, 120_000);
  await worker.stop('SIGTERM');
  // No namespace controller runs in the stack: empty the namespace before deleting it.
  await src.core.deleteCollectionNamespacedConfigMap({ namespace: data }).catch(() => undefined);
  await src.core.deleteNamespace({ name: data }).catch(() => undefined);
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
  s3.destroy();
}, 240_000);

it('a kill -9 halfway through a backup of 4,000 objects resumes the same run and ends with a Complete manifest', async () => {
  await custom.createNamespacedCustomObject({
    ...target('Backup', ns, ''),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'big' },
      spec: {
        plugin: 'kubernetes-objects-to-bucket',
        config: {
          source: { kubernetesCluster: { name: 'source', namespaces: [data] } },
          destination: { bucket: { name: 'backups', basePath: `crash-${ns}` } },
        },
      },
    },
  });
  const statusOf = async () => (await getResource(custom, 'Backup', ns, 'big'))?.status;
  const before = await eventually(
    'the backup under way',
    async () => {
      const s = await statusOf();
      const objects = (s?.progress as { objects?: number } | undefined)?.objects ?? 0;
      return s?.phase === 'Running' && objects >= 250 ? s : undefined;
    },
    120_000,
  );
  const key = (before.report as { manifest: { key: string } }).manifest.key;
  await worker.stop('SIGKILL');
  // What the killed attempt left: a manifest that says InProgress, never Complete.
  const left = parseManifest(
    await (
      await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }))
    ).Body!.transformToString(),
  );
  expect(left.ok && left.manifest.state).toBe('InProgress');
  worker.start();
  const done = (await eventually(
    'the backup to finish after the kill',
    async () => {
      const s = await statusOf();
      return s?.phase === 'Succeeded' || s?.phase === 'Failed' ? s : undefined;
    },
    240_000,
  )) as Resource['status'] & { workflowId: string };
  expect(done.message).toMatch(/./);
  expect(done.phase).toBe('Succeeded');
  // The same run (same manifest key), now Complete with every object.
  expect((done.report as { manifest: { key: string } }).manifest.key).toBe(key);
  const final = parseManifest(
    await (
      await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }))
    ).Body!.transformToString(),
  );
  expect(final.ok && final.manifest.state).toBe('Complete');
  expect(final.ok && final.manifest.counts['core-v1-configmaps'].items).toBe(OBJECTS);
  const progress = done.progress as { items: number; written: number; alreadyInBucket: number };
  expect(progress.items).toBe(OBJECTS + 1); // and the Namespace object
  expect(progress.alreadyInBucket).toBeGreaterThanOrEqual(200);
  expect(progress.written + progress.alreadyInBucket).toBe(progress.items);

  // The second attempt ran from the first one's checkpoint: Temporal shows two attempts.
  expect(await maxActivityAttempt(done.workflowId)).toBeGreaterThanOrEqual(2);
}, 480_000);
