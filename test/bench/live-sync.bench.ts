/**
 * `npm run bench`: the LiveSynchronization benchmark on the local stack. A script, not a timed
 * test: it measures, compares each figure in the same run with its baseline, prints a table and
 * writes `bench-results/live-sync-<timestamp>.json`. It exits non-zero only on errors, never on a
 * missed target. See docs/benchmarks.md.
 *
 *   (a) initial sync of N ConfigMaps (~1 KiB) over M namespaces, until the destination has them
 *       all; baselines: a raw client creating the same objects (the orchestrator's marked copies)
 *       at the same concurrency, and `kubectl get -o json | kubectl apply -f -`; target within
 *       1.2x of the raw client. Informational: raw bare copies, raw server-side apply.
 *   (b) live lag: R updates/s for S s at the source; p50/p99/max until each is visible in the
 *       destination (a watch there); target p99 < 500 ms.
 *   (c) RSS of the orchestrator process before and after (a) and (b).
 *
 * The orchestrator runs as the image runs it, `node dist/src/main.js`, built first (npm run build).
 *   (d) Temporal history events per replicated object.
 *   (e) the live lag of (b) again while `/metrics` is scraped every --scrape-every-ms (far more
 *       often than Prometheus would): a scrape must not slow the live path.
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
import { createReadyClusters, crTarget, ensureStack, getCr, readyOf } from './stack.js';
import { kubectlCopy, rawCopy, type BaselineResult } from './baselines.js';
import {
  configMapBody,
  countConfigMaps,
  createNamespaces,
  deleteNamespaces,
  DestinationWatch,
  kubeConfig,
  objectSet,
} from './kube.js';
import { LagTracker, seqOfStamp, stampOf } from './lag.js';
import {
  buildDist,
  sampleProc,
  startOrchestratorProcess,
  type OrchestratorProcess,
  type ProcSample,
} from './proc.js';
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
const TARGET_RATIO = 1.2;
const TARGET_P99_MS = 500;

const USAGE = `usage: npm run bench -- [options]        (each option also reads BENCH_<NAME>, e.g. BENCH_OBJECTS)
  --objects N            ConfigMaps in the initial sync (default 5000)
  --namespaces N         source namespaces they are spread over (default 50)
  --payload-bytes N      size of each ConfigMap's payload (default 1024)
  --rate N               live updates per second at the source (default 100)
  --seconds N            how long the live updates run (default 60)
  --concurrency N        writes in flight: the replicator's concurrentTasks and the raw baseline's (default 16)
  --setup-concurrency N  writes in flight while creating the source objects, untimed (default 32)
  --converge-timeout N   seconds to wait for the initial sync before calling it a miss (default 600)
  --lag-grace N          seconds to wait for updates after the last one is sent (default 30)
  --skip LIST            baselines to leave out: kubectl, ssa, bare (comma-separated)
  --max-minutes N        stop everything (and clean up) after this long (default 45)
  --scrape-every-ms N    (e): scrape the orchestrator's /metrics this often during the second live run (default 100)
  --cpu-prof             write a V8 CPU profile of the orchestrator process to bench-results/
  --node-flags FLAGS     extra node flags for the orchestrator, to try a setting (default none, as in the image)
  --log-level LEVEL      the orchestrator's --log-level (default warn); info puts the start-up timeline of (a) in its log
  --skip-build           use the dist/ that is there instead of running npm run build first`;

interface Params {
  objects: number;
  namespaces: number;
  payloadBytes: number;
  rate: number;
  seconds: number;
  concurrency: number;
  setupConcurrency: number;
  convergeTimeoutSeconds: number;
  lagGraceSeconds: number;
  skip: string[];
  maxMinutes: number;
  scrapeEveryMs: number;
  cpuProf: boolean;
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
      concurrency: { type: 'string' },
      'setup-concurrency': { type: 'string' },
      'converge-timeout': { type: 'string' },
      'lag-grace': { type: 'string' },
      skip: { type: 'string' },
      'max-minutes': { type: 'string' },
      'scrape-every-ms': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
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
  const num = (flag: keyof typeof values, dflt: number, min = 1): number =>
    numberFlag(values, flag, dflt, min);
  const p: Params = {
    objects: Math.floor(num('objects', 5000)),
    namespaces: Math.floor(num('namespaces', 50)),
    payloadBytes: Math.floor(num('payload-bytes', 1024, 0)),
    rate: num('rate', 100),
    seconds: num('seconds', 60),
    concurrency: Math.floor(num('concurrency', 16)),
    setupConcurrency: Math.floor(num('setup-concurrency', 32)),
    convergeTimeoutSeconds: num('converge-timeout', 600),
    lagGraceSeconds: num('lag-grace', 30, 0),
    skip: (values.skip ?? process.env.BENCH_SKIP ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    maxMinutes: num('max-minutes', 45),
    scrapeEveryMs: num('scrape-every-ms', 100),
    cpuProf: values['cpu-prof'] ?? process.env.BENCH_CPU_PROF === '1',
    nodeFlags: (values['node-flags'] ?? process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
    skipBuild: values['skip-build'] ?? process.env.BENCH_SKIP_BUILD === '1',
    logLevel: values['log-level'] ?? process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  if (p.namespaces > p.objects) throw new Error('--namespaces must not exceed --objects');
  for (const s of p.skip)
    if (!['kubectl', 'ssa', 'bare'].includes(s))
      throw new Error(`--skip: '${s}' is not one of kubectl, ssa, bare`);
  return p;
}

const progress = progressPrinter('bench');

function machine() {
  const cpus = os.cpus();
  let commit: string | undefined;
  let dirty: boolean | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
  } catch {
    /* not a git checkout */
  }
  return {
    hostname: os.hostname(),
    nproc: cpus.length,
    cpuModel: cpus[0]?.model,
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg(),
    git: { commit, dirty },
  };
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
  const resultFile = join(resultsDir, `live-sync-${stamp}.json`);
  const logFile = join(resultsDir, `live-sync-${stamp}.orchestrator.log`);
  const facts = machine();
  progress(
    `run ${runId}: ${params.objects} objects over ${params.namespaces} namespaces, ` +
      `${params.rate}/s for ${params.seconds} s, concurrency ${params.concurrency}; ` +
      `${facts.nproc} cpus, load ${facts.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const env = await ensureStack(progress, signal);
  if (!params.skipBuild) {
    progress('npm run build (the orchestrator runs as the image runs it: node dist/src/main.js)');
    progress(`built in ${secs(buildDist())}`);
  }
  const kubectl = join(ROOT, '.tools/bin/kubectl');
  const mgmt = kubeConfig(env.MANAGEMENT_KUBECONFIG);
  const srcKc = kubeConfig(env.SOURCE_KUBECONFIG);
  const dstKc = kubeConfig(env.DESTINATION_KUBECONFIG);
  const mgmtCore = mgmt.makeApiClient(CoreV1Api);
  const custom = mgmt.makeApiClient(CustomObjectsApi);
  const srcCore = srcKc.makeApiClient(CoreV1Api);
  const dstCore = dstKc.makeApiClient(CoreV1Api);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });

  const mgmtNs = `bench-${runId}`;
  const runLabel = `bench-${runId}`;
  const set = objectSet(`bench-${runId}-s`, params.namespaces, params.objects);
  const rename = (suffix: string) => (ns: string) =>
    ns.replace(`bench-${runId}-s-`, `bench-${runId}-${suffix}-`);
  const lsName = 'bench';
  const owner = { namespace: mgmtNs, name: lsName };
  const ownerSelector = `${OWNER_LABEL}=${ownerLabelValue(owner)}`;
  const taskQueue = `bench-${runId}`;

  const created = {
    source: [] as string[],
    destination: new Set<string>(),
    crs: [] as { kind: Kind; name: string }[],
  };
  let orchestrator: OrchestratorProcess | undefined;
  let watch: DestinationWatch | undefined;
  const result: Record<string, unknown> = {
    benchmark: 'live-sync',
    runId,
    startedAt: new Date().toISOString(),
    params,
    machine: facts,
    stack: {
      temporal: env.TEMPORAL_ADDRESS,
      source: srcKc.getCurrentCluster()?.server,
      destination: dstKc.getCurrentCluster()?.server,
    },
    notes: [
      'All figures of one run are measured on the same machine, one after the other; the machine is shared (API servers, etcd, Temporal, the orchestrator and this script), so compare ratios rather than absolute times.',
    ],
  };
  const rows: Row[] = [];
  let exitCode = 0;

  try {
    // ---- setup (untimed): management namespace, Secrets, the source objects -------------------
    await retry(() => mgmtCore.createNamespace({ body: { metadata: { name: mgmtNs } } }), { ok: [409] });
    for (const [name, file] of [
      ['source', env.SOURCE_KUBECONFIG],
      ['destination', env.DESTINATION_KUBECONFIG],
    ]) {
      await retry(
        () =>
          mgmtCore.createNamespacedSecret({
            namespace: mgmtNs,
            body: { metadata: { name }, stringData: { 'kubeconfig.yaml': readFileSync(file, 'utf8') } },
          }),
        { ok: [409] },
      );
    }
    progress(`setup: creating ${params.objects} ConfigMaps in ${params.namespaces} source namespaces`);
    const setupStart = Date.now();
    created.source.push(...set.namespaces);
    await createNamespaces(srcCore, set.namespaces, params.setupConcurrency, { [runLabel]: 'yes' }, signal);
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
      },
      signal,
    );
    const setupMs = Date.now() - setupStart;
    progress(`setup: source ready in ${secs(setupMs)}`);

    // ---- the orchestrator, in its own process ---------------------------------------------------
    const procStart = Date.now();
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    orchestrator = startOrchestratorProcess({
      cwd: ROOT,
      logFile,
      entry: 'built',
      nodeArgs: [
        ...params.nodeFlags,
        ...(params.cpuProf
          ? ['--cpu-prof', '--cpu-prof-dir', resultsDir, '--cpu-prof-name', `live-sync-${stamp}.cpuprofile`]
          : []),
      ],
      args: [
        '--temporal-address',
        env.TEMPORAL_ADDRESS,
        '--temporal-namespace',
        env.TEMPORAL_NAMESPACE,
        '--kubeconfig',
        env.MANAGEMENT_KUBECONFIG,
        '--task-queue',
        taskQueue,
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
      onCreated: (name) => created.crs.push({ kind: 'KubernetesCluster', name }),
    });
    const orchestratorReadyMs = Date.now() - procStart;
    await sleep(2000, signal); // let start-up garbage settle before the first sample
    const rss: Record<string, ProcSample> = { beforeA: sampleProc(orch.pid) };
    progress(`orchestrator: ready in ${secs(orchestratorReadyMs)}, RSS ${mib(rss.beforeA.rss)}`);

    // ---- (a) initial sync by the orchestrator ---------------------------------------------------
    const expected = new Set(set.objects.map((o) => `${o.namespace}/${o.name}`));
    const arrivedKeys = new Set<string>();
    let lastArrival = 0;
    const tracker = new LagTracker();
    watch = new DestinationWatch(dstKc, ownerSelector);
    watch.onEvent = (type, key, obj, at) => {
      if (type === 'DELETED') return;
      if (expected.has(key) && !arrivedKeys.has(key)) {
        arrivedKeys.add(key);
        lastArrival = at;
      }
      const seq = seqOfStamp(obj.data?.stamp);
      if (seq !== undefined) tracker.seen(key, seq, at);
    };
    await watch.start();
    for (const ns of set.namespaces) created.destination.add(ns);
    const cpuBeforeA = sampleProc(orch.pid).cpuSeconds;
    progress(`(a) creating LiveSynchronization ${mgmtNs}/${lsName}`);
    const aStart = Date.now();
    created.crs.push({ kind: 'LiveSynchronization', name: lsName });
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
            replication: {
              forceNamespaceCreation: true,
              resyncPeriod: '1h0m0s',
              resources: [
                {
                  version: 'v1',
                  resource: 'configmaps',
                  filters: { namespaceSelector: { matchLabels: { [runLabel]: 'yes' } } },
                },
              ],
            },
            components: { synchronizer: { concurrentTasks: params.concurrency } },
          },
        },
      },
    });
    // Milestones from the LiveSynchronization's status, polled while the destination fills.
    // createdAt: to line the orchestrator's log (--log-level info) up with the milestones.
    const milestones: Record<string, number | string | undefined> = {
      createdAt: new Date(aStart).toISOString(),
    };
    let lastProgress = Date.now();
    const aDeadline = aStart + params.convergeTimeoutSeconds * 1000;
    while (arrivedKeys.size < expected.size && Date.now() < aDeadline) {
      signal.throwIfAborted();
      if (orch.exited)
        throw new Error(`the orchestrator exited (${JSON.stringify(orch.exited)}); see ${logFile}`);
      const ls = await getCr(custom, 'LiveSynchronization', mgmtNs, lsName).catch(() => undefined);
      const now = Date.now();
      if (ls?.status?.workflowId && milestones.workflowStartedMs === undefined)
        milestones.workflowStartedMs = now - aStart;
      if (readyOf(ls)?.status === 'True' && milestones.readyMs === undefined)
        milestones.readyMs = now - aStart;
      if (now - lastProgress > 10_000) {
        progress(
          `(a) ${arrivedKeys.size} of ${expected.size} in the destination after ${secs(now - aStart)}`,
        );
        lastProgress = now;
      }
      await sleep(250, signal);
    }
    const converged = arrivedKeys.size >= expected.size;
    const arrived = arrivedKeys.size;
    const aMs = converged ? lastArrival - aStart : NaN;
    const firstArrival = Math.min(...watch.firstSeen.values());
    const cpuAfterA = sampleProc(orch.pid).cpuSeconds;
    const listed = await countConfigMaps(dstCore, ownerSelector).catch(() => NaN);
    rss.afterA = sampleProc(orch.pid);
    const lsAfterA = await getCr(custom, 'LiveSynchronization', mgmtNs, lsName);
    milestones.firstObjectMs = Number.isFinite(firstArrival) ? firstArrival - aStart : undefined;
    milestones.lastResyncResult = (lsAfterA?.status?.replication as { lastResyncResult?: string } | undefined)
      ?.lastResyncResult;
    progress(
      converged
        ? `(a) orchestrator: ${expected.size} objects in ${secs(aMs)} (first after ${secs(firstArrival - aStart)}); RSS ${mib(rss.afterA.rss)}`
        : `(a) orchestrator: NOT converged after ${params.convergeTimeoutSeconds} s: ${arrived} of ${expected.size}`,
    );

    // ---- (a) baselines -------------------------------------------------------------------------
    const baselines: BaselineResult[] = [];
    const runBaseline = async (
      suffix: string,
      fn: (rn: (ns: string) => string) => Promise<BaselineResult>,
    ) => {
      const rn = rename(suffix);
      for (const ns of set.namespaces) created.destination.add(rn(ns));
      progress(`(a) baseline ${suffix}…`);
      const b = await fn(rn);
      progress(
        `(a) baseline ${b.name}: ${b.objects} objects in ${secs(b.ms)}${b.errors ? `, ${b.errors} errors (${b.firstError})` : ''}`,
      );
      baselines.push(b);
      return b;
    };
    // The target baseline writes the very objects the orchestrator writes (marked as owned by the
    // LiveSynchronization), so both runs put the same bytes in the destination and the same
    // events through the destination watch.
    const rawBaseline = (suffix: string, mode: 'create' | 'apply', marked: boolean) =>
      runBaseline(suffix, (rn) =>
        rawCopy({
          mode,
          source: srcKc,
          destination: dstKc,
          sourceNamespaces: set.namespaces,
          rename: rn,
          concurrency: params.concurrency,
          signal,
          markedFor: marked ? owner : undefined,
        }),
      );
    const raw = await rawBaseline('raw', 'create', true);
    const bare = params.skip.includes('bare') ? undefined : await rawBaseline('bare', 'create', false);
    const ssa = params.skip.includes('ssa') ? undefined : await rawBaseline('ssa', 'apply', true);
    const kctl = params.skip.includes('kubectl')
      ? undefined
      : await runBaseline('kctl', (rn) =>
          kubectlCopy({
            kubectl,
            sourceKubeconfig: env.SOURCE_KUBECONFIG,
            destinationKubeconfig: env.DESTINATION_KUBECONFIG,
            sourceNamespaces: set.namespaces,
            rename: rn,
            signal,
          }),
        );

    // ---- (b) live lag --------------------------------------------------------------------------
    const total = Math.round(params.rate * params.seconds);
    const interval = 1000 / params.rate;
    const maxInFlight = Math.max(64, Math.ceil(params.rate));
    /** R updates/s for S s (sequence numbers from `firstSeq`), until seen or the grace ends. */
    const liveUpdates = async (phase: string, firstSeq: number) => {
      const ackLatencies: number[] = [];
      const slips: number[] = [];
      let sendErrors = 0;
      let firstSendError: string | undefined;
      const seenBefore = tracker.lags.length;
      const unseenBefore = tracker.unseen;
      const cpuBefore = sampleProc(orch.pid).cpuSeconds;
      progress(`${phase} ${total} updates at ${params.rate}/s over ${params.objects} objects`);
      const inflight = new Set<Promise<void>>();
      const bStart = Date.now();
      let sentCount = 0;
      const send = (n: number) => {
        const seq = firstSeq + n;
        const o = set.objects[seq % set.objects.length];
        const key = `${o.namespace}/${o.name}`;
        const sendMs = Date.now();
        slips.push(sendMs - (bStart + n * interval));
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
      };
      let lastBProgress = Date.now();
      while (sentCount < total) {
        signal.throwIfAborted();
        const due = Math.min(total, Math.floor((Date.now() - bStart) / interval) + 1);
        while (sentCount < due && inflight.size < maxInFlight) send(sentCount++);
        if (Date.now() - lastBProgress > 10_000) {
          progress(
            `${phase} ${sentCount} sent, ${tracker.lags.length - seenBefore} seen, ${inflight.size} in flight`,
          );
          lastBProgress = Date.now();
        }
        if (inflight.size >= maxInFlight) await Promise.race(inflight);
        else await sleep(Math.max(1, bStart + sentCount * interval - Date.now()), signal);
      }
      await Promise.all(inflight);
      const bSendEnd = Date.now();
      const bDeadline = bSendEnd + params.lagGraceSeconds * 1000;
      while (tracker.unseen > unseenBefore && Date.now() < bDeadline) await sleep(100, signal);
      const unseen = Math.max(0, tracker.unseen - unseenBefore);
      const lags = tracker.lags.slice(seenBefore);
      const lagStats = summarize([...lags, ...Array<number>(unseen).fill(Infinity)]);
      progress(
        `${phase} p50 ${millis(lagStats.p50)}, p99 ${millis(lagStats.p99)}, max ${millis(lagStats.max)}, unseen ${unseen}`,
      );
      return {
        ackLatencies,
        slips,
        sendErrors,
        firstSendError,
        unseen,
        seen: lags.length,
        lagStats,
        achievedRate: total / ((bSendEnd - bStart) / 1000),
        cpuSeconds: sampleProc(orch.pid).cpuSeconds - cpuBefore,
      };
    };
    const cpuBeforeB = sampleProc(orch.pid).cpuSeconds;
    const b = await liveUpdates('(b)', 0);
    const { ackLatencies, slips, sendErrors, firstSendError, unseen, lagStats, achievedRate } = b;
    const cpuAfterB = cpuBeforeB + b.cpuSeconds;
    rss.afterB = sampleProc(orch.pid);

    // ---- (e) live lag while /metrics is scraped ------------------------------------------------
    const scrapes: number[] = [];
    let scrapeBytes = 0;
    let scrapeErrors = 0;
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        const t0 = performance.now();
        try {
          const body = await (await fetch(metricsUrl)).text();
          scrapeBytes = body.length;
          scrapes.push(performance.now() - t0);
        } catch {
          scrapeErrors++;
        }
        await sleep(params.scrapeEveryMs, signal).catch(() => undefined);
      }
    })();
    let e: Awaited<ReturnType<typeof liveUpdates>>;
    try {
      e = await liveUpdates('(e) scraped:', total);
    } finally {
      scraping = false;
      await scraper;
    }
    const scrapeStats = summarize(scrapes);

    // ---- (d) Temporal history ------------------------------------------------------------------
    const lsAfterB = await getCr(custom, 'LiveSynchronization', mgmtNs, lsName);
    const workflowId = lsAfterB?.status?.workflowId as string | undefined;
    const history: Record<string, unknown> = { workflowId };
    let historyEvents = NaN;
    if (workflowId) {
      const runs: { runId: string; historyLength: number; status: string }[] = [];
      for await (const wf of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
        runs.push({ runId: wf.runId, historyLength: wf.historyLength, status: wf.status.name });
      const describe = await temporal.workflow.getHandle(workflowId).describe();
      const fetched = await temporal.workflow.getHandle(workflowId).fetchHistory();
      const byType: Record<string, number> = {};
      for (const e of fetched.events ?? []) {
        const attr = Object.keys(e).find(
          (k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k],
        );
        const type = attr ? attr.replace(/EventAttributes$/, '') : 'unknown';
        byType[type] = (byType[type] ?? 0) + 1;
      }
      // The current run's length from describe; earlier runs (continue-as-new) from visibility.
      const current = describe.historyLength;
      const earlier = runs.filter((r) => r.runId !== describe.runId).reduce((a, r) => a + r.historyLength, 0);
      historyEvents = current + earlier;
      Object.assign(history, {
        runs: runs.length || 1,
        currentRunEvents: current,
        earlierRunsEvents: earlier,
        byType,
      });
    }
    const replicatedWrites = params.objects + (total - sendErrors) + (total - e.sendErrors);

    // ---- table and JSON ------------------------------------------------------------------------
    const ratio = aMs / raw.ms;
    const reply = (lsAfterB?.status?.replication ?? {}) as { lag?: unknown; resources?: unknown };
    rows.push({
      what: `(a) initial sync, ${params.objects} x ${params.payloadBytes} B over ${params.namespaces} ns`,
      value: converged ? secs(aMs) : `not converged (${arrived}/${expected.size})`,
      baseline: `raw client ${secs(raw.ms)} (c=${params.concurrency})`,
      target: `${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}x (<= ${TARGET_RATIO}x)`,
      verdict: converged && ratio <= TARGET_RATIO ? 'PASS' : 'MISS',
    });
    if (kctl)
      rows.push({
        what: '(a) initial sync vs by hand',
        value: converged ? secs(aMs) : 'not converged',
        baseline: `kubectl get|apply ${secs(kctl.ms)}`,
        target: `${(aMs / kctl.ms).toFixed(2)}x`,
        verdict: 'info',
      });
    if (bare)
      rows.push({
        what: '(a) initial sync vs bare copies (no owner marking)',
        value: converged ? secs(aMs) : 'not converged',
        baseline: `raw client, bare ${secs(bare.ms)}`,
        target: `${(aMs / bare.ms).toFixed(2)}x`,
        verdict: 'info',
      });
    if (ssa)
      rows.push({
        what: '(a) raw client with server-side apply',
        value: secs(ssa.ms),
        baseline: `raw client ${secs(raw.ms)}`,
        target: `${(ssa.ms / raw.ms).toFixed(2)}x`,
        verdict: 'info',
      });
    rows.push({
      what: '(a) time to first object / writes per second',
      value: `${secs(milestones.firstObjectMs as number)} / ${Number.isFinite(aMs) ? Math.round(expected.size / ((lastArrival - firstArrival) / 1000)) : 'n/a'}/s`,
      baseline: `raw ${Math.round(raw.objects / (raw.phases.writeObjects / 1000))}/s`,
      target: '',
      verdict: 'info',
    });
    rows.push({
      what: `(b) live lag p50 (${total} updates, ${achievedRate.toFixed(0)}/s achieved)`,
      value: millis(lagStats.p50),
      baseline: '-',
      target: '',
      verdict: 'info',
    });
    rows.push({
      what: '(b) live lag p99',
      value: millis(lagStats.p99),
      baseline: '-',
      target: `< ${TARGET_P99_MS} ms`,
      verdict: lagStats.p99 < TARGET_P99_MS ? 'PASS' : 'MISS',
    });
    rows.push({
      what: `(b) live lag max (never seen within ${params.lagGraceSeconds} s: ${unseen})`,
      value: millis(lagStats.max),
      baseline: '-',
      target: '',
      verdict: 'info',
    });
    const ack = summarize(ackLatencies);
    const afterAck = summarize(tracker.lagsAfterAck());
    rows.push({
      what: '(b) lag counted from the source ack, p50 / p99',
      value: `${millis(afterAck.p50)} / ${millis(afterAck.p99)}`,
      baseline: `source write ${millis(ack.p50)} / ${millis(ack.p99)}`,
      target: '',
      verdict: 'info',
    });
    const growthA = rss.afterA.rss - rss.beforeA.rss;
    const growthB = rss.afterB.rss - rss.afterA.rss;
    rows.push({
      what: '(c) orchestrator RSS before (a) -> after (a)',
      value: `${mib(rss.beforeA.rss)} -> ${mib(rss.afterA.rss)}`,
      baseline: '-',
      target: `+${mib(growthA)} (${Math.round(growthA / params.objects)} B/object)`,
      verdict: 'reported',
    });
    rows.push({
      what: '(c) orchestrator RSS after (b), peak',
      value: `${mib(rss.afterB.rss)}, peak ${mib(rss.afterB.hwm)}`,
      baseline: '-',
      target: `${growthB >= 0 ? '+' : ''}${mib(growthB)} during (b)`,
      verdict: 'reported',
    });
    rows.push({
      what: `(e) live lag p50 / p99 while /metrics is scraped every ${params.scrapeEveryMs} ms`,
      value: `${millis(e.lagStats.p50)} / ${millis(e.lagStats.p99)}`,
      baseline: `(b) unscraped ${millis(lagStats.p50)} / ${millis(lagStats.p99)}`,
      target: `p99 < ${TARGET_P99_MS} ms; ${(e.lagStats.p99 / lagStats.p99).toFixed(2)}x (b)`,
      verdict: e.lagStats.p99 < TARGET_P99_MS ? 'PASS' : 'MISS',
    });
    rows.push({
      what: `(e) scrapes: ${scrapeStats.count}, ${scrapeErrors} errors, ${Math.round(scrapeBytes / 1024)} KiB each`,
      value: `p50 ${millis(scrapeStats.p50)}, p99 ${millis(scrapeStats.p99)}`,
      baseline: '',
      target: `unseen ${e.unseen}`,
      verdict: 'info',
    });
    rows.push({
      what: '(c) orchestrator CPU during (a) / (b)',
      value: `${(cpuAfterA - cpuBeforeA).toFixed(1)} s / ${(cpuAfterB - cpuBeforeB).toFixed(1)} s`,
      baseline: `raw client (a) ${raw.clientCpuSeconds?.toFixed(1)} s`,
      target: '',
      verdict: 'info',
    });
    rows.push({
      what: `(d) Temporal history events (${(history.runs as number | undefined) ?? '?'} run(s))`,
      value: String(historyEvents),
      baseline: '-',
      target: `${(historyEvents / replicatedWrites).toFixed(4)} per object write, ${Math.round(replicatedWrites / historyEvents)} writes per event`,
      verdict: 'reported',
    });

    Object.assign(result, {
      finishedAt: new Date().toISOString(),
      setup: { sourceCreateMs: setupMs, orchestratorReadyMs },
      initialSync: {
        orchestrator: {
          converged,
          ms: aMs,
          objectsSeen: arrived,
          destinationCountAfter: listed,
          milestones,
          orchestratorCpuSeconds: cpuAfterA - cpuBeforeA,
        },
        baselines,
        ratioToRaw: ratio,
        ratioToKubectl: kctl ? aMs / kctl.ms : undefined,
        target: `<= ${TARGET_RATIO}x raw`,
        verdict: converged && ratio <= TARGET_RATIO ? 'PASS' : 'MISS',
        concurrency: params.concurrency,
      },
      liveLag: {
        updates: total,
        sendErrors,
        firstSendError,
        achievedRatePerSecond: achievedRate,
        sendSlipMs: summarize(slips),
        sourceWriteAckMs: summarize(ackLatencies),
        lagAfterSourceAckMs: summarize(tracker.lagsAfterAck()),
        lagMs: lagStats,
        seen: b.seen,
        seenThroughLaterStamp: tracker.coalesced,
        unseenAfterGrace: unseen,
        graceSeconds: params.lagGraceSeconds,
        target: `p99 < ${TARGET_P99_MS} ms`,
        verdict: lagStats.p99 < TARGET_P99_MS ? 'PASS' : 'MISS',
        orchestratorCpuSeconds: cpuAfterB - cpuBeforeB,
        orchestratorReportedLag: reply.lag,
        destinationWatchRestarts: watch.restarts,
      },
      liveLagScraped: {
        scrapeEveryMs: params.scrapeEveryMs,
        scrapes: scrapeStats,
        scrapeErrors,
        scrapeBytes,
        sendErrors: e.sendErrors,
        achievedRatePerSecond: e.achievedRate,
        lagMs: e.lagStats,
        lagMsUnscraped: lagStats,
        seen: e.seen,
        unseenAfterGrace: e.unseen,
        orchestratorCpuSeconds: e.cpuSeconds,
        target: `p99 < ${TARGET_P99_MS} ms`,
        verdict: e.lagStats.p99 < TARGET_P99_MS ? 'PASS' : 'MISS',
      },
      memory: { orchestratorPid: orch.pid, samples: rss, growthDuringA: growthA, growthDuringB: growthB },
      temporalHistory: {
        ...history,
        events: historyEvents,
        replicatedObjectWrites: replicatedWrites,
        eventsPerObjectWrite: historyEvents / replicatedWrites,
        objectWritesPerEvent: replicatedWrites / historyEvents,
      },
      orchestrator: { logFile, logLinesWarnOrAbove: orch.warnings(), statusReplication: reply },
      loadAverageAtEnd: os.loadavg(),
      table: rows,
    });
  } catch (err) {
    exitCode = 1;
    result.error = errText(err);
    progress(`error: ${errText(err)}`);
    if (!(err as Error)?.message?.startsWith('interrupted')) console.error(err);
  } finally {
    watch?.stop();
    progress('cleaning up');
    const cleanup = async () => {
      const problems: string[] = [];
      // Custom resources first, while the orchestrator runs: their finalizers cancel the workflows.
      for (const cr of [...created.crs].reverse()) {
        const before = await getCr(custom, cr.kind, mgmtNs, cr.name).catch(() => undefined);
        if (!before) continue;
        await custom.deleteNamespacedCustomObject(crTarget(cr.kind, mgmtNs, cr.name)).catch(() => undefined);
        const gone = await waitFor(
          `${cr.kind} ${cr.name} to be deleted`,
          async () => (await getCr(custom, cr.kind, mgmtNs, cr.name)) === undefined,
          orchestrator && !orchestrator.exited ? 90_000 : 1000,
        ).catch(() => false);
        if (!gone) {
          problems.push(
            `${cr.kind} ${cr.name}: not deleted in time; finalizer removed and workflow terminated`,
          );
          await custom
            .patchNamespacedCustomObject(
              { ...crTarget(cr.kind, mgmtNs, cr.name), body: { metadata: { finalizers: null } } },
              MERGE,
            )
            .catch(() => undefined);
          const id = before.status?.workflowId as string | undefined;
          if (id)
            await temporal.workflow
              .getHandle(id)
              .terminate('benchmark clean-up')
              .catch(() => undefined);
        }
      }
      await orchestrator?.stop();
      problems.push(...(await deleteNamespaces(srcCore, created.source)));
      problems.push(...(await deleteNamespaces(dstCore, [...created.destination])));
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
      sleep(240_000).then(() => ['clean-up did not finish within 240 s']),
    ]).catch((err: unknown) => [`clean-up failed: ${errText(err)}`]);
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
      `\nLiveSynchronization benchmark, run ${runId}: ${params.objects} ConfigMaps of ${params.payloadBytes} B over ` +
        `${params.namespaces} namespaces; ${params.rate} updates/s for ${params.seconds} s; write concurrency ` +
        `${params.concurrency} (orchestrator and raw client); ${facts.nproc} CPUs, ` +
        `${mib(facts.totalMemoryBytes)}, node ${facts.node}\n`,
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
