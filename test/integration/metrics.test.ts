/**
 * The orchestrator's Prometheus metrics on the real stack: an orchestrator with its `/metrics`
 * port runs two real LiveSynchronizations (one with per-namespace series, one with
 * `observability.enabled: false`) and two real Backups (one succeeds, one fails), and the scrape
 * shows each series with its labels and the values the replication and the runs had. The whole
 * exposition, and every log line, is searched for the S3 secret key, the kubeconfigs' keys and
 * tokens, and sentinel values planted in a replicated Secret: none may appear, nor object names.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { PREFIX } from '../../src/metrics/metrics.js';
import { find, parseSamples, valueOf, type Sample } from './metrics-text.js';
import { orchestratorKubeConfig, orchestratorKubeconfigFile } from './rbac.js';
import {
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  target,
} from './resources.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { freePort } from '../bench/util.js';

const env = stackEnv();
const { kc, custom } = managementClients();
const mgmtCore = kc.makeApiClient(CoreV1Api);
const src = clusterClients(env.SOURCE_KUBECONFIG);
const dst = clusterClients(env.DESTINATION_KUBECONFIG);

const ns = uniqueName('metrics'); // the LiveSynchronization 'live' and the Backups
const quietNs = uniqueName('metrics-quiet'); // the LiveSynchronization 'quiet' (observability off)
const appNs = uniqueName('m-app'); // source namespaces
const appNs2 = uniqueName('m-app2');
const appNs3 = uniqueName('m-app3');
const sentinel = {
  name: uniqueName('sentinel-secret-name'),
  data: uniqueName('sentinel-data-value'),
  label: uniqueName('sentinel-label-value'),
  annotation: uniqueName('sentinel-annotation-value'),
};
const backupPath = uniqueName('metrics-backup');

let orchestrator: Orchestrator;
let managementToken = '';
const logs: string[] = [];

const m = (name: string) => `${PREFIX}${name}`;

async function scrape(): Promise<{ text: string; samples: Sample[]; contentType: string | null }> {
  const res = await fetch(orchestrator.metricsServer!.url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseSamples(text), contentType: res.headers.get('content-type') };
}

/** Scrapes until `check` holds for the samples (the gauges refresh every observability.interval). */
async function scrapeUntil(what: string, check: (s: Sample[]) => boolean, timeoutMs = 60_000) {
  return eventually(
    what,
    async () => {
      const s = (await scrape()).samples;
      return check(s) && s;
    },
    timeoutMs,
  );
}

function liveSync(namespaceLabel: string, extra: Record<string, unknown>) {
  const selector = { matchLabels: { 'metrics-run': namespaceLabel } };
  return {
    plugin: 'kubernetes-objects-to-kubernetes',
    config: {
      sourceName: 'source',
      destinationName: 'destination',
      ...extra,
      replication: {
        forceNamespaceCreation: true,
        resources: [
          {
            version: 'v1',
            resource: 'configmaps',
            filters: { namespaceSelector: selector, nameSelector: { regex: ['^cm-'] } },
          },
          {
            version: 'v1',
            resource: 'secrets',
            filters: { namespaceSelector: selector, nameSelector: { regex: ['^sentinel-'] } },
          },
        ],
      },
    },
  };
}

async function create(namespace: string, kind: string, name: string, spec: unknown): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...target(kind as never, namespace, ''),
    body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
  });
}

function finished(kind: 'Backup', name: string): Promise<Resource> {
  return eventually(
    `${kind} ${name} to finish`,
    async () => {
      const r = await getResource(custom, kind, ns, name);
      return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
    },
    90_000,
  );
}

async function configMaps(namespace: string, names: string[]): Promise<void> {
  for (const name of names)
    await src.core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { v: '1' } } });
}

