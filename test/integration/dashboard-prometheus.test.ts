/**
 * The Grafana dashboard against the stack's real Prometheus (issue 13): an orchestrator in this
 * process, registered as a scrape target, runs two LiveSynchronizations in two namespaces (one
 * replicating ConfigMaps, one Deployments, so each filter has two values; one with a full bucket
 * and a destination object it does not own, so the failure panels have series), Backups that
 * succeed and fail, a TaskRun and a SynchronizationPlan. Then:
 * - Prometheus scrapes it;
 * - each filter's label_values query lists the values this run made;
 * - every panel, with its variables filled in, returns series (except the panels listed in
 *   NO_SERIES_HERE, with why);
 * - choosing one value of a filter narrows every series selector it applies to, and strictly at
 *   least one.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { API_VERSION } from '../../src/api/kinds.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import {
  dataPanels,
  expandedTargets,
  FILTER_VARIABLES,
  loadDashboard,
  variableQueries,
  type FilterVariable,
  type Selection,
} from './dashboard-queries.js';
import { promQuery, registerScrapeTarget, waitForSeries } from './prometheus.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  createFullBucket,
  deleteAllOurs,
  eventually,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);
const nsA = uniqueName('dash-a'); // LiveSynchronization 'one' (ConfigMaps), Backups, TaskRun, plan
const nsB = uniqueName('dash-b'); // LiveSynchronization 'two' (Deployments)
const objA = uniqueName('dash-obj-a');
const objB = uniqueName('dash-obj-b');
const fullBucket = uniqueName('dash-full');
const dashboard = loadDashboard();
let orchestrator: Orchestrator;
let unregister: () => void = () => undefined;

/**
 * Panels that have no series in this test, and why: the Temporal SDK's own metrics are served by
 * the SDK's runtime, which an in-process orchestrator does not install (the process test in
 * metrics.test.ts checks them), and nothing here makes a bridge reconcile fail.
 */
const NO_SERIES_HERE = [/^Temporal /, /^Bridge reconcile errors$/];

async function create(namespace: string, kind: string, name: string, spec: unknown): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...target(kind as never, namespace, ''),
    body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
  });
}

function liveSync(namespaceLabel: string, resource: { group?: string; resource: string }, extra = {}) {
  return {
    plugin: 'kubernetes-objects-to-kubernetes',
    config: {
      sourceName: 'source',
      destinationName: 'destination',
      observability: { enabled: true, interval: '1s' },
      ...extra,
      replication: {
        resyncPeriod: '10s',
        forceNamespaceCreation: true,
        resources: [
          {
            ...resource,
            version: 'v1',
            filters: { namespaceSelector: { matchLabels: { 'dash-run': namespaceLabel } } },
          },
        ],
      },
    },
  };
}

beforeAll(async () => {
  const management = await orchestratorKubeConfig();
  for (const n of [nsA, nsB]) {
    await mgmt.core.createNamespace({ body: { metadata: { name: n } } });
    await createClusterAssets(custom, mgmt.core, n);
  }
  await createBucketAsset(custom, mgmt.core, nsA);
  // A Bucket on a full S3 bucket: every upload of 'one' fails.
  await createFullBucket(fullBucket);
  await custom.createNamespacedCustomObject({
    ...target('Bucket', nsA, ''),
    body: {
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'Bucket',
      metadata: { name: 'full' },
      spec: {
        generic: {
          name: fullBucket,
          endpoint: env.S3_ENDPOINT.replace(/^https?:\/\//, ''),
          useSSL: false,
          secretName: 'bucket-credentials',
        },
      },
    },
  });
  await src.core.createNamespace({ body: { metadata: { name: objA, labels: { 'dash-run': nsA } } } });
  await src.core.createNamespace({ body: { metadata: { name: objB, labels: { 'dash-run': nsB } } } });
  for (const name of ['cm-1', 'cm-2'])
    await src.core.createNamespacedConfigMap({
      namespace: objA,
      body: { metadata: { name }, data: { v: '1' } },
    });
  for (const name of ['web', 'api'])
    await src.apps.createNamespacedDeployment({
      namespace: objB,
      body: {
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      },
    });
  // A destination Deployment of a replicated name that 'two' does not own: a lasting error.
  await dst.core.createNamespace({ body: { metadata: { name: objB } } });
  await dst.apps.createNamespacedDeployment({
    namespace: objB,
    body: {
      metadata: { name: 'api' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      },
    },
  });

  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('dash'),
    },
    management,
    log: createLogger({ level: 'silent' }),
    instance: 'dashboard-test',
    namespaces: [nsA, nsB],
    recheckSeconds: 2,
    metricsServer: { host: '127.0.0.1', port: 0 },
    workerOverrides: { workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: silent }) },
  });
  const port = new URL(orchestrator.metricsServer!.url).port;
  unregister = registerScrapeTarget(uniqueName('dashboard-test'), `127.0.0.1:${port}`, { test: 'dashboard' });

  await create(
    nsA,
    'LiveSynchronization',
    'one',
    liveSync(nsA, { resource: 'configmaps' }, { bucketName: 'full' }),
  );
  await create(nsB, 'LiveSynchronization', 'two', liveSync(nsB, { group: 'apps', resource: 'deployments' }));
  const backup = (namespaces: string[]) => ({
    plugin: 'kubernetes-objects-to-bucket',
    config: {
      source: { kubernetesCluster: { name: 'source', namespaces } },
      destination: { bucket: { name: 'backups', basePath: uniqueName('dash-backup') } },
    },
  });
  await create(nsA, 'Backup', 'good', backup([objA]));
  await create(nsA, 'Backup', 'bad', backup(['no-such-namespace']));
  await create(nsA, 'Task', 'nothing', {
    plugin: 'kubernetes-objects-transformation',
    config: {
      resources: [
        {
          identifier: { group: 'apps', version: 'v1', resource: 'deployments' },
          selector: { matchLabels: { 'selects-nothing': nsA } },
          patch: { operations: [{ op: 'replace', path: '/spec/replicas', value: 1 }] },
        },
      ],
    },
  });
  await create(nsA, 'TaskRun', 'recover', { taskName: 'nothing' });
  await create(nsA, 'SynchronizationPlan', 'every', {
    schedule: '@every 5s',
    template: {
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          replication: {
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: { namespaceSelector: { matchLabels: { none: nsA } } },
              },
            ],
          },
        },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  unregister();
  for (const n of [nsA, nsB]) await deleteAllOurs(custom, n, 120_000);
  await orchestrator?.shutdown();
  for (const n of [nsA, nsB]) await mgmt.core.deleteNamespace({ name: n }).catch(() => undefined);
  for (const c of [src, dst])
    for (const n of [objA, objB]) await c.core.deleteNamespace({ name: n }).catch(() => undefined);
}, 240_000);

