/**
 * `npm run bench:scale`: the LiveSynchronization at scale, on the local stack. A script, not a
 * timed test: it prints a table, writes `bench-results/scale-<timestamp>.json` and exits non-zero
 * only on errors, never on a missed target. See docs/benchmarks.md.
 *
 *   (s1) initial sync of N ConfigMaps (default 50,000, ~1 KiB) over M namespaces (default 500),
 *        from `kubectl apply` of the LiveSynchronization until a destination watch has seen all.
 *   (s2) the orchestrator's RSS: before, every N/5 objects synced (10k, 20k, ... at the default),
 *        peak (VmHWM) and after; the growth per 10,000 objects (least-squares slope of those
 *        samples) against a stated bound.
 *   (s3) live lag at R updates/s (default 100) while resyncs run: the live phase starts by
 *        setting `replication.resyncPeriod` to --resync-period, a spec change that makes the
 *        workflow start a new `replicate` run at once (a full relist of both sides and a
 *        comparison), and again every period after; each resync's duration comes from
 *        `status.replication.lastResyncResult`.
 *
 * The orchestrator runs as the image runs it, `node dist/src/main.js` (npm run build first).
 */
import type { Kind } from '../../src/api/kinds.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { createReadyClusters, crTarget, ensureStack, getCr } from './stack.js';
import {
  configMapBody,
  createNamespaces,
  deleteNamespaces,
  DestinationWatch,
  kubeConfig,
  objectSet,
} from './kube.js';
import { LagTracker, seqOfStamp, stampOf } from './lag.js';
import { buildDist, sampleProc, startOrchestratorProcess, type OrchestratorProcess } from './proc.js';
import { renderTable, type Row } from './report.js';
import {
  errText,
  freePort,
  mib,
  millis,
  numberFlag,
  pool,
  progressPrinter,
  retry,
  secs,
  sleep,
  summarize,
  waitFor,
} from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const TARGET_P99_MS = 500;
const MiB = 1024 * 1024;

const USAGE = `usage: npm run bench:scale -- [options]   (each option also reads BENCH_<NAME>, e.g. BENCH_OBJECTS)
  --objects N               ConfigMaps replicated (default 50000)
  --namespaces N            source namespaces they are spread over (default 500)
  --payload-bytes N         size of each ConfigMap's payload (default 1024)
  --rate N                  live updates per second at the source (default 100)
  --seconds N               how long the live updates run (default 120)
  --resync-period D         resyncPeriod set at the start of the live phase (default 40s)
  --concurrency N           the replicator's concurrentTasks (default 16)
  --setup-concurrency N     writes in flight while creating the source objects, untimed (default 32)
  --rss-bound N             bound on RSS growth, MiB per 10,000 objects (default 100)
  --converge-timeout N      seconds to wait for the initial sync (default 1800)
  --lag-grace N             seconds to wait for updates after the last one is sent (default 60)
  --max-minutes N           stop everything (and clean up) after this long (default 90)
  --log-level LEVEL         the orchestrator's --log-level (default warn; info logs every write)
  --node-flags FLAGS        extra node flags for the orchestrator (default none, as in the image)
  --skip-build              use the dist/ that is there instead of running npm run build first`;

interface Params {
  objects: number;
  namespaces: number;
  payloadBytes: number;
  rate: number;
  seconds: number;
  resyncPeriod: string;
  concurrency: number;
  setupConcurrency: number;
  rssBoundMiBPer10k: number;
  convergeTimeoutSeconds: number;
  lagGraceSeconds: number;
  maxMinutes: number;
  nodeFlags: string[];
  skipBuild: boolean;
  logLevel: string;
}

