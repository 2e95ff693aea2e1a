/**
 * The seed's own sample 6.1.3 lists Deployments twice and Services twice, split by namespace
 * label. Regression tests for the data-loss bug where those entries pruned each other's copies:
 * through the first run, a suspend and resume, a kill -9 of the worker, a spec change that adds an
 * entry, one that removes an entry, and forced resyncs, the destination and the bucket hold exactly
 * what the filters select, status counts what is there, and a watch on the destination sees no
 * delete of an object that should stay. A second LiveSynchronization whose filters overlap never
 * deletes the first one's copies.
 *
 * One scenario, run by live-sync-entries.test.ts against the 1.34 source and by
 * replication-source-v129.test.ts against the 1.29 one; the destination is 1.34 in both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadAllYaml, VersionApi, Watch } from '@kubernetes/client-node';
import type { Resource } from '../../src/api/types.js';
import { stackDir } from '../../tools/stack/paths.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { kubectlOk } from './kubectl.js';
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
import { WorkerProcess } from './worker-process.js';
import { MERGE_PATCH } from '../../src/kube/objects.js';
import { orchestratorKubeconfigFile } from './rbac.js';

/** Registers the sample 6.1.3 tests, replicating from `source` to the stack's destination. */
export function liveSyncEntriesScenario(source: SourceCluster): void {
  describe(`the seed's sample 6.1.3 from a ${source.version} source`, () => {
    const env = stackEnv();
    const { custom } = managementClients();
    const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
    const src = clusterClients(source.kubeconfig);
    const dst = clusterClients(env.DESTINATION_KUBECONFIG);
    const s3 = bucketClient();

    const ns = uniqueName('six');
    const pre = uniqueName('pre'); // label env=pre
    const preSecond = uniqueName('pre2'); // label env=pre-second
    const plain = uniqueName('plain'); // no label: never replicated
    const NAME = 'livesynchronization-sample';
    const owner = { namespace: ns, name: NAME };
    const taskQueue = uniqueName('six');
    let saKubeconfig = '';
    const worker = new WorkerProcess({
      taskQueue,
      namespace: ns,
      logFile: join(stackDir, 'logs', `${taskQueue}.log`),
      kubeconfig: () => saKubeconfig,
    });
    const DEPLOYMENTS = ['web', 'api', 'worker'];

    /** What the destination must hold, as `kind:namespace/name` (kind: deploy, svc, secret, cm). */
    const expected = new Set<string>();
    /** Destination deletes of our namespaces' objects, seen by the watch, with what was expected then. */
    const deletes: { key: string; allowed: boolean }[] = [];
    /** Keys whose delete is expected (they left every entry's scope). */
    const mayDelete = new Set<string>();
    const watches: AbortController[] = [];

    /** The sample as the seed gives it, plus the bucket of the bucket samples (5.1.3.3). */
    function sample(): Resource {
      const [doc] = loadAllYaml(
        readFileSync(join('k8s', 'samples', '6.1.3-livesynchronization.yaml'), 'utf8'),
      ) as Resource[];
      (doc.spec as { config: Record<string, unknown> }).config.bucketName = 'backups';
      return doc;
    }

    function deployment(name: string) {
      return {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      };
    }

    /** Watches the destination's Deployments, Services, Secrets and ConfigMaps and records every delete in our namespaces. */
    async function watchDestinationDeletes(): Promise<void> {
      const ours = new Set([pre, preSecond, plain]);
      const kinds: [string, string][] = [
        ['deploy', '/apis/apps/v1/deployments'],
        ['svc', '/api/v1/services'],
        ['secret', '/api/v1/secrets'],
        ['cm', '/api/v1/configmaps'],
      ];
      for (const [kind, path] of kinds) {
        let rv = '';
        const start = async (): Promise<void> => {
          const abort = await new Watch(dst.kc).watch(
            path,
            { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
            (phase, obj: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }) => {
              rv = obj.metadata?.resourceVersion ?? rv;
              if (phase !== 'DELETED' || !ours.has(obj.metadata?.namespace ?? '')) return;
              const key = `${kind}:${obj.metadata!.namespace}/${obj.metadata!.name}`;
              deletes.push({ key, allowed: mayDelete.has(key) });
            },
            () => {
              if (watches.length > 0) setTimeout(() => void start().catch(() => undefined), 200);
            },
          );
          watches.push(abort);
        };
        await start();
      }
    }

    async function ownedNames(
      list: () => Promise<{ items: { metadata?: { name?: string } }[] }>,
    ): Promise<string[]> {
      return (await list()).items.map((o) => o.metadata!.name!);
    }

    /** Every owned copy in our three namespaces, as `kind:namespace/name`. */
    async function destinationCopies(): Promise<Set<string>> {
      const labelSelector = `${OWNER_LABEL}=${ownerLabelValue(owner)}`;
      const found = new Set<string>();
      for (const namespace of [pre, preSecond, plain]) {
        const q = { namespace, labelSelector };
        for (const n of await ownedNames(() => dst.apps.listNamespacedDeployment(q)))
          found.add(`deploy:${namespace}/${n}`);
        for (const n of await ownedNames(() => dst.core.listNamespacedService(q)))
          found.add(`svc:${namespace}/${n}`);
        for (const n of await ownedNames(() => dst.core.listNamespacedSecret(q)))
          found.add(`secret:${namespace}/${n}`);
        for (const n of await ownedNames(() => dst.core.listNamespacedConfigMap(q)))
          found.add(`cm:${namespace}/${n}`);
      }
      return found;
    }

    const FOLDERS: Record<string, string> = {
      deploy: 'apps-v1-deployments',
      svc: 'core-v1-services',
      secret: 'core-v1-secrets',
      cm: 'core-v1-configmaps',
    };

    /** Every bucket original of this LiveSynchronization in our namespaces, as `kind:namespace/name`. */
    async function bucketOriginals(): Promise<Set<string>> {
      const found = new Set<string>();
      const kindOf = Object.fromEntries(Object.entries(FOLDERS).map(([k, v]) => [v, k]));
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: env.S3_BUCKET,
            Prefix: `${ns}/${NAME}/`,
            ContinuationToken: token,
          }),
        );
        for (const o of page.Contents ?? []) {
          const [, , folder, file] = o.Key!.split('/');
          const dot = file.indexOf('.');
          found.add(`${kindOf[folder]}:${file.slice(0, dot)}/${file.slice(dot + 1)}`);
        }
        token = page.NextContinuationToken;
      } while (token);
      return found;
    }

    const sorted = (s: Set<string>) => [...s].sort();

    /** Waits until the destination and the bucket hold exactly `expected`, then checks the copies' content. */
    async function exactlyExpected(step: string): Promise<void> {
      await eventually(
        `${step}: destination and bucket hold exactly what the filters select`,
        async () => {
          const [copies, originals] = await Promise.all([destinationCopies(), bucketOriginals()]);
          const want = sorted(expected);
          const diff = (have: Set<string>) => [
            ...want.filter((k) => !have.has(k)).map((k) => `missing ${k}`),
            ...sorted(have)
              .filter((k) => !expected.has(k))
              .map((k) => `extra ${k}`),
          ];
          const problems = [
            ...diff(copies).map((d) => `copy ${d}`),
            ...diff(originals).map((d) => `original ${d}`),
          ];
          if (problems.length) throw new Error(problems.join(', '));
          return true;
        },
        90_000,
      );
      for (const namespace of [pre, preSecond]) {
        const copy = await dst.apps.readNamespacedDeployment({ namespace, name: 'web' });
        expect(copy.spec?.replicas).toBe(0); // the sample's transformation
      }
      const original = await s3.send(
        new GetObjectCommand({
          Bucket: env.S3_BUCKET,
          Key: `${ns}/${NAME}/apps-v1-deployments/${preSecond}.web`,
        }),
      );
      expect(
        (JSON.parse(await original.Body!.transformToString()) as { spec: { replicas: number } }).spec
          .replicas,
      ).toBe(3);
      expect(deletes.filter((d) => !d.allowed)).toEqual([]);
    }

    interface Replication {
      resources: { resource: string; inSync: number; pending: number; failed: number }[];
      lastResyncTime?: string;
    }

    async function replication(): Promise<{ status?: Resource['status']; rep?: Replication }> {
      const r = await getResource(custom, 'LiveSynchronization', ns, NAME);
      return { status: r?.status, rep: r?.status?.replication as Replication | undefined };
    }

    /** Waits for a run that started after `since` to finish its initial sync. */
    async function resyncAfter(since: number, what: string): Promise<void> {
      await eventually(
        `${what}: a resync after ${new Date(since).toISOString()}`,
        async () => {
          const t = (await replication()).rep?.lastResyncTime;
          return t !== undefined && Date.parse(t) > since;
        },
        90_000,
      );
    }

    /** Waits until status counts, per entry, are `inSync` with nothing pending or failed. */
    async function countsAre(inSync: number[], what: string): Promise<void> {
      await eventually(
        `${what}: status.replication counts inSync ${inSync.join(',')}, nothing pending or failed`,
        async () => {
          const rep = (await replication()).rep;
          const ok =
            rep?.resources.length === inSync.length &&
            rep.resources.every((r, i) => r.inSync === inSync[i] && r.pending === 0 && r.failed === 0);
          if (!ok)
            throw new Error(
              `[inSync, pending, failed] per entry: ${JSON.stringify(rep?.resources.map((r) => [r.inSync, r.pending, r.failed]))}`,
            );
          return true;
        },
        60_000,
      );
    }

    async function patchSpec(patch: Record<string, unknown>): Promise<void> {
      await custom.patchNamespacedCustomObject(
        { ...target('LiveSynchronization', ns, NAME), body: { spec: patch } },
        MERGE_PATCH,
      );
    }

    async function readyReason(): Promise<string | undefined> {
      return (await replication()).status?.conditions?.find((c) => c.type === 'Ready')?.reason;
    }

    /** Removes the sample's `env` label from source namespaces (they stay Terminating without a controller manager). */
    async function unlabelSampleNamespaces(): Promise<void> {
      const labelled = await src.core.listNamespace({ labelSelector: 'env in (pre,pre-second)' });
      for (const n of labelled.items)
        await src.core
          .patchNamespace(
            { name: n.metadata!.name!, body: { metadata: { labels: { env: null } } } } as never,
            MERGE_PATCH,
          )
          .catch(() => undefined);
    }

    beforeAll(async () => {
      saKubeconfig = await orchestratorKubeconfigFile(); // the install's RBAC, not an admin certificate
      // The sample selects every source namespace labelled env=pre or env=pre-second: leave only ours.
      await unlabelSampleNamespaces();
      await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
      await createClusterAssets(custom, mgmt.core, ns, source.kubeconfig);
      await mgmt.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'bucket-credentials' },
          stringData: { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
        },
      });
      await custom.createNamespacedCustomObject({
        ...target('Bucket', ns, 'backups'),
        body: {
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
        },
      });
      for (const [namespace, label] of [
        [pre, 'pre'],
        [preSecond, 'pre-second'],
        [plain, undefined],
      ] as const) {
        await src.core.createNamespace({
          body: { metadata: { name: namespace, labels: label ? { env: label } : {} } },
        });
        // The sample does not set forceNamespaceCreation: the standby's namespaces exist, as they would.
        await dst.core.createNamespace({ body: { metadata: { name: namespace } } });
        for (const name of DEPLOYMENTS) {
          await src.apps.createNamespacedDeployment({ namespace, body: deployment(name) });
          if (label) expected.add(`deploy:${namespace}/${name}`);
        }
        await src.core.createNamespacedService({
          namespace,
          body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
        });
        if (label) expected.add(`svc:${namespace}/web`);
        await src.core.createNamespacedSecret({
          namespace,
          body: { metadata: { name: 'creds' }, stringData: { k: 'v' } },
        });
        if (label === 'pre') expected.add(`secret:${namespace}/creds`);
        await src.core.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name: 'settings' }, data: { v: '1' } },
        });
      }
      await watchDestinationDeletes();
      worker.start();
      await kubectlOk(
        ['--kubeconfig', env.MANAGEMENT_KUBECONFIG, '-n', ns, 'apply', '-f', '-'],
        JSON.stringify(sample()),
      );
    }, 120_000);

    afterAll(async () => {
      if (!worker.running) worker.start();
      await deleteAllOurs(custom, ns, 90_000).catch(() => undefined);
      await worker.stop('SIGTERM');
      const stopping = watches.splice(0);
      for (const w of stopping) w.abort();
      await unlabelSampleNamespaces();
      s3.destroy();
    }, 180_000);

    it(`reads a source that serves Kubernetes ${source.version}`, async () => {
      expect((await src.kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe(source.version);
    });

    it('the first run copies both labelled namespaces, and only them', async () => {
      await exactlyExpected('first run');
      // Entries: deployments env=pre, deployments env=pre-second, services env=pre, services env=pre-second, secrets env=pre.
      await countsAre([3, 3, 1, 1, 1], 'first run');
      const { status } = await replication();
      expect(status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'True',
        reason: 'Replicating',
      });
      expect(status?.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False' });
    }, 150_000);

    it('a suspend and resume keeps every copy', async () => {
      await patchSpec({ suspend: true });
      await eventually('suspended', async () => (await readyReason()) === 'Suspended');
      const resumed = Date.now();
      await patchSpec({ suspend: false });
      await resyncAfter(resumed, 'resume');
      await exactlyExpected('suspend and resume');
      await countsAre([3, 3, 1, 1, 1], 'after resume');
    }, 150_000);

    it('a kill -9 of the worker keeps every copy', async () => {
      await worker.stop('SIGKILL');
      const restarted = Date.now();
      worker.start();
      await resyncAfter(restarted, 'kill -9');
      await exactlyExpected('kill -9');
    }, 150_000);

    it('a spec change that adds an entry copies its objects and keeps the rest', async () => {
      const { spec } = (await getResource(custom, 'LiveSynchronization', ns, NAME))!;
      const config = (spec as { config: { replication: { resources: unknown[] } } }).config;
      const changed = Date.now();
      await patchSpec({
        config: {
          replication: {
            resources: [
              ...config.replication.resources,
              {
                group: '',
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector: { matchLabels: { env: 'pre' } } },
              },
            ],
          },
        },
      });
      expected.add(`cm:${pre}/settings`);
      await resyncAfter(changed, 'entry added');
      await exactlyExpected('entry added');
      await countsAre([3, 3, 1, 1, 1, 1], 'entry added');
    }, 150_000);

    it('a spec change that removes an entry prunes only what left every entry', async () => {
      const { spec } = (await getResource(custom, 'LiveSynchronization', ns, NAME))!;
      const resources = (spec as { config: { replication: { resources: { resource: string }[] } } }).config
        .replication.resources;
      expect(resources[3].resource).toBe('services'); // the env=pre-second services entry
      const changed = Date.now();
      mayDelete.add(`svc:${preSecond}/web`);
      expected.delete(`svc:${preSecond}/web`);
      await patchSpec({ config: { replication: { resources: resources.filter((_, i) => i !== 3) } } });
      await resyncAfter(changed, 'entry removed');
      await exactlyExpected('entry removed');
      await countsAre([3, 3, 1, 1, 1], 'entry removed');
      expect(deletes.map((d) => d.key)).toEqual([`svc:${preSecond}/web`]);
    }, 150_000);

    it('forced resyncs keep every copy', async () => {
      const changed = Date.now();
      await patchSpec({ config: { replication: { resyncPeriod: '5s' } } });
      await resyncAfter(changed, 'short resync period');
      const first = Date.parse((await replication()).rep!.lastResyncTime!);
      await resyncAfter(first, 'the next resync');
      const second = Date.parse((await replication()).rep!.lastResyncTime!);
      await resyncAfter(second, 'the resync after');
      await exactlyExpected('forced resyncs');
      await countsAre([3, 3, 1, 1, 1], 'forced resyncs');
    }, 150_000);

    it('a second LiveSynchronization with overlapping filters never deletes the first one’s copies', async () => {
      const [doc] = loadAllYaml(
        readFileSync(join('k8s', 'samples', '6.1.3-livesynchronization.yaml'), 'utf8'),
      ) as Resource[];
      const other = { ...doc, metadata: { name: 'overlap' } };
      await kubectlOk(
        ['--kubeconfig', env.MANAGEMENT_KUBECONFIG, '-n', ns, 'apply', '-f', '-'],
        JSON.stringify(other),
      );
      const degraded = await eventually('the overlap reported', async () => {
        const r = await getResource(custom, 'LiveSynchronization', ns, 'overlap');
        const c = r?.status?.conditions?.find((x) => x.type === 'Degraded');
        return c?.status === 'True' ? c : undefined;
      });
      expect(degraded.message).toContain(`claimed by LiveSynchronization ${ns}/${NAME}`);
      const resumed = Date.now();
      await custom.patchNamespacedCustomObject(
        { ...target('LiveSynchronization', ns, 'overlap'), body: { spec: { suspend: true } } },
        MERGE_PATCH,
      );
      await custom.patchNamespacedCustomObject(
        { ...target('LiveSynchronization', ns, 'overlap'), body: { spec: { suspend: false } } },
        MERGE_PATCH,
      );
      await eventually('the overlapping run restarted', async () => {
        const r = await getResource(custom, 'LiveSynchronization', ns, 'overlap');
        const t = (r?.status?.replication as Replication | undefined)?.lastResyncTime;
        return t !== undefined && Date.parse(t) > resumed;
      });
      await custom.deleteNamespacedCustomObject(target('LiveSynchronization', ns, 'overlap'));
      await eventually(
        'overlap gone',
        async () => (await getResource(custom, 'LiveSynchronization', ns, 'overlap')) === undefined,
      );
      await exactlyExpected('after the overlapping LiveSynchronization');
    }, 150_000);
  });
}
