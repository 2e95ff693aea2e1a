/**
 * A one-shot kubernetes-objects-to-kubernetes Synchronization on the real stack: it copies what
 * its filters select, patched, with bucket originals, and a second run prunes what left the
 * source. One scenario, run by synchronizations.test.ts against the 1.34 source and by
 * replication-source-v129.test.ts against the 1.29 one; the destination is 1.34 in both.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { VersionApi } from '@kubernetes/client-node';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  bucketClient,
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  managementClients,
  quietWorkflowBundle,
  synchronizationHelpers,
} from './resources.js';
import { stackEnv, uniqueName, type SourceCluster } from './stack-env.js';

/** Registers the one-shot copy test, from `source` to the stack's destination, with an orchestrator of its own. */
export function oneShotCopyScenario(source: SourceCluster): void {
  describe(`one-shot kubernetes-objects-to-kubernetes Synchronization from a ${source.version} source`, () => {
    const env = stackEnv();
    const { custom } = managementClients();
    const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
    const src = clusterClients(source.kubeconfig);
    const dst = clusterClients(env.DESTINATION_KUBECONFIG);
    const s3 = bucketClient();
    const ns = uniqueName('oneshot');
    const data = uniqueName('syncdata'); // the source namespace whose ConfigMaps are copied
    const { create, remove, finished } = synchronizationHelpers(custom, ns);
    let orchestrator: Orchestrator;

    /** A kubernetes-objects-to-kubernetes config over the ConfigMaps labelled app=a in `data`. */
    function configMapsConfig(extra: Record<string, unknown> = {}) {
      return {
        sourceName: 'source',
        destinationName: 'destination',
        ...extra,
        replication: {
          forceNamespaceCreation: true,
          resources: [
            {
              version: 'v1',
              resource: 'configmaps',
              filters: {
                namespaceSelector: { matchLabels: { 'sync-test': data } },
                selector: { matchLabels: { app: 'a' } },
              },
              transformation: { patch: [{ op: 'add', path: '/metadata/labels/copied', value: 'yes' }] },
            },
          ],
        },
      };
    }

    async function configMap(name: string, labels: Record<string, string>, value: string) {
      await src.core.createNamespacedConfigMap({
        namespace: data,
        body: { metadata: { name, labels }, data: { value } },
      });
    }

    beforeAll(async () => {
      await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
      await src.core.createNamespace({
        body: { metadata: { name: data, labels: { 'sync-test': data } } },
      });
      await createClusterAssets(custom, mgmt.core, ns, source.kubeconfig);
      await createBucketAsset(custom, mgmt.core, ns);
      orchestrator = await startOrchestrator({
        temporal: {
          address: env.TEMPORAL_ADDRESS,
          namespace: env.TEMPORAL_NAMESPACE,
          taskQueue: uniqueName('oneshot'),
        },
        management: await orchestratorKubeConfig(),
        log: createLogger({ level: 'silent' }),
        instance: `one-shot-copy-test-${source.component}`,
        namespaces: [ns],
        recheckSeconds: 2,
        workerOverrides: { workflowBundle: await quietWorkflowBundle() },
      });
    });

    afterAll(async () => {
      await deleteAllOurs(custom, ns, 120_000);
      await orchestrator?.shutdown();
      for (const c of [src, dst]) await c.core.deleteNamespace({ name: data }).catch(() => undefined);
      await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
      s3.destroy();
    });

    it(`reads a source that serves Kubernetes ${source.version}`, async () => {
      expect((await src.kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe(source.version);
    });

    it('copies what the filters select, patched, with bucket originals, and a second run prunes what left the source', async () => {
      for (const name of ['one', 'two', 'three']) await configMap(name, { app: 'a' }, name);
      await configMap('other', { app: 'b' }, 'not selected');

      await create('Synchronization', 'copy', {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: configMapsConfig({ bucketName: 'backups' }),
      });
      const done = await finished('copy');
      expect(done.status?.phase).toBe('Succeeded');
      expect(done.status?.progress).toMatchObject({ inSync: 3, failed: 0, pending: 0 });
      expect(done.status?.message).toBe('3 objects in sync over 1 resource entries');

      const copies = await dst.core.listNamespacedConfigMap({ namespace: data, labelSelector: 'copied=yes' });
      expect(copies.items.map((c) => c.metadata!.name).sort()).toEqual(['one', 'three', 'two']);
      expect(copies.items.find((c) => c.metadata!.name === 'two')!.data).toEqual({ value: 'two' });
      await expect(dst.core.readNamespacedConfigMap({ namespace: data, name: 'other' })).rejects.toThrow();

      const originals = await s3.send(
        new ListObjectsV2Command({
          Bucket: env.S3_BUCKET,
          Prefix: `${ns}/_synchronization.copy/core-v1-configmaps/`,
        }),
      );
      expect((originals.Contents ?? []).map((o) => o.Key!.split('/').at(-1)).sort()).toEqual([
        `${data}.one`,
        `${data}.three`,
        `${data}.two`,
      ]);

      // The same Synchronization again, after a source delete and a change: the copy follows.
      await remove('Synchronization', 'copy');
      await src.core.deleteNamespacedConfigMap({ namespace: data, name: 'two' });
      await src.core.patchNamespacedConfigMap({
        namespace: data,
        name: 'one',
        body: [{ op: 'replace', path: '/data/value', value: 'changed' }],
      });
      await create('Synchronization', 'copy', {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: configMapsConfig({ bucketName: 'backups' }),
      });
      expect((await finished('copy')).status?.phase).toBe('Succeeded');
      const after = await dst.core.listNamespacedConfigMap({ namespace: data, labelSelector: 'copied=yes' });
      expect(after.items.map((c) => c.metadata!.name).sort()).toEqual(['one', 'three']);
      expect(after.items.find((c) => c.metadata!.name === 'one')!.data).toEqual({ value: 'changed' });
      await remove('Synchronization', 'copy');
    }, 120_000);
  });
}
