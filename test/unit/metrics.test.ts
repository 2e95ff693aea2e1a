/**
 * The metrics' pure parts: bounded label values, the mapping of plugin progress onto item counts,
 * the observability settings, the registry wiring (one registry per orchestrator, nothing on
 * prom-client's default register, every metric documented), the LiveSynchronization and run
 * recorders, the /metrics server and its configuration.
 */
import { readFileSync } from 'node:fs';
import { register as defaultRegister } from 'prom-client';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import {
  ALL_NAMESPACES,
  apiGroupLabel,
  DEFAULT_OBSERVABILITY_INTERVAL_MS,
  failureTypeLabel,
  objectNamespaceLabel,
  observabilitySettings,
  runItems,
} from '../../src/metrics/labels.js';
import { liveSyncRecorder } from '../../src/metrics/livesync.js';
import { createMetrics, PREFIX } from '../../src/metrics/metrics.js';
import { runRecorder } from '../../src/metrics/runs.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { runningQuery } from '../../src/metrics/workflows.js';
import { find, parseSamples, valueOf } from '../integration/metrics-text.js';

const text = async (m: ReturnType<typeof createMetrics>) => parseSamples(await m.registry.metrics());

describe('label values', () => {
  it.each([
    ['', 'core'],
    ['apps', 'apps'],
    ['networking.k8s.io', 'networking.k8s.io'],
  ])('API group %j is labelled %j', (group, label) => expect(apiGroupLabel(group)).toBe(label));

  it('object namespace: the namespace, or _all when per-namespace series are off', () => {
    expect(objectNamespaceLabel('team-a', true)).toBe('team-a');
    expect(objectNamespaceLabel('', true)).toBe(''); // cluster-scoped
    expect(objectNamespaceLabel('team-a', false)).toBe(ALL_NAMESPACES);
  });

  it.each([
    ['NamespaceNotFound', 'NamespaceNotFound'],
    ['BucketWriteFailed', 'BucketWriteFailed'],
    ['InvalidSpec', 'InvalidSpec'],
    ['Error', 'Error'],
    ['SomePluginsOwnType', 'Other'],
    ['my-object-name-1234', 'Other'],
    [null, 'Other'],
    [undefined, 'Other'],
  ])('failure type %j is labelled %j', (type, label) => expect(failureTypeLabel(type)).toBe(label));
});

describe('run items from a plugin final progress', () => {
  it.each([
    ['kubernetes-objects-to-bucket', { objects: 12, bytes: 3400, types: 3 }, 'objects', 12, 0, 3400],
    ['zookeeper-nodes-to-bucket', { znodes: 40, chunks: 2, bytes: 900, failed: 1 }, 'znodes', 40, 1, 900],
    [
      'zookeeper-to-zookeeper-nodes',
      { read: 50, written: 30, skipped: 15, deleted: 2, failed: 3, bytes: 10 },
      'znodes',
      47,
      3,
      10,
    ],
    [
      'kubernetes-objects-to-kubernetes',
      { entries: 2, inSync: 9, pending: 1, failed: 2 },
      'objects',
      9,
      2,
      0,
    ],
    [
      'bucket-to-kubernetes-objects',
      { created: 4, updated: 1, skipped: 2, failed: 1, total: 8 },
      'objects',
      7,
      1,
      0,
    ],
    [
      'kubernetes-objects-transformation',
      { matched: 6, patched: 3, restored: 1, unchanged: 1, failed: 1 },
      'objects',
      5,
      1,
      0,
    ],
    ['custom-image', undefined, 'objects', 0, 0, 0],
    ['custom-image', { objects: -3, bytes: Number.NaN }, 'objects', 0, 0, 0],
  ])('%s %j: %s processed %d, failed %d, bytes %d', (plugin, progress, unit, processed, failed, bytes) => {
    expect(runItems(plugin, progress as Record<string, number> | undefined)).toEqual({
      unit,
      processed,
      failed,
      bytes,
    });
  });
});

describe('observability settings of a LiveSynchronization', () => {
  it.each([
    [undefined, true, DEFAULT_OBSERVABILITY_INTERVAL_MS],
    [{}, true, DEFAULT_OBSERVABILITY_INTERVAL_MS],
    [{ enabled: false }, false, DEFAULT_OBSERVABILITY_INTERVAL_MS],
    [{ enabled: true, interval: '15m' }, true, 900_000],
    [{ interval: '5s' }, true, 5000],
    [{ interval: '100ms' }, true, 1000], // at least a second
    [{ interval: 'soon' }, true, DEFAULT_OBSERVABILITY_INTERVAL_MS],
  ])('%j: per namespace %s, every %d ms', (observability, perNamespace, intervalMs) => {
    expect(observabilitySettings(observability)).toEqual({ perNamespace, intervalMs });
  });
});