function parseParams(): Params {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      objects: { type: 'string' },
      namespaces: { type: 'string' },
      'payload-bytes': { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      'resync-period': { type: 'string' },
      concurrency: { type: 'string' },
      'setup-concurrency': { type: 'string' },
      'rss-bound': { type: 'string' },
      'converge-timeout': { type: 'string' },
      'lag-grace': { type: 'string' },
      'max-minutes': { type: 'string' },
      'node-flags': { type: 'string' },
      'skip-build': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const env = (flag: string) => `BENCH_${flag.toUpperCase().replaceAll('-', '_')}`;
  const num = (flag: keyof typeof values, dflt: number, min = 1): number =>
    numberFlag(values, flag, dflt, min);
  const p: Params = {
    objects: Math.floor(num('objects', 50_000)),
    namespaces: Math.floor(num('namespaces', 500)),
    payloadBytes: Math.floor(num('payload-bytes', 1024, 0)),
    rate: num('rate', 100),
    seconds: num('seconds', 120),
    resyncPeriod: values['resync-period'] ?? process.env[env('resync-period')] ?? '40s',
    concurrency: Math.floor(num('concurrency', 16)),
    setupConcurrency: Math.floor(num('setup-concurrency', 32)),
    rssBoundMiBPer10k: num('rss-bound', 100),
    convergeTimeoutSeconds: num('converge-timeout', 1800),
    lagGraceSeconds: num('lag-grace', 60, 0),
    maxMinutes: num('max-minutes', 90),
    nodeFlags: (values['node-flags'] ?? process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
    skipBuild: values['skip-build'] ?? process.env.BENCH_SKIP_BUILD === '1',
    logLevel: values['log-level'] ?? process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  if (p.namespaces > p.objects) throw new Error('--namespaces must not exceed --objects');
  if (!/^(\d+h)?(\d+m)?(\d+s)?$/.test(p.resyncPeriod) || p.resyncPeriod === '')
    throw new Error(`--resync-period: '${p.resyncPeriod}' is not a duration such as 40s or 1m30s`);
  return p;
}

const progress = progressPrinter('scale');

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

async function main(): Promise<number> {
  const params = parseParams();
  const abort = new AbortController();
  const signal = abort.signal;
  let interrupted = 0;
  process.on('SIGINT', () => {
    if (++interrupted > 1) process.exit(130);
    progress('interrupted: cleaning up (Ctrl-C again to leave everything behind)');
    abort.abort(new Error('interrupted'));
  });
  const watchdog = setTimeout(
    () => abort.abort(new Error(`stopped after --max-minutes ${params.maxMinutes}`)),
    params.maxMinutes * 60_000,
  );
  watchdog.unref();

  const runId = randomBytes(3).toString('hex');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = join(resultsDir, `scale-${stamp}.json`);
  const logFile = join(resultsDir, `scale-${stamp}.orchestrator.log`);
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const facts = {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    loadAverageAtStart: os.loadavg(),
    git: { commit },
  };
  progress(
    `run ${runId}: ${params.objects} objects over ${params.namespaces} namespaces; live ${params.rate}/s for ` +
      `${params.seconds} s with resyncPeriod ${params.resyncPeriod}; ${facts.nproc} cpus, load ` +
      facts.loadAverageAtStart.map((l) => l.toFixed(2)).join(' '),
  );

  const env = await ensureStack(progress, signal);
  if (!params.skipBuild) {
    progress('npm run build');
    progress(`built in ${secs(buildDist())}`);
  }
  const mgmt = kubeConfig(env.MANAGEMENT_KUBECONFIG);
  const srcKc = kubeConfig(env.SOURCE_KUBECONFIG);
  const dstKc = kubeConfig(env.DESTINATION_KUBECONFIG);
  const mgmtCore = mgmt.makeApiClient(CoreV1Api);
  const custom = mgmt.makeApiClient(CustomObjectsApi);
  const srcCore = srcKc.makeApiClient(CoreV1Api);
  const dstCore = dstKc.makeApiClient(CoreV1Api);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });

  const mgmtNs = `scale-${runId}`;
  const runLabel = `scale-${runId}`;
  const set = objectSet(`scale-${runId}-s`, params.namespaces, params.objects);
  const lsName = 'scale';
  const owner = { namespace: mgmtNs, name: lsName };
  const ownerSelector = `${OWNER_LABEL}=${ownerLabelValue(owner)}`;
  const created = { source: [] as string[], destination: [] as string[], crs: [] as Kind[] };
  let orchestrator: OrchestratorProcess | undefined;
  let watch: DestinationWatch | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const result: Record<string, unknown> = {
    benchmark: 'scale',
    runId,
    startedAt: new Date().toISOString(),
    params,
    machine: facts,
  };
  const rows: Row[] = [];
  let exitCode = 0;
  const started = Date.now();

  try {
    // ---- setup (untimed) -----------------------------------------------------------------------
    await retry(() => mgmtCore.createNamespace({ body: { metadata: { name: mgmtNs } } }), { ok: [409] });
    for (const [name, file] of [
      ['source', env.SOURCE_KUBECONFIG],
      ['destination', env.DESTINATION_KUBECONFIG],
    ])
      await retry(
        () =>
          mgmtCore.createNamespacedSecret({
            namespace: mgmtNs,
            body: { metadata: { name }, stringData: { 'kubeconfig.yaml': readFileSync(file, 'utf8') } },
          }),
        { ok: [409] },
      );
    progress(`setup: creating ${params.objects} ConfigMaps in ${params.namespaces} source namespaces`);
    const setupStart = Date.now();
    created.source.push(...set.namespaces);
    created.destination.push(...set.namespaces);
    await createNamespaces(srcCore, set.namespaces, params.setupConcurrency, { [runLabel]: 'yes' }, signal);
    let made = 0;
    await pool(
      set.objects,
      params.setupConcurrency,
      async (o) => {
        await retry(
          () =>
            srcCore.createNamespacedConfigMap({
              namespace: o.namespace,
              body: configMapBody(o.name, params.payloadBytes),
            }),
          { ok: [409], signal },
        );
        if (++made % 10_000 === 0) progress(`setup: ${made} created`);
      },
      signal,
    );
    const setupMs = Date.now() - setupStart;
    progress(`setup: source ready in ${secs(setupMs)}`);

    // ---- the orchestrator ------------------------------------------------------------------------
    const metricsPort = await freePort();
    orchestrator = startOrchestratorProcess({
      cwd: ROOT,
      logFile,
      entry: 'built',
      nodeArgs: params.nodeFlags,
      args: [
        '--temporal-address',
        env.TEMPORAL_ADDRESS,
        '--temporal-namespace',
        env.TEMPORAL_NAMESPACE,
        '--kubeconfig',
        env.MANAGEMENT_KUBECONFIG,
        '--task-queue',
        `scale-${runId}`,
        '--namespaces',
        mgmtNs,
        '--log-level',
        params.logLevel,
        '--metrics-address',
        '127.0.0.1',
        '--metrics-port',
        String(metricsPort),
      ],
    });
    const orch = orchestrator;
    progress(`orchestrator: pid ${orch.pid}, log ${logFile}`);
    await createReadyClusters({
      custom,
      namespace: mgmtNs,
      orch,
      logFile,
      signal,
      onCreated: () => created.crs.push('KubernetesCluster'),
    });
    await sleep(2000, signal);
    const before = sampleProc(orch.pid);
    progress(`orchestrator: ready, RSS ${mib(before.rss)}`);
    // RSS every second for the peak and the timeline; VmHWM is the kernel's own peak.
    const timeline: { t: number; rss: number }[] = [];
    let last = before;
    sampler = setInterval(() => {
      try {
        last = sampleProc(orch.pid);
        timeline.push({ t: Date.now() - started, rss: last.rss });
      } catch {
        /* exited */
      }
    }, 1000);

    // ---- (s1, s2) initial sync, RSS every step ---------------------------------------------------
    const step = Math.max(1, Math.min(10_000, Math.floor(params.objects / 5)));
    const steps: { synced: number; rss: number; atMs: number }[] = [];
    const expected = new Set(set.objects.map((o) => `${o.namespace}/${o.name}`));
    const arrived = new Set<string>();
    let lastArrival = 0;
    let aStart = 0;
    const tracker = new LagTracker();
    watch = new DestinationWatch(dstKc, ownerSelector, 1000);
    watch.onEvent = (type, key, obj, at) => {
      if (type === 'DELETED') return;
      if (expected.has(key) && !arrived.has(key)) {
        arrived.add(key);
        lastArrival = at;
        if (arrived.size % step === 0) {
          try {
            steps.push({ synced: arrived.size, rss: sampleProc(orch.pid).rss, atMs: at - aStart });
          } catch {
            /* exited */
          }
        }
      }
      const seq = seqOfStamp(obj.data?.stamp);
      if (seq !== undefined) tracker.seen(key, seq, at);
    };
    await watch.start();
    const cpuBeforeA = sampleProc(orch.pid).cpuSeconds;
    progress(`(s1) creating LiveSynchronization ${mgmtNs}/${lsName}`);
    aStart = Date.now();
    created.crs.push('LiveSynchronization');
    const replication = {
      forceNamespaceCreation: true,
      resyncPeriod: '1h0m0s',
      resources: [
        {
          version: 'v1',
          resource: 'configmaps',
          filters: { namespaceSelector: { matchLabels: { [runLabel]: 'yes' } } },
        },
      ],
    };
    await custom.createNamespacedCustomObject({
      ...crTarget('LiveSynchronization', mgmtNs),
      body: {
        apiVersion: 'automation.astronetes.io/v1alpha1',
        kind: 'LiveSynchronization',
        metadata: { name: lsName, namespace: mgmtNs },
        spec: {
          plugin: 'kubernetes-objects-to-kubernetes',
          suspend: false,
          config: {
            sourceName: 'source',
            destinationName: 'destination',
            replication,
            components: { synchronizer: { concurrentTasks: params.concurrency } },
          },
        },
      },
    });
    let lastProgress = Date.now();
    const aDeadline = aStart + params.convergeTimeoutSeconds * 1000;
    while (arrived.size < expected.size && Date.now() < aDeadline) {
      signal.throwIfAborted();
      if (orch.exited)
        throw new Error(`the orchestrator exited (${JSON.stringify(orch.exited)}); see ${logFile}`);
      if (Date.now() - lastProgress > 10_000) {
        progress(
          `(s1) ${arrived.size} of ${expected.size} after ${secs(Date.now() - aStart)}, RSS ${mib(last.rss)}`,
        );
        lastProgress = Date.now();
      }
      await sleep(250, signal);
    }
    const converged = arrived.size >= expected.size;
    const aMs = converged ? lastArrival - aStart : NaN;
    const firstMs = Math.min(...watch.firstSeen.values()) - aStart;
    const cpuA = sampleProc(orch.pid).cpuSeconds - cpuBeforeA;
    await sleep(5000, signal); // the writes' garbage is collected before "after"
    const afterA = sampleProc(orch.pid);
    progress(
      converged
        ? `(s1) ${expected.size} objects in ${secs(aMs)} (first after ${secs(firstMs)}); RSS ${mib(afterA.rss)}, peak ${mib(afterA.hwm)}`
        : `(s1) NOT converged after ${params.convergeTimeoutSeconds} s: ${arrived.size} of ${expected.size}`,
    );
    if (!converged) throw new Error(`initial sync did not converge (${arrived.size} of ${expected.size})`);

    // ---- (s3) live lag while resyncs run -----------------------------------------------------------
    const total = Math.round(params.rate * params.seconds);
    const interval = 1000 / params.rate;
    const maxInFlight = Math.max(64, Math.ceil(params.rate));
    const ackLatencies: number[] = [];
    let sendErrors = 0;
    let firstSendError: string | undefined;
    // Resyncs as the runs report them: lastResyncTime and "listed and converged ... in N ms".
    const resyncs = new Map<string, { at: string; result?: string; ms?: number }>();
    const initialResync = (
      (await getCr(custom, 'LiveSynchronization', mgmtNs, lsName))?.status?.replication as
        { lastResyncTime?: string } | undefined
    )?.lastResyncTime;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const ls = await getCr(custom, 'LiveSynchronization', mgmtNs, lsName).catch(() => undefined);
        const r = ls?.status?.replication as
          { lastResyncTime?: string; lastResyncResult?: string } | undefined;
        if (r?.lastResyncTime && r.lastResyncTime !== initialResync && !resyncs.has(r.lastResyncTime)) {
          const ms = Number(/in (\d+) ms/.exec(r.lastResyncResult ?? '')?.[1] ?? NaN);
          resyncs.set(r.lastResyncTime, { at: r.lastResyncTime, result: r.lastResyncResult, ms });
          progress(`(s3) resync done at ${r.lastResyncTime}: ${r.lastResyncResult}`);
        }
        await sleep(1000).catch(() => undefined);
      }
    })();
    progress(`(s3) resyncPeriod -> ${params.resyncPeriod}; ${total} updates at ${params.rate}/s`);
    const cpuBeforeB = sampleProc(orch.pid).cpuSeconds;
    await custom.patchNamespacedCustomObject(
      {
        ...crTarget('LiveSynchronization', mgmtNs, lsName),
        body: { spec: { config: { replication: { ...replication, resyncPeriod: params.resyncPeriod } } } },
      },
      MERGE,
    );
    const inflight = new Set<Promise<void>>();
    const bStart = Date.now();
    let sent = 0;
    let lastB = Date.now();
    while (sent < total) {
      signal.throwIfAborted();
      const due = Math.min(total, Math.floor((Date.now() - bStart) / interval) + 1);
      while (sent < due && inflight.size < maxInFlight) {
        const seq = sent++;
        const o = set.objects[(seq * 7919) % set.objects.length];
        const key = `${o.namespace}/${o.name}`;
        const sendMs = Date.now();
        tracker.sent(seq, key, sendMs);
        const p = srcCore
          .patchNamespacedConfigMap(
            { namespace: o.namespace, name: o.name, body: { data: { stamp: stampOf(seq, sendMs) } } },
            MERGE,
          )
          .then(
            () => {
              const at = Date.now();
              ackLatencies.push(at - sendMs);
              tracker.acked(seq, at);
            },
            (err: unknown) => {
              sendErrors++;
              firstSendError ??= errText(err);
              tracker.failed(seq, key);
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (Date.now() - lastB > 10_000) {
        progress(`(s3) ${sent} sent, ${tracker.lags.length} seen, RSS ${mib(last.rss)}`);
        lastB = Date.now();
      }
      if (inflight.size >= maxInFlight) await Promise.race(inflight);
      else await sleep(Math.max(1, bStart + sent * interval - Date.now()), signal);
    }
    await Promise.all(inflight);
    const bSendEnd = Date.now();
    const bDeadline = bSendEnd + params.lagGraceSeconds * 1000;
    while (tracker.unseen > 0 && Date.now() < bDeadline) await sleep(100, signal);
    polling = false;
    await poller;
    const cpuB = sampleProc(orch.pid).cpuSeconds - cpuBeforeB;
    // Each resync is a new `replicate` activity (a full relist of both sides); the history says
    // when each started. Its "converged" time (status) comes only once the queue is idle, which a
    // steady live load can put off until the updates stop.
    const workflowId = (await getCr(custom, 'LiveSynchronization', mgmtNs, lsName))?.status?.workflowId as
      string | undefined;
    const replicateStarts: string[] = [];
    if (workflowId) {
      const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
      for (const e of history.events ?? []) {
        const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
        const seconds = Number(e.eventTime?.seconds ?? 0);
        const at = seconds * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
        if (name === 'replicate' && at >= bStart - 1000) replicateStarts.push(new Date(at).toISOString());
      }
    }
    const lagStats = summarize([...tracker.lags, ...Array<number>(tracker.unseen).fill(Infinity)]);
    await sleep(5000, signal);
    const after = sampleProc(orch.pid);
    clearInterval(sampler);
    progress(
      `(s3) p50 ${millis(lagStats.p50)}, p99 ${millis(lagStats.p99)}, max ${millis(lagStats.max)}, unseen ${tracker.unseen}; ` +
        `${replicateStarts.length} resync run(s) started, ${resyncs.size} converged`,
    );

    // ---- table and JSON ----------------------------------------------------------------------------
    const perTenK = 10_000;
    const points = [{ x: 0, y: before.rss }, ...steps.map((s) => ({ x: s.synced, y: s.rss }))];
    const slopeBytesPer10k = slope(points) * perTenK;
    const boundBytes = params.rssBoundMiBPer10k * MiB;
    const growthPer10k = ((afterA.rss - before.rss) / params.objects) * perTenK;
    const resyncList = [...resyncs.values()];
    const resyncMs = resyncList.map((r) => r.ms).filter((m): m is number => Number.isFinite(m));
    const liveWindowMs = bSendEnd - bStart;
    const peak = Math.max(after.hwm, ...timeline.map((t) => t.rss));
    const scale = `${params.objects} x ${params.payloadBytes} B over ${params.namespaces} ns`;
    rows.push(
      {
        what: `(s1) initial sync, ${scale}`,
        value: secs(aMs),
        baseline: '-',
        target: `${Math.round(params.objects / (aMs / 1000))} objects/s, first after ${secs(firstMs)}`,
        verdict: 'reported',
      },
      {
        what: '(s1) orchestrator CPU during the initial sync',
        value: `${cpuA.toFixed(1)} s`,
        baseline: '-',
        target: '',
        verdict: 'info',
      },
      {
        what: '(s2) orchestrator RSS before -> after the initial sync',
        value: `${mib(before.rss)} -> ${mib(afterA.rss)}`,
        baseline: '-',
        target: `${mib(growthPer10k)} per 10,000 objects`,
        verdict: 'reported',
      },
      {
        what: `(s2) RSS at ${steps.map((s) => `${s.synced / 1000}k`).join('/')} synced`,
        value: steps.map((s) => (s.rss / MiB).toFixed(0)).join(' / ') + ' MiB',
        baseline: `before ${mib(before.rss)}`,
        target: '',
        verdict: 'info',
      },
      {
        what: '(s2) RSS growth per 10,000 objects (slope of the samples)',
        value: mib(slopeBytesPer10k),
        baseline: '-',
        target: `<= ${mib(boundBytes)}`,
        verdict: slopeBytesPer10k <= boundBytes ? 'PASS' : 'MISS',
      },
      {
        what: '(s2) RSS peak (VmHWM) / after the live phase',
        value: `${mib(peak)} / ${mib(after.rss)}`,
        baseline: '-',
        target: '',
        verdict: 'reported',
      },
      {
        what: `(s3) live lag p50 / p99 (${total} updates, ${(total / (liveWindowMs / 1000)).toFixed(0)}/s)`,
        value: `${millis(lagStats.p50)} / ${millis(lagStats.p99)}`,
        baseline: `source write p99 ${millis(summarize(ackLatencies).p99)}`,
        target: `p99 < ${TARGET_P99_MS} ms`,
        verdict: lagStats.p99 < TARGET_P99_MS ? 'PASS' : 'MISS',
      },
      {
        what: `(s3) live lag max (unseen after ${params.lagGraceSeconds} s: ${tracker.unseen})`,
        value: millis(lagStats.max),
        baseline: '-',
        target: '',
        verdict: 'info',
      },
      {
        what: `(s3) resyncs during the live phase (resyncPeriod ${params.resyncPeriod})`,
        value: `${replicateStarts.length} started`,
        baseline: '-',
        target: resyncMs.length
          ? `converged in ${resyncMs.map((m) => secs(m)).join(', ')}`
          : 'none converged while the updates ran',
        verdict: replicateStarts.length > 0 ? 'info' : 'MISS',
      },
      {
        what: '(s3) orchestrator CPU during the live phase',
        value: `${cpuB.toFixed(1)} s`,
        baseline: '-',
        target: '',
        verdict: 'info',
      },
    );
    Object.assign(result, {
      finishedAt: new Date().toISOString(),
      setup: { sourceCreateMs: setupMs },
      initialSync: { ms: aMs, firstObjectMs: firstMs, orchestratorCpuSeconds: cpuA, objects: params.objects },
      memory: {
        orchestratorPid: orch.pid,
        before,
        afterInitialSync: afterA,
        after,
        peakBytes: peak,
        steps,
        slopeBytesPer10k,
        growthPer10kBeforeToAfter: growthPer10k,
        boundBytesPer10k: boundBytes,
        verdict: slopeBytesPer10k <= boundBytes ? 'PASS' : 'MISS',
        timeline,
      },
      liveLag: {
        updates: total,
        sendErrors,
        firstSendError,
        windowMs: liveWindowMs,
        lagMs: lagStats,
        sourceWriteAckMs: summarize(ackLatencies),
        lagAfterSourceAckMs: summarize(tracker.lagsAfterAck()),
        seenThroughLaterStamp: tracker.coalesced,
        unseenAfterGrace: tracker.unseen,
        resyncPeriod: params.resyncPeriod,
        resyncs: resyncList,
        replicateRunsStarted: replicateStarts,
        orchestratorCpuSeconds: cpuB,
        destinationWatchRestarts: watch.restarts,
        target: `p99 < ${TARGET_P99_MS} ms`,
      },
      orchestrator: { logFile, logLinesWarnOrAbove: orch.warnings() },
      table: rows,
    });
  } catch (err) {
    exitCode = 1;
    result.error = errText(err);
    progress(`error: ${errText(err)}`);
    if (!(err as Error)?.message?.startsWith('interrupted')) console.error(err);
  } finally {
    clearInterval(sampler);
    watch?.stop();
    progress('cleaning up');
    const cleanupStart = Date.now();
    const cleanup = async () => {
      const problems: string[] = [];
      // The LiveSynchronization first, while the orchestrator runs: its finalizer cancels the workflow.
      for (const [kind, names] of [
        ['LiveSynchronization', [lsName]],
        ['KubernetesCluster', ['source', 'destination']],
      ] as const) {
        if (!created.crs.includes(kind)) continue;
        for (const name of names) {
          const cr = await getCr(custom, kind, mgmtNs, name).catch(() => undefined);
          if (!cr) continue;
          await custom.deleteNamespacedCustomObject(crTarget(kind, mgmtNs, name)).catch(() => undefined);
          const gone = await waitFor(
            `${kind} ${name} to be deleted`,
            async () => (await getCr(custom, kind, mgmtNs, name)) === undefined,
            orchestrator && !orchestrator.exited ? 120_000 : 1000,
          ).catch(() => false);
          if (gone) continue;
          problems.push(`${kind} ${name}: not deleted in time; finalizer removed and workflow terminated`);
          await custom
            .patchNamespacedCustomObject(
              { ...crTarget(kind, mgmtNs, name), body: { metadata: { finalizers: null } } },
              MERGE,
            )
            .catch(() => undefined);
          const id = cr.status?.workflowId as string | undefined;
          if (id)
            await temporal.workflow
              .getHandle(id)
              .terminate('benchmark clean-up')
              .catch(() => undefined);
        }
      }
      await orchestrator?.stop();
      problems.push(...(await deleteNamespaces(srcCore, created.source)));
      problems.push(...(await deleteNamespaces(dstCore, created.destination)));
      await retry(() => mgmtCore.deleteCollectionNamespacedSecret({ namespace: mgmtNs }), {
        ok: [404],
        attempts: 2,
      }).catch(() => undefined);
      await retry(() => mgmtCore.deleteNamespace({ name: mgmtNs }), { ok: [404, 409], attempts: 2 }).catch(
        () => undefined,
      );
      return problems;
    };
    const problems = await Promise.race([
      cleanup(),
      sleep(600_000).then(() => ['clean-up did not finish within 600 s']),
    ]).catch((err: unknown) => [`clean-up failed: ${errText(err)}`]);
    result.cleanupMs = Date.now() - cleanupStart;
    result.totalMs = Date.now() - started;
    if (problems.length) {
      result.cleanupProblems = problems;
      for (const p of problems) progress(`clean-up: ${p}`);
    }
    await connection.close().catch(() => undefined);
    clearTimeout(watchdog);
  }
  writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
  if (rows.length) {
    console.log(
      `\nLiveSynchronization scale benchmark, run ${runId}: ${params.objects} ConfigMaps of ${params.payloadBytes} B ` +
        `over ${params.namespaces} namespaces; ${params.rate} updates/s for ${params.seconds} s with resyncPeriod ` +
        `${params.resyncPeriod}; concurrency ${params.concurrency}; ${facts.nproc} CPUs, node ${facts.node}; ` +
        `whole run ${secs(result.totalMs as number)}\n`,
    );
    console.log(renderTable(rows));
  }
  console.log(`\nresults: ${resultFile}`);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