beforeAll(async () => {
  for (const n of [ns, quietNs]) {
    await mgmtCore.createNamespace({ body: { metadata: { name: n } } });
    await createClusterAssets(custom, mgmtCore, n);
  }
  await createBucketAsset(custom, mgmtCore, ns);

  await src.core.createNamespace({ body: { metadata: { name: appNs, labels: { 'metrics-run': ns } } } });
  await src.core.createNamespace({ body: { metadata: { name: appNs2, labels: { 'metrics-run': ns } } } });
  await src.core.createNamespace({
    body: { metadata: { name: appNs3, labels: { 'metrics-run': quietNs } } },
  });
  await configMaps(appNs, ['cm-1', 'cm-2', 'cm-3']);
  await configMaps(appNs2, ['cm-a', 'cm-b', 'cm-c']);
  await configMaps(appNs3, ['cm-q']);
  await src.core.createNamespacedSecret({
    namespace: appNs,
    body: {
      metadata: {
        name: sentinel.name,
        labels: { planted: sentinel.label },
        annotations: { planted: sentinel.annotation },
      },
      stringData: { token: sentinel.data },
    },
  });
  // A destination object of a replicated name that the LiveSynchronization does not own.
  await dst.core.createNamespace({ body: { metadata: { name: appNs2 } } });
  await dst.core.createNamespacedConfigMap({
    namespace: appNs2,
    body: { metadata: { name: 'cm-c' }, data: { mine: 'destination' } },
  });

  const management = await orchestratorKubeConfig();
  managementToken = management.getCurrentUser()?.token ?? '';
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('metrics'),
    },
    management,
    log: createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          logs.push(chunk.toString());
          done();
        },
      }),
    }),
    instance: 'metrics-test',
    namespaces: [ns, quietNs],
    recheckSeconds: 2,
    metricsServer: { host: '127.0.0.1', port: 0 },
  });
  await create(
    ns,
    'LiveSynchronization',
    'live',
    liveSync(ns, { bucketName: 'backups', observability: { enabled: true, interval: '1s' } }),
  );
  await create(
    quietNs,
    'LiveSynchronization',
    'quiet',
    liveSync(quietNs, { observability: { enabled: false, interval: '1s' } }),
  );
});

afterAll(async () => {
  await deleteAllOurs(custom, ns);
  await deleteAllOurs(custom, quietNs);
  await orchestrator?.shutdown();
  for (const n of [ns, quietNs]) await mgmtCore.deleteNamespace({ name: n }).catch(() => undefined);
  for (const c of [src, dst])
    for (const n of [appNs, appNs2, appNs3]) await c.core.deleteNamespace({ name: n }).catch(() => undefined);
});

