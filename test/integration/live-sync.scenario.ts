/**
 * LiveSynchronization replication on the real stack: objects flow from the source API server to
 * the destination, filtered, patched, cleaned and marked; originals land in the bucket; updates,
 * deletes, namespace label changes, suspend/resume and foreign objects behave as the seed says.
 * One scenario, run by live-sync.test.ts against the 1.34 source and by
 * replication-source-v129.test.ts against the 1.29 one; the destination is 1.34 in both.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  CoreV1Api,
  CustomObjectsApi,
  FlowcontrolApiserverV1Api,
  KubeConfig,
  VersionApi,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { objectKey } from '../../src/bucket/layout.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import {
  bucketClient,
  clusterClients,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName, type SourceCluster } from './stack-env.js';
import { MERGE_PATCH } from '../../src/kube/objects.js';
import { orchestratorKubeConfig } from './rbac.js';

/** Registers the LiveSynchronization tests, replicating from `source` to the stack's destination. */
export function liveSyncScenario(source: SourceCluster): void {
  describe(`LiveSynchronization from a ${source.version} source`, () => {
    const env = stackEnv();
    const { kc, custom } = managementClients();
    const mgmtCore = kc.makeApiClient(CoreV1Api);
    const src = clusterClients(source.kubeconfig);
    const dst = clusterClients(env.DESTINATION_KUBECONFIG);
    const s3 = bucketClient();
    const srcFlow = src.kc.makeApiClient(FlowcontrolApiserverV1Api);
    const dstFlow = dst.kc.makeApiClient(FlowcontrolApiserverV1Api);

    const ns = uniqueName('ls');
    const appNs = uniqueName('app'); // source namespace, labelled for the namespaceSelector
    const lateNs = uniqueName('late'); // gets the label later
    /** A cluster-scoped FlowSchema, named after the test's namespace; afterAll deletes it in both clusters. */
    const flowSchema = `${ns}-flow`;
    const owner = { namespace: ns, name: 'live' };
    let orchestrator: Orchestrator;

    async function readDst(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
      return dst.core.readNamespacedConfigMap({ namespace, name }).catch(() => undefined);
    }

    function deployment(name: string, replicas: number) {
      return {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      };
    }

    const liveSync = {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name: 'live' },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        suspend: false,
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          bucketName: 'backups',
          replication: {
            forceNamespaceCreation: true,
            resyncPeriod: '20s',
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: {
                  namespaceSelector: { matchLabels: { 'dr-run': ns } },
                  nameSelector: { regex: ['^config.*'], excludeRegex: ['.*\\.test$'] },
                },
              },
              {
                group: 'apps',
                version: 'v1',
                resource: 'deployments',
                transformation: { patch: [{ op: 'replace', path: '/spec/replicas', value: 0 }] },
                filters: { namespaceSelector: { matchLabels: { 'dr-run': ns } } },
                recoveryProcess: { fromPatch: [{ op: 'replace', path: '/spec/replicas', value: 1 }] },
              },
              {
                group: '',
                version: 'v1',
                resource: 'services',
                filters: {
                  selector: { matchLabels: { replicate: 'yes' } },
                  namespaceSelector: { matchLabels: { 'dr-run': ns } },
                },
              },
              {
                version: 'v1',
                resource: 'secrets',
                filters: {
                  nameSelector: { regex: ['^patched-'] },
                  namespaceSelector: { matchLabels: { 'dr-run': ns } },
                },
                transformation: { patch: [{ op: 'replace', path: '/spec/replicas', value: 0 }] },
              },
            ],
          },
        },
      },
    };

    beforeAll(async () => {
      await mgmtCore.createNamespace({ body: { metadata: { name: ns } } });
      await createClusterAssets(custom, mgmtCore, ns, source.kubeconfig);
      await mgmtCore.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'bucket-credentials' },
          stringData: { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
        },
      });
      const create = (body: Record<string, unknown>) =>
        custom.createNamespacedCustomObject({
          ...target(body.kind as never, ns, ''),
          body: { ...body, metadata: { ...(body.metadata as object), namespace: ns } },
        });
      await create({
        apiVersion: 'assets.astronetes.io/v1alpha1',
        kind: 'Bucket',
        metadata: { name: 'backups' },
        spec: {
          generic: {
            name: env.S3_BUCKET,
            endpoint: env.S3_ENDPOINT.replace('http://', ''),
            useSSL: false,
            secretName: 'bucket-credentials',
          },
        },
      });

      // The source before the LiveSynchronization exists.
      await src.core.createNamespace({
        body: { metadata: { name: appNs, labels: { 'dr-run': ns } } },
      });
      await src.core.createNamespace({ body: { metadata: { name: lateNs } } });
      for (const name of ['config-a', 'config-b', 'config-skip.test', 'other']) {
        await src.core.createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name }, data: { v: '1' } },
        });
      }
      await src.apps.createNamespacedDeployment({ namespace: appNs, body: deployment('web', 3) });
      await src.apps.createNamespacedDeployment({ namespace: lateNs, body: deployment('late', 2) });
      await src.core.createNamespacedService({
        namespace: appNs,
        body: {
          metadata: { name: 'web', labels: { replicate: 'yes' } },
          spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
        },
      });
      await src.core.createNamespacedSecret({
        namespace: appNs,
        body: { metadata: { name: 'patched-1' }, stringData: { k: 'v' } },
      });
      // A destination object of the same name that this LiveSynchronization does not own.
      await dst.core.createNamespace({ body: { metadata: { name: appNs } } });
      await dst.core.createNamespacedConfigMap({
        namespace: appNs,
        body: { metadata: { name: 'config-b' }, data: { mine: 'destination' } },
      });

      orchestrator = await startOrchestrator({
        temporal: {
          address: env.TEMPORAL_ADDRESS,
          namespace: env.TEMPORAL_NAMESPACE,
          taskQueue: uniqueName('ls'),
        },
        management: await orchestratorKubeConfig(), // the install's RBAC, not an admin certificate
        log: createLogger({ level: 'silent' }),
        instance: `live-sync-test-${source.component}`,
        namespaces: [ns],
        recheckSeconds: 2,
      });
      await create(liveSync);
    });

    afterAll(async () => {
      await deleteAllOurs(custom, ns);
      await orchestrator?.shutdown();
      for (const flow of [srcFlow, dstFlow])
        await flow.deleteFlowSchema({ name: flowSchema }).catch(() => undefined);
      s3.destroy();
    });

    it(`reads a source that serves Kubernetes ${source.version}`, async () => {
      expect((await src.kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe(source.version);
    });

    describe('initial sync', () => {
      it('copies what the filters select, cleaned, patched and marked', async () => {
        const a = await eventually('config-a in the destination', () => readDst(appNs, 'config-a'));
        expect(a.data).toEqual({ v: '1' });
        expect(a.metadata?.labels?.[OWNER_LABEL]).toBe(ownerLabelValue(owner));
        expect(a.metadata?.annotations?.['replication.astronetes.io/livesynchronization']).toBe(`${ns}/live`);
        const web = await eventually('deployment web', () =>
          dst.apps.readNamespacedDeployment({ namespace: appNs, name: 'web' }).catch(() => undefined),
        );
        expect(web.spec?.replicas).toBe(0); // the seed's warm-standby transformation
        const svc = await eventually('service web', () =>
          dst.core.readNamespacedService({ namespace: appNs, name: 'web' }).catch(() => undefined),
        );
        expect(svc.spec?.ports?.[0].port).toBe(80);
        const srcSvc = await src.core.readNamespacedService({ namespace: appNs, name: 'web' });
        expect(svc.metadata?.uid).not.toBe(srcSvc.metadata?.uid);
        expect(
          svc.spec?.clusterIP === srcSvc.spec?.clusterIP && srcSvc.spec?.clusterIP !== undefined
            ? 'same'
            : 'own',
        ).toBe('own');
      });

      it('leaves out what the filters exclude', async () => {
        await eventually('the initial resync', async () => {
          const r = await getResource(custom, 'LiveSynchronization', ns, 'live');
          return (r?.status?.replication as { lastResyncTime?: string } | undefined)?.lastResyncTime;
        });
        expect(await readDst(appNs, 'config-skip.test')).toBeUndefined(); // excludeRegex
        expect(await readDst(appNs, 'other')).toBeUndefined(); // regex
        expect(
          await dst.apps.readNamespacedDeployment({ namespace: lateNs, name: 'late' }).catch(() => undefined),
        ).toBeUndefined(); // namespaceSelector
      });

      it('never overwrites a destination object it does not own, and says so in status', async () => {
        const b = await readDst(appNs, 'config-b');
        expect(b?.data).toEqual({ mine: 'destination' });
        const ls = await eventually('failed count', async () => {
          const r = await getResource(custom, 'LiveSynchronization', ns, 'live');
          const cms = (
            r?.status?.replication as
              { resources: { resource: string; failed: number; lastError?: string }[] } | undefined
          )?.resources.find((x) => x.resource === 'configmaps');
          return cms && cms.failed >= 1 ? cms : undefined;
        });
        expect(ls.lastError).toContain(
          `${appNs}/config-b: exists in the destination and is not created by this LiveSynchronization`,
        );
      });

      it('reports a patch that does not apply, per object, and replicates the rest', async () => {
        const r = await eventually('secrets entry failure', async () => {
          const ls = await getResource(custom, 'LiveSynchronization', ns, 'live');
          const secrets = (
            ls?.status?.replication as
              { resources: { resource: string; failed: number; lastError?: string }[] } | undefined
          )?.resources.find((x) => x.resource === 'secrets');
          return secrets?.failed ? secrets : undefined;
        });
        expect(r.lastError).toMatch(/patched-1: transformation.patch does not apply/);
        expect(await readDst(appNs, 'config-a')).toBeDefined();
      });

      it('uploads the original, before transformation, at the documented path', async () => {
        const key = objectKey(
          owner,
          { group: 'apps', version: 'v1', resource: 'deployments' },
          { namespace: appNs, name: 'web' },
        );
        expect(key).toBe(`${ns}/live/apps-v1-deployments/${appNs}.web`);
        const got = await eventually('bucket object', () =>
          s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key })).catch(() => undefined),
        );
        const original = JSON.parse(await got.Body!.transformToString()) as { spec: { replicas: number } };
        expect(original.spec.replicas).toBe(3);
      });
    });

    describe('live changes', () => {
      it('replicates an update and a delete in near real time', async () => {
        await src.core.patchNamespacedConfigMap(
          { namespace: appNs, name: 'config-a', body: { data: { v: '2' } } },
          MERGE_PATCH,
        );
        await eventually('update', async () => (await readDst(appNs, 'config-a'))?.data?.v === '2', 10_000);
        await src.core.deleteNamespacedConfigMap({ namespace: appNs, name: 'config-a' });
        await eventually('delete', async () => (await readDst(appNs, 'config-a')) === undefined, 10_000);
      });

      it('follows namespace labels: objects start and stop being replicated', async () => {
        await src.core.patchNamespace(
          { name: lateNs, body: { metadata: { labels: { 'dr-run': ns } } } },
          MERGE_PATCH,
        );
        const late = await eventually(
          'late deployment',
          () => dst.apps.readNamespacedDeployment({ namespace: lateNs, name: 'late' }).catch(() => undefined),
          15_000,
        );
        expect(late.spec?.replicas).toBe(0);
        await src.core.patchNamespace(
          { name: lateNs, body: { metadata: { labels: { 'dr-run': null } } } } as never,
          MERGE_PATCH,
        );
        await eventually(
          'late deployment pruned',
          async () =>
            (await dst.apps
              .readNamespacedDeployment({ namespace: lateNs, name: 'late' })
              .catch(() => undefined)) === undefined,
          15_000,
        );
      });

      it('writes nothing while suspended, and catches up on resume', async () => {
        await custom.patchNamespacedCustomObject(
          { ...target('LiveSynchronization', ns, 'live'), body: { spec: { suspend: true } } },
          MERGE_PATCH,
        );
        await eventually(
          'suspended',
          async () =>
            (await getResource(custom, 'LiveSynchronization', ns, 'live'))?.status?.conditions?.find(
              (c) => c.type === 'Ready',
            )?.reason === 'Suspended',
        );
        await src.core.createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name: 'config-while-suspended' }, data: { v: '1' } },
        });
        await src.core
          .deleteNamespacedConfigMap({ namespace: appNs, name: 'config-skip.test' })
          .catch(() => undefined);
        await new Promise((r) => setTimeout(r, 3000));
        expect(await readDst(appNs, 'config-while-suspended')).toBeUndefined();
        await custom.patchNamespacedCustomObject(
          { ...target('LiveSynchronization', ns, 'live'), body: { spec: { suspend: false } } },
          MERGE_PATCH,
        );
        await eventually('caught up', () => readDst(appNs, 'config-while-suspended'), 15_000);
      });
    });

    describe('status', () => {
      it('reports counts per resource, the last resync and the replication lag', async () => {
        const r = (await getResource(custom, 'LiveSynchronization', ns, 'live')) as Resource;
        const rep = r.status?.replication as {
          resources: { resource: string; inSync: number }[];
          lastResyncTime?: string;
          lag?: { p99: number; samples: number };
        };
        expect(rep.resources.map((x) => x.resource)).toEqual([
          'configmaps',
          'deployments',
          'services',
          'secrets',
        ]);
        expect(rep.resources.find((x) => x.resource === 'services')?.inSync).toBe(1);
        expect(rep.lastResyncTime).toBeDefined();
        expect(rep.lag?.samples).toBeGreaterThan(0);
      });
    });

    describe('bad input and overlaps: reported, and the rest keeps replicating', () => {
      const nonsNs = uniqueName('nons');
      const spec = (resources: unknown[], extra: Record<string, unknown> = {}) => ({
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          replication: { resyncPeriod: '1h0m0s', resources, ...extra },
        },
      });
      const createLs = (name: string, s: unknown) =>
        custom.createNamespacedCustomObject({
          ...target('LiveSynchronization', ns, name),
          body: {
            apiVersion: 'automation.astronetes.io/v1alpha1',
            kind: 'LiveSynchronization',
            metadata: { name, namespace: ns },
            spec: s,
          },
        });
      const entry = async (
        name: string,
        resource: string,
        test: (e: { failed: number; lastError?: string; inSync: number }) => boolean,
      ) =>
        eventually(`${name} ${resource} status`, async () => {
          const r = await getResource(custom, 'LiveSynchronization', ns, name);
          const e = (
            r?.status?.replication as
              | { resources: { resource: string; failed: number; lastError?: string; inSync: number }[] }
              | undefined
          )?.resources.find((x) => x.resource === resource);
          return e && test(e) ? e : undefined;
        });

      it('a second LiveSynchronization claiming the same objects is told so, and does not fight', async () => {
        await createLs(
          'second',
          spec([
            {
              version: 'v1',
              resource: 'configmaps',
              filters: {
                namespaceSelector: { matchLabels: { 'dr-run': ns } },
                nameSelector: { regex: ['^config-'] },
              },
            },
          ]),
        );
        const e = await entry(
          'second',
          'configmaps',
          (x) => x.failed > 0 && /claimed by LiveSynchronization/.test(x.lastError ?? ''),
        );
        expect(e.lastError).toContain(`is claimed by LiveSynchronization ${ns}/live; not overwritten`);
        const copy = await readDst(appNs, 'config-while-suspended');
        expect(copy?.metadata?.annotations?.['replication.astronetes.io/livesynchronization']).toBe(
          `${ns}/live`,
        );
      });

      it('a resource type the source does not serve is named; the other entries replicate', async () => {
        await src.core.createNamespacedSecret({
          namespace: appNs,
          body: { metadata: { name: 'plain-1' }, stringData: { k: 'v' } },
        });
        await createLs(
          'unserved',
          spec([
            { group: 'example.com', version: 'v1', resource: 'widgets' },
            {
              version: 'v1',
              resource: 'secrets',
              filters: {
                namespaceSelector: { matchLabels: { 'dr-run': ns } },
                nameSelector: { regex: ['^plain-'] },
              },
            },
          ]),
        );
        const widgets = await entry('unserved', 'widgets', (x) => Boolean(x.lastError));
        expect(widgets.lastError).toMatch(/^example\.com\/v1 is not served by the source cluster/);
        await eventually('plain-1 replicated', () =>
          dst.core.readNamespacedSecret({ namespace: appNs, name: 'plain-1' }).catch(() => undefined),
        );
        // Still Ready (the secrets entry replicates), but Degraded, naming the entry.
        const conditions = await eventually('Degraded', async () => {
          const c = (await getResource(custom, 'LiveSynchronization', ns, 'unserved'))?.status?.conditions;
          return c?.find((x) => x.type === 'Degraded')?.status === 'True' ? c : undefined;
        });
        expect(conditions.find((c) => c.type === 'Degraded')?.message).toMatch(
          /^spec\.config\.replication\.resources\[0\] \(example\.com\/v1\/widgets\): example\.com\/v1 is not served/,
        );
        expect(conditions.find((c) => c.type === 'Ready')).toMatchObject({
          status: 'True',
          reason: 'Replicating',
        });
      });

      it('a LiveSynchronization whose only type is not served is not Ready, and says why', async () => {
        await createLs('only-unserved', spec([{ group: 'example.com', version: 'v1', resource: 'widgets' }]));
        const ready = await eventually('Ready=False', async () => {
          const c = (await getResource(custom, 'LiveSynchronization', ns, 'only-unserved'))?.status
            ?.conditions;
          const r = c?.find((x) => x.type === 'Ready');
          return r?.status === 'False' ? r : undefined;
        });
        expect(ready.reason).toBe('ReplicationFailing');
        expect(ready.message).toMatch(
          /^no resource entry replicates: spec\.config\.replication\.resources\[0\] \(example\.com\/v1\/widgets\)/,
        );
      });

      it('an API version one cluster lacks is named with that cluster; the version both serve replicates', async () => {
        // flowcontrol.apiserver.k8s.io/v1beta3 is served by 1.29 (up to 1.31); v1 by 1.29 and 1.34.
        const lacking = source.version.startsWith('v1.29.') ? 'destination' : 'source';
        await srcFlow.createFlowSchema({
          body: {
            metadata: { name: flowSchema },
            spec: {
              priorityLevelConfiguration: { name: 'global-default' },
              matchingPrecedence: 9000,
              rules: [
                {
                  subjects: [{ kind: 'User', user: { name: `nobody-${ns}` } }],
                  resourceRules: [
                    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], namespaces: ['*'] },
                  ],
                },
              ],
            },
          },
        });
        const entryOf = (version: string) => ({
          group: 'flowcontrol.apiserver.k8s.io',
          version,
          resource: 'flowschemas',
          filters: { nameSelector: { regex: [`^${flowSchema}$`] } },
        });
        await createLs('flow-v1beta3', spec([entryOf('v1beta3')]));
        const old = await entry('flow-v1beta3', 'flowschemas', (x) => Boolean(x.lastError));
        expect(old.lastError).toMatch(
          new RegExp(`^flowcontrol\\.apiserver\\.k8s\\.io/v1beta3 is not served by the ${lacking} cluster`),
        );
        expect(await dstFlow.readFlowSchema({ name: flowSchema }).catch(() => undefined)).toBeUndefined();
        await custom.deleteNamespacedCustomObject(target('LiveSynchronization', ns, 'flow-v1beta3'));
        await createLs('flow-v1', spec([entryOf('v1')]));
        const copy = await eventually('the FlowSchema replicated through v1', () =>
          dstFlow.readFlowSchema({ name: flowSchema }).catch(() => undefined),
        );
        expect(copy.spec?.matchingPrecedence).toBe(9000);
        expect(copy.metadata?.labels?.[OWNER_LABEL]).toBe(
          ownerLabelValue({ namespace: ns, name: 'flow-v1' }),
        );
      });

      it('without forceNamespaceCreation, waits for the destination namespace, then replicates', async () => {
        await src.core.createNamespace({ body: { metadata: { name: nonsNs, labels: { 'dr-nons': ns } } } });
        await src.core.createNamespacedConfigMap({
          namespace: nonsNs,
          body: { metadata: { name: 'waiting' }, data: { v: '1' } },
        });
        await createLs(
          'nons',
          spec(
            [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector: { matchLabels: { 'dr-nons': ns } } },
              },
            ],
            { forceNamespaceCreation: false },
          ),
        );
        const e = await entry('nons', 'configmaps', (x) => x.failed > 0);
        expect(e.lastError).toBe(
          `waiting for namespace ${nonsNs} in the destination (forceNamespaceCreation is off)`,
        );
        await dst.core.createNamespace({ body: { metadata: { name: nonsNs } } });
        await eventually(
          'replicated once the namespace exists',
          () =>
            dst.core.readNamespacedConfigMap({ namespace: nonsNs, name: 'waiting' }).catch(() => undefined),
          30_000,
        );
      });
    });

    describe('recoveryProcess', () => {
      const dstCustom = (() => {
        const k = new KubeConfig();
        k.loadFromFile(env.DESTINATION_KUBECONFIG);
        return k.makeApiClient(CustomObjectsApi);
      })();

      it('keeps the recovery Task in the destination cluster, and removes it with the LiveSynchronization', async () => {
        const task = await eventually('recovery Task', () => getResource(dstCustom, 'Task', ns, 'live'));
        expect(task.spec).toEqual({
          plugin: 'kubernetes-objects-transformation',
          config: {
            resources: [
              {
                identifier: { group: 'apps', version: 'v1', resources: 'deployments' },
                patch: { operations: [{ op: 'replace', path: '/spec/replicas', value: 1 }] },
                selector: { matchLabels: { [OWNER_LABEL]: ownerLabelValue(owner) } },
              },
            ],
          },
        });
        await custom.deleteNamespacedCustomObject(target('LiveSynchronization', ns, 'live'));
        await eventually(
          'LiveSynchronization gone',
          async () => (await getResource(custom, 'LiveSynchronization', ns, 'live')) === undefined,
        );
        expect(await getResource(dstCustom, 'Task', ns, 'live')).toBeUndefined();
      });
    });
  });
}