describe('the registry', () => {
  it('is one per createMetrics, and nothing lands on prom-client default register', async () => {
    const a = createMetrics();
    const b = createMetrics({ defaultMetrics: false });
    a.runs.attempts.inc({ kind: 'Backup', namespace: 'n', plugin: 'p' });
    expect(valueOf(await text(a), `${PREFIX}run_attempts_total`)).toBe(1);
    expect(find(await text(b), `${PREFIX}run_attempts_total`)).toHaveLength(0);
    expect(find(await text(a), 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(await text(b), 'process_cpu_user_seconds_total')).toHaveLength(0);
    expect(defaultRegister.getMetricsAsArray()).toHaveLength(0);
  });

  it('names every metric with the prefix, and docs/observability.md lists each one', () => {
    const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    const names = createMetrics({ defaultMetrics: false })
      .registry.getMetricsAsArray()
      .map((metric) => metric.name);
    expect(names.length).toBeGreaterThanOrEqual(19);
    for (const name of names) {
      expect(name.startsWith(PREFIX)).toBe(true);
      expect(doc.includes(`\`${name}\``) ? name : `${name} is not in docs/observability.md`).toBe(name);
    }
  });

  it('sums the depth of every bridge queue watched, until it is unwatched', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const stopA = m.watchQueueDepth(() => 3);
    m.watchQueueDepth(() => 4);
    expect(valueOf(await text(m), `${PREFIX}bridge_queue_depth`)).toBe(7);
    stopA();
    expect(valueOf(await text(m), `${PREFIX}bridge_queue_depth`)).toBe(4);
  });
});