/** Runs each target of a selection; returns the series count per panel and per target. */
async function runAll(selection: Selection) {
  const perPanel = new Map<string, number>();
  const perTarget: { key: string; query: string; count: number; selectors: string[] }[] = [];
  for (const t of expandedTargets(dashboard, selection)) {
    const count = (await promQuery(t.query)).length;
    perPanel.set(t.panelTitle, (perPanel.get(t.panelTitle) ?? 0) + count);
    perTarget.push({ key: `${t.panelTitle} ${t.refId}`, query: t.query, count, selectors: t.selectors });
  }
  return { perPanel, perTarget };
}

it('Prometheus scrapes the orchestrator', async () => {
  const up = await waitForSeries('up{test="dashboard"} == 1', 60_000);
  expect(up).toHaveLength(1);
  await waitForSeries(`resiliency_orchestrator_livesync_objects{namespace="${nsB}",state="in_sync"}`, 90_000);
}, 120_000);

it("each filter's label_values query lists the values this run made", async () => {
  const values = async (selection: Selection) =>
    Object.fromEntries(
      await Promise.all(
        variableQueries(dashboard, selection).map(async (v) => {
          const res = await fetch(
            `${env.PROMETHEUS_URL}/api/v1/label/${v.label}/values?match[]=${encodeURIComponent(v.match)}`,
          );
          return [v.name, ((await res.json()) as { data: string[] }).data] as const;
        }),
      ),
    ) as Record<FilterVariable, string[]>;
  const all = await eventually(
    'every filter value in Prometheus',
    async () => {
      const v = await values({});
      return [nsA, nsB].every((n) => v.namespace.includes(n)) &&
        [objA, objB].every((n) => v.object_namespace.includes(n)) &&
        ['core', 'apps'].every((g) => v.api_group.includes(g))
        ? v
        : undefined;
    },
    60_000,
  );
  expect(all.livesynchronization).toEqual(expect.arrayContaining(['one', 'two']));
  // A filter lists only what the filters before it leave.
  const inA = await values({ namespace: [nsA] });
  expect(inA.livesynchronization).toEqual(['one']);
  expect(inA.object_namespace).toEqual([objA]);
  expect(inA.api_group).toEqual(['core']);
}, 90_000);

it('every panel, with its variables filled in, returns series', async () => {
  const empty = await eventually(
    'every panel to have series',
    async () => {
      const { perPanel } = await runAll({ namespace: [nsA, nsB] });
      const missing = [...perPanel.entries()]
        .filter(([title, n]) => n === 0 && !NO_SERIES_HERE.some((re) => re.test(title)))
        .map(([title]) => title);
      return missing.length === 0 ? missing : undefined;
    },
    150_000,
  ).catch(async (err: Error) => {
    const { perPanel } = await runAll({ namespace: [nsA, nsB] });
    throw new Error(
      `${err.message}; empty: ${[...perPanel]
        .filter(([, n]) => n === 0)
        .map(([t]) => t)
        .join(', ')}`,
    );
  });
  expect(empty).toEqual([]);
  // The exceptions are exactly the ones listed: none of them hides a panel that works.
  const titles = dataPanels(dashboard).map((p) => p.title);
  for (const re of NO_SERIES_HERE) expect(titles.some((t) => re.test(t))).toBe(true);
}, 200_000);

it('choosing one value of each filter narrows the series it applies to', async () => {
  const scope: Selection = { namespace: [nsA, nsB] };
  const base = await runAll(scope);
  const choices: Record<FilterVariable, string[]> = {
    namespace: [nsA],
    livesynchronization: ['two'],
    object_namespace: [objA],
    api_group: ['apps'],
  };
  for (const variable of FILTER_VARIABLES) {
    const narrowed = await runAll({ ...scope, [variable]: choices[variable] });
    let strictly = 0;
    for (const [i, t] of narrowed.perTarget.entries()) {
      const before = base.perTarget[i];
      for (const [j, selector] of t.selectors.entries()) {
        const [n] = await promQuery(`count(${selector})`);
        const [m] = await promQuery(`count(${before.selectors[j]})`);
        const after = Number(n?.value[1] ?? 0);
        const prior = Number(m?.value[1] ?? 0);
        expect({ target: t.key, variable, after: after <= prior }).toEqual({
          target: t.key,
          variable,
          after: true,
        });
        if (after < prior) strictly++;
      }
    }
    expect({ variable, strictly: strictly > 0 }).toEqual({ variable, strictly: true });
  }
}, 200_000);