describe('the /metrics endpoint', () => {
  it('serves the text format on /metrics, with the process metrics, and 404 elsewhere', async () => {
    const { samples, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(find(samples, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(samples, 'nodejs_eventloop_lag_seconds')).toHaveLength(1);
    const other = await fetch(orchestrator.metricsServer!.url.replace('/metrics', '/other'));
    expect(other.status).toBe(404);
  });
});

describe('LiveSynchronization', () => {
  const live = (objectNamespace: string, resource = 'configmaps') => ({
    namespace: ns,
    name: 'live',
    object_namespace: objectNamespace,
    group: 'core',
    resource,
  });

  it('counts the objects in sync, pending and failed per object namespace and type', async () => {
    const objects = m('livesync_objects');
    const s = await scrapeUntil(
      'the object gauges after the initial sync',
      (s) =>
        valueOf(s, objects, { ...live(appNs), state: 'in_sync' }) === 3 &&
        valueOf(s, objects, { ...live(appNs2), state: 'in_sync' }) === 2 &&
        valueOf(s, objects, { ...live(appNs2), state: 'failed' }) === 1,
    );
    expect(valueOf(s, objects, { ...live(appNs), state: 'pending' })).toBe(0);
    expect(valueOf(s, objects, { ...live(appNs), state: 'failed' })).toBe(0);
    expect(valueOf(s, objects, { ...live(appNs2), state: 'pending' })).toBe(0);
    expect(valueOf(s, objects, { ...live(appNs, 'secrets'), state: 'in_sync' })).toBe(1);
    // The namespace nothing selects has no series of 'live'.
    expect(find(s, objects, { name: 'live', object_namespace: appNs3 })).toHaveLength(0);
  });

  it('counts writes, uploads, drift, errors by reason, and the last resync', async () => {
    const s = (await scrape()).samples;
    expect(valueOf(s, m('livesync_writes_total'), { ...live(appNs), operation: 'create' })).toBe(3);
    expect(valueOf(s, m('livesync_writes_total'), { ...live(appNs2), operation: 'create' })).toBe(2);
    expect(valueOf(s, m('livesync_bucket_uploads_total'), live(appNs))).toBe(3);
    expect(valueOf(s, m('livesync_bucket_uploads_total'), live(appNs, 'secrets'))).toBe(1);
    expect(find(s, m('livesync_bucket_upload_failures_total'), { name: 'live' })).toHaveLength(0);
    // The first sync finds every copy missing.
    expect(valueOf(s, m('livesync_resync_drift_total'), { ...live(appNs), action: 'missing' })).toBe(3);
    // The destination's own cm-c: one lasting error, counted once.
    expect(valueOf(s, m('livesync_errors_total'), { ...live(appNs2), reason: 'not_owned' })).toBe(1);
    expect(find(s, m('livesync_errors_total'), live(appNs))).toHaveLength(0);
    const resync = valueOf(s, m('livesync_last_resync_timestamp_seconds'), { namespace: ns, name: 'live' });
    expect(resync).toBeGreaterThan(Date.now() / 1000 - 300);
    expect(resync).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('records the lag of each write, and counts updates and deletes', async () => {
    const lagCount = m('livesync_replication_lag_seconds_count');
    const before = (await scrape()).samples;
    const initial = valueOf(before, lagCount, live(appNs)) ?? 0;
    expect(initial).toBe(3); // the initial writes, timed from the list
    await src.core.patchNamespacedConfigMap({
      namespace: appNs,
      name: 'cm-1',
      body: [{ op: 'replace', path: '/data/v', value: '2' }],
    });
    await src.core.deleteNamespacedConfigMap({ namespace: appNs, name: 'cm-2' });
    const s = await scrapeUntil(
      'the update and the delete',
      (s) =>
        valueOf(s, m('livesync_writes_total'), { ...live(appNs), operation: 'update' }) === 1 &&
        valueOf(s, m('livesync_writes_total'), { ...live(appNs), operation: 'delete' }) === 1 &&
        valueOf(s, m('livesync_objects'), { ...live(appNs), state: 'in_sync' }) === 2 &&
        (valueOf(s, lagCount, live(appNs)) ?? 0) >= initial + 2,
    );
    // The update and the delete: a prune is a change to replicate too, and its lag is recorded.
    expect(valueOf(s, lagCount, live(appNs))).toBe(initial + 2);
    const sum = valueOf(s, m('livesync_replication_lag_seconds_sum'), live(appNs))!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(60);
    const inf = valueOf(s, m('livesync_replication_lag_seconds_bucket'), { ...live(appNs), le: '+Inf' });
    expect(inf).toBe(initial + 2);
    expect(valueOf(s, m('livesync_bucket_uploads_total'), live(appNs))).toBe(4);
  });

  it('observability.enabled false: the same series, under object_namespace "_all"', async () => {
    const quiet = { namespace: quietNs, name: 'quiet', group: 'core', resource: 'configmaps' };
    const s = await scrapeUntil(
      'the quiet gauges',
      (s) =>
        valueOf(s, m('livesync_objects'), { ...quiet, object_namespace: '_all', state: 'in_sync' }) === 1,
    );
    expect(
      valueOf(s, m('livesync_writes_total'), { ...quiet, object_namespace: '_all', operation: 'create' }),
    ).toBe(1);
    expect(find(s, m('livesync_objects'), { object_namespace: appNs3 })).toHaveLength(0);
    expect(find(s, m('livesync_writes_total'), { object_namespace: appNs3 })).toHaveLength(0);
  });
});

describe('Backup runs', () => {
  const labels = { kind: 'Backup', namespace: ns, plugin: 'kubernetes-objects-to-bucket' };
  const spec = (namespaces: string[]) => ({
    plugin: 'kubernetes-objects-to-bucket',
    config: {
      source: { kubernetesCluster: { name: 'source', namespaces } },
      destination: { bucket: { name: 'backups', basePath: backupPath } },
    },
  });

  it('a Backup that succeeds: one attempt, one success, its duration, items and bytes', async () => {
    await create(ns, 'Backup', 'good', spec([appNs]));
    const done = await finished('Backup', 'good');
    expect(done.status?.phase).toBe('Succeeded');
    const progress = done.status?.progress as { objects: number; bytes: number };
    expect(progress.objects).toBeGreaterThanOrEqual(3);
    const s = (await scrape()).samples;
    expect(valueOf(s, m('run_attempts_total'), labels)).toBe(1);
    expect(valueOf(s, m('run_successes_total'), labels)).toBe(1);
    expect(valueOf(s, m('run_duration_seconds_count'), { ...labels, result: 'succeeded' })).toBe(1);
    expect(valueOf(s, m('run_duration_seconds_sum'), { ...labels, result: 'succeeded' })).toBeGreaterThan(0);
    expect(valueOf(s, m('run_items_total'), { ...labels, unit: 'objects', result: 'processed' })).toBe(
      progress.objects,
    );
    expect(valueOf(s, m('run_items_total'), { ...labels, unit: 'objects', result: 'failed' })).toBe(0);
    expect(valueOf(s, m('run_bytes_total'), labels)).toBe(progress.bytes);
    expect(find(s, m('run_failures_total'), labels)).toHaveLength(0);
  });

  it('a Backup that fails: an attempt and a failure by type', async () => {
    await create(ns, 'Backup', 'bad', spec([uniqueName('no-such-namespace')]));
    const done = await finished('Backup', 'bad');
    expect(done.status?.phase).toBe('Failed');
    const s = (await scrape()).samples;
    expect(valueOf(s, m('run_attempts_total'), labels)).toBe(2);
    expect(valueOf(s, m('run_successes_total'), labels)).toBe(1);
    expect(valueOf(s, m('run_failures_total'), { ...labels, failure_type: 'NamespaceNotFound' })).toBe(1);
    expect(valueOf(s, m('run_duration_seconds_count'), { ...labels, result: 'failed' })).toBe(1);
  });
});

describe('orchestrator health', () => {
  it('asset health, bridge queue depth and reconcile errors, running workflows per kind', async () => {
    const s = await scrapeUntil(
      'two running LiveSynchronization workflows and the assets checked',
      (s) =>
        valueOf(s, m('workflows_running'), { kind: 'LiveSynchronization' }) === 2 &&
        valueOf(s, m('asset_ready'), { kind: 'Bucket', namespace: ns, name: 'backups' }) === 1 &&
        valueOf(s, m('asset_ready'), { kind: 'KubernetesCluster', namespace: quietNs, name: 'source' }) === 1,
      45_000,
    );
    expect(
      valueOf(s, m('asset_ready'), { kind: 'KubernetesCluster', namespace: ns, name: 'destination' }),
    ).toBe(1);
    expect(valueOf(s, m('bridge_queue_depth'))).toBeGreaterThanOrEqual(0);
    expect(find(s, m('workflows_running'))).toHaveLength(9);
    expect(valueOf(s, m('workflows_running'), { kind: 'Backup' })).toBe(0); // both have finished
    // A reconcile error is counted by kind: the series exists once one happened, never with a name.
    for (const e of find(s, m('bridge_reconcile_errors_total')))
      expect(Object.keys(e.labels)).toEqual(['kind']);
  });
});

describe('no secret, and no object name, in the metrics or the logs', () => {
  it('the exposition and every log line are free of the planted values', async () => {
    const { text, samples } = await scrape();
    const kubeconfigSecrets = (file: string) => {
      const k = new KubeConfig();
      k.loadFromFile(file);
      const user = k.getCurrentUser();
      return [
        user?.keyData,
        user?.certData,
        user?.token,
        readFileSync(file, 'utf8').match(/client-key-data: (\S+)/)?.[1],
      ].filter((v): v is string => typeof v === 'string' && v.length > 8);
    };
    const forbidden = [
      env.S3_SECRET_ACCESS_KEY,
      managementToken,
      ...kubeconfigSecrets(env.SOURCE_KUBECONFIG),
      ...kubeconfigSecrets(env.DESTINATION_KUBECONFIG),
      sentinel.data,
      Buffer.from(sentinel.data).toString('base64'),
      sentinel.label,
      sentinel.annotation,
    ];
    expect(forbidden.length).toBeGreaterThanOrEqual(8);
    expect(text).toContain(appNs); // the scrape holds the replication's series …
    for (const value of forbidden) expect(text.includes(value) ? value : 'absent').toBe('absent');
    expect(text.includes(sentinel.name)).toBe(false); // object names are no label values
    const logText = logs.join('');
    expect(logText).toContain('object created in cluster'); // … and the logs the replication's lines
    for (const value of forbidden) expect(logText.includes(value) ? value : 'absent').toBe('absent');
    // No object name as a label value: neither the Secret's nor a ConfigMap's.
    const values = new Set(samples.flatMap((x) => Object.values(x.labels)));
    for (const name of [sentinel.name, 'cm-1', 'cm-2', 'cm-3', 'cm-a', 'cm-q'])
      expect(values.has(name)).toBe(false);
  });
});

describe('the orchestrator process (src/main.ts)', () => {
  it('logs its metrics URLs, serves /metrics and the Temporal SDK worker metrics on their ports', async () => {
    const [port, sdkPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main.ts',
        '--temporal-address',
        env.TEMPORAL_ADDRESS,
        '--kubeconfig',
        await orchestratorKubeconfigFile(),
        '--task-queue',
        uniqueName('metrics-process'),
        '--namespaces',
        uniqueName('metrics-none'), // watches a namespace with nothing in it
        '--metrics-address',
        '127.0.0.1',
        '--metrics-port',
        String(port),
        '--temporal-metrics-port',
        String(sdkPort),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    try {
      const running = await eventually('the orchestrator running line', async () =>
        output.split('\n').find((l) => l.includes('"msg":"orchestrator running"')),
      );
      const listening = output.split('\n').find((l) => l.includes('"msg":"metrics listening"'));
      expect(JSON.parse(listening!).url).toBe(`http://127.0.0.1:${port}/metrics`);
      expect(JSON.parse(running)).toMatchObject({
        metrics: `http://127.0.0.1:${port}/metrics`,
        temporalMetrics: `http://127.0.0.1:${sdkPort}/metrics`,
      });
      const ours = parseSamples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(find(ours, m('bridge_queue_depth'))).toHaveLength(1);
      // The SDK's worker metrics, Prometheus-style: _total counters, seconds.
      const sdk = await eventually('the worker metrics of the Temporal SDK', async () => {
        const text = await (await fetch(`http://127.0.0.1:${sdkPort}/metrics`)).text();
        return text.includes('temporal_worker_task_slots_available') && text;
      });
      const samples = parseSamples(sdk);
      expect(
        find(samples, 'temporal_worker_task_slots_available', { worker_type: 'ActivityWorker' }).length,
      ).toBe(1);
      expect(find(samples, 'temporal_request_total').length).toBeGreaterThan(0);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