describe('the LiveSynchronization recorder', () => {
  const owner = { namespace: 'dr', name: 'live' };
  const cm = { group: '', version: 'v1', resource: 'configmaps' };
  const deploy = { group: 'apps', version: 'v1', resource: 'deployments' };
  const labels = (objectNamespace: string, gvr = cm) => ({
    namespace: 'dr',
    name: 'live',
    object_namespace: objectNamespace,
    group: apiGroupLabel(gvr.group),
    resource: gvr.resource,
  });

  it('turns engine events into counters and the lag histogram', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const r = liveSyncRecorder(m, owner, { perNamespace: true, intervalMs: 1000 });
    r.event(cm, { type: 'write', namespace: 'a', operation: 'create' });
    r.event(cm, { type: 'write', namespace: 'a', operation: 'create' });
    r.event(cm, { type: 'write', namespace: 'b', operation: 'delete' });
    r.event(cm, { type: 'error', namespace: 'a', reason: 'write' });
    r.event(cm, { type: 'upload', namespace: 'a', ok: true });
    r.event(cm, { type: 'upload', namespace: 'a', ok: false });
    r.event(cm, { type: 'drift', namespace: 'a', action: 'orphaned' });
    r.event(deploy, { type: 'lag', namespace: 'a', ms: 300 });
    r.event(deploy, { type: 'lag', namespace: 'a', ms: 7000 });
    const s = await text(m);
    expect(valueOf(s, `${PREFIX}livesync_writes_total`, { ...labels('a'), operation: 'create' })).toBe(2);
    expect(valueOf(s, `${PREFIX}livesync_writes_total`, { ...labels('b'), operation: 'delete' })).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_errors_total`, { ...labels('a'), reason: 'write' })).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_bucket_uploads_total`, labels('a'))).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_bucket_upload_failures_total`, labels('a'))).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_resync_drift_total`, { ...labels('a'), action: 'orphaned' })).toBe(
      1,
    );
    const lag = labels('a', deploy);
    expect(valueOf(s, `${PREFIX}livesync_replication_lag_seconds_count`, lag)).toBe(2);
    expect(valueOf(s, `${PREFIX}livesync_replication_lag_seconds_sum`, lag)).toBeCloseTo(7.3);
    expect(valueOf(s, `${PREFIX}livesync_replication_lag_seconds_bucket`, { ...lag, le: '0.5' })).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_replication_lag_seconds_bucket`, { ...lag, le: '10' })).toBe(2);
  });

  it('with per-namespace series off, aggregates every object namespace under _all', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const r = liveSyncRecorder(m, owner, { perNamespace: false, intervalMs: 1000 });
    r.event(cm, { type: 'write', namespace: 'a', operation: 'create' });
    r.event(cm, { type: 'write', namespace: 'b', operation: 'create' });
    r.objectCounts([
      {
        gvr: cm,
        counts: [
          { namespace: 'a', inSync: 2, pending: 1, failed: 0 },
          { namespace: 'b', inSync: 3, pending: 0, failed: 1 },
        ],
      },
    ]);
    const s = await text(m);
    expect(find(s, `${PREFIX}livesync_writes_total`)).toHaveLength(1);
    expect(valueOf(s, `${PREFIX}livesync_writes_total`, labels('_all'))).toBe(2);
    expect(valueOf(s, `${PREFIX}livesync_objects`, { ...labels('_all'), state: 'in_sync' })).toBe(5);
    expect(valueOf(s, `${PREFIX}livesync_objects`, { ...labels('_all'), state: 'failed' })).toBe(1);
    expect(find(s, `${PREFIX}livesync_objects`, { object_namespace: 'a' })).toHaveLength(0);
  });

  it('sets the object gauges, drops the namespaces that are gone, and forgets them all', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const first = liveSyncRecorder(m, owner, { perNamespace: true, intervalMs: 1000 });
    const other = liveSyncRecorder(
      m,
      { namespace: 'dr', name: 'other' },
      { perNamespace: true, intervalMs: 1 },
    );
    first.objectCounts([{ gvr: cm, counts: [{ namespace: 'a', inSync: 2, pending: 0, failed: 0 }] }]);
    other.objectCounts([{ gvr: cm, counts: [{ namespace: 'z', inSync: 1, pending: 0, failed: 0 }] }]);
    first.resynced(new Date(1_700_000_000_000));
    // The next run of the same LiveSynchronization sees namespace b only.
    const next = liveSyncRecorder(m, owner, { perNamespace: true, intervalMs: 1000 });
    next.objectCounts([{ gvr: cm, counts: [{ namespace: 'b', inSync: 4, pending: 1, failed: 0 }] }]);
    let s = await text(m);
    expect(find(s, `${PREFIX}livesync_objects`, labels('a'))).toHaveLength(0);
    expect(valueOf(s, `${PREFIX}livesync_objects`, { ...labels('b'), state: 'in_sync' })).toBe(4);
    expect(valueOf(s, `${PREFIX}livesync_objects`, { ...labels('b'), state: 'pending' })).toBe(1);
    expect(valueOf(s, `${PREFIX}livesync_last_resync_timestamp_seconds`, owner)).toBe(1_700_000_000);
    next.forget();
    s = await text(m);
    expect(find(s, `${PREFIX}livesync_objects`, { name: 'live' })).toHaveLength(0);
    expect(find(s, `${PREFIX}livesync_last_resync_timestamp_seconds`, owner)).toHaveLength(0);
    expect(find(s, `${PREFIX}livesync_objects`, { name: 'other' })).toHaveLength(3); // untouched
  });
});

describe('the run recorder', () => {
  const labels = { kind: 'TaskRun', namespace: 'dr', plugin: 'kubernetes-objects-transformation' };

  it('a success: attempt, success, duration, items and bytes of the final progress', async () => {
    const m = createMetrics({ defaultMetrics: false });
    let now = 1000;
    const r = runRecorder(m, { kind: 'TaskRun', namespace: 'dr' }, () => now);
    r.started('kubernetes-objects-transformation');
    r.progress({ matched: 2, patched: 1, failed: 0 });
    now += 42_500;
    r.succeeded({ matched: 3, patched: 2, unchanged: 1, failed: 0 });
    const s = await text(m);
    expect(valueOf(s, `${PREFIX}run_attempts_total`, labels)).toBe(1);
    expect(valueOf(s, `${PREFIX}run_successes_total`, labels)).toBe(1);
    expect(valueOf(s, `${PREFIX}run_duration_seconds_sum`, { ...labels, result: 'succeeded' })).toBe(42.5);
    expect(
      valueOf(s, `${PREFIX}run_duration_seconds_bucket`, { ...labels, result: 'succeeded', le: '30' }),
    ).toBe(0);
    expect(
      valueOf(s, `${PREFIX}run_duration_seconds_bucket`, { ...labels, result: 'succeeded', le: '60' }),
    ).toBe(1);
    expect(valueOf(s, `${PREFIX}run_items_total`, { ...labels, unit: 'objects', result: 'processed' })).toBe(
      3,
    );
    expect(find(s, `${PREFIX}run_failures_total`)).toHaveLength(0);
  });

  it('a failure: counted by bounded type, with the last progress reported', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const r = runRecorder(m, { kind: 'Synchronization', namespace: 'dr' }, () => 0);
    r.started('zookeeper-to-zookeeper-nodes');
    r.progress({ read: 10, written: 6, failed: 4, bytes: 100 });
    r.failed('ZnodeCopyFailed');
    const other = runRecorder(m, { kind: 'Synchronization', namespace: 'dr' }, () => 0);
    other.failed('a-type-nobody-knows'); // failed before its plugin was resolved
    const s = await text(m);
    const zk = { kind: 'Synchronization', namespace: 'dr', plugin: 'zookeeper-to-zookeeper-nodes' };
    expect(valueOf(s, `${PREFIX}run_failures_total`, { ...zk, failure_type: 'ZnodeCopyFailed' })).toBe(1);
    expect(valueOf(s, `${PREFIX}run_items_total`, { ...zk, unit: 'znodes', result: 'failed' })).toBe(4);
    expect(valueOf(s, `${PREFIX}run_items_total`, { ...zk, unit: 'znodes', result: 'processed' })).toBe(6);
    expect(valueOf(s, `${PREFIX}run_bytes_total`, zk)).toBe(100);
    const unknown = { kind: 'Synchronization', namespace: 'dr', plugin: 'unknown' };
    expect(valueOf(s, `${PREFIX}run_attempts_total`, unknown)).toBe(1);
    expect(valueOf(s, `${PREFIX}run_failures_total`, { ...unknown, failure_type: 'Other' })).toBe(1);
  });
});

describe('the /metrics server', () => {
  it('serves the registry on /metrics, 404 elsewhere, 405 for other methods', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.health.assetReady.set({ kind: 'Bucket', namespace: 'dr', name: 'backups' }, 1);
    const server = await startMetricsServer({
      registry: m.registry,
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ level: 'silent' }),
    });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const body = await res.text();
      expect(body).toContain(`${PREFIX}asset_ready{kind="Bucket",namespace="dr",name="backups"} 1`);
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });
});

describe('configuration', () => {
  it('serves metrics on 0.0.0.0:9464 and the SDK on :9465 by default', () => {
    const c = loadConfig([], {});
    expect(c.metrics).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(c.temporalMetrics).toEqual({ bindAddress: '0.0.0.0:9465' });
  });

  it('flags override the environment; port 0 turns an endpoint off', () => {
    const c = loadConfig(['--metrics-port', '0', '--metrics-address', '127.0.0.1'], {
      METRICS_PORT: '9000',
      TEMPORAL_METRICS_PORT: '9100',
    });
    expect(c.metrics).toBeUndefined();
    expect(c.temporalMetrics).toEqual({ bindAddress: '127.0.0.1:9100' });
    expect(loadConfig(['--temporal-metrics-port', '0'], {}).temporalMetrics).toBeUndefined();
    expect(loadConfig([], { METRICS_ADDRESS: '::1' }).temporalMetrics).toEqual({ bindAddress: '[::1]:9465' });
  });

  it.each([
    [['--metrics-port', 'http'], /--metrics-port \/ METRICS_PORT: 'http' is not a port number/],
    [['--metrics-port', '70000'], /is not a port number/],
    [['--temporal-metrics-port', '-1'], /--temporal-metrics-port/],
    [['--metrics-port', '9100', '--temporal-metrics-port', '9100'], /both 9100/],
    [['--metrics-address', 'http://x'], /--metrics-address/],
  ])('%j is refused, naming the flag', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
});

describe('the running-workflows query', () => {
  it('filters by task queue, status and kind, quoting what it is given', () => {
    expect(runningQuery('resiliency-orchestrator', 'Backup')).toBe(
      "TaskQueue = 'resiliency-orchestrator' AND ExecutionStatus = 'Running' AND AstronetesKind = 'Backup'",
    );
    expect(runningQuery("q'x", 'Backup')).toContain("TaskQueue = 'q\\'x'");
  });
});
