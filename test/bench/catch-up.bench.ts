/**
 * `npm run bench:catch-up`: catch-up after a kill -9 of the worker, with N ConfigMaps synced, for a
 * retry that resumes from the checkpoint against one that lists everything again
 * (`--replication-checkpoint false`), in the same run and on the same objects. A script, not a
 * timed test: it prints a table and writes `bench-results/catch-up-<timestamp>.json`.
 *
 *   1. N ConfigMaps (~1 KiB) over M source namespaces; an orchestrator syncs them (initial sync).
 *   2. For each mode (resume, then relist): wait for a heartbeat to carry the checkpoint, kill -9
 *      the orchestrator, make K changes at the source while none runs (80% updates, 10% creates,
 *      10% deletes), wait until Temporal would retry (heartbeat timeout), start a new orchestrator.
 *      Catch-up = from that process's start until the K changes are all visible in the
 *      destination (a watch there).
 *
 * The orchestrator runs as the image runs it (`node dist/src/main.js`, after npm run build).
 */
import type { Kind } from '../../src/api/kinds.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Resource } from '../../src/api/types.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { crTarget, ensureStack } from './stack.js';
import {
  configMapBody,
  countConfigMaps,
  createNamespaces,
  deleteNamespaces,
  DestinationWatch,
  kubeConfig,
  objectSet,
} from './kube.js';
import { buildDist, sampleProc, startOrchestratorProcess, type OrchestratorProcess } from './proc.js';
import { renderTable, writeBenchResult, type Row } from './report.js';
import { mib, numberFlag, pool, progressPrinter, retry, secs, sleep, statusOf, waitFor } from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const USAGE = `usage: npm run bench:catch-up -- [options]   (each option also reads BENCH_<NAME>, e.g. BENCH_OBJECTS)
  --objects N            ConfigMaps synced before the kill (default 5000; the issue's target is 50000)
  --namespaces N         source namespaces they are spread over (default 50)
  --changes K            source changes made while no worker runs, per mode (default 100)
  --payload-bytes N      size of each ConfigMap's payload (default 1024)
  --concurrency N        the replicator's concurrentTasks (default 16)
  --setup-concurrency N  writes in flight while creating the source objects (default 32)
  --timeout N            seconds to wait for the initial sync and for each catch-up (default 1200)
  --modes LIST           resume,relist (default both, in that order)
  --skip-build           use the dist/ that is there instead of running npm run build first`;

function parseParams() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      objects: { type: 'string' },
      namespaces: { type: 'string' },
      changes: { type: 'string' },
      'payload-bytes': { type: 'string' },
      concurrency: { type: 'string' },
      'setup-concurrency': { type: 'string' },
      timeout: { type: 'string' },
      modes: { type: 'string' },
      'skip-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (flag: keyof typeof values, dflt: number, min = 1): number =>
    Math.floor(numberFlag(values, flag, dflt, min));
  const modes = (values.modes ?? process.env.BENCH_MODES ?? 'resume,relist').split(',').map((s) => s.trim());
  for (const m of modes)
    if (m !== 'resume' && m !== 'relist') throw new Error(`--modes: '${m}' is not resume or relist`);
  const p = {
    objects: num('objects', 5000),
    namespaces: num('namespaces', 50),
    changes: num('changes', 100, 10),
    payloadBytes: num('payload-bytes', 1024, 0),
    concurrency: num('concurrency', 16),
    setupConcurrency: num('setup-concurrency', 32),
    timeoutSeconds: num('timeout', 1200),
    modes: modes as ('resume' | 'relist')[],
    skipBuild: values['skip-build'] ?? process.env.BENCH_SKIP_BUILD === '1',
  };
  if (p.namespaces > p.objects) throw new Error('--namespaces must not exceed --objects');
  return p;
}

const progress = progressPrinter('catch-up');

/** What one mode measured. */
interface CatchUp {
  mode: 'resume' | 'relist';
  changes: number;
  /** From the new process's start until every change is visible in the destination (the watch's arrival time). */
  catchUpMs: number;
  /** From the new process's start until its last write of a change (its own log). */
  lastWriteMs?: number;
  /** The retried attempt's own lines: whether it resumed, and whether it listed the source. */
  resumedLine: boolean;
  sourceLists: number;
  /** Peak RSS of the new process during catch-up. */
  peakRssBytes: number;
  /** status.replication.resources[0] a few seconds after catch-up. */
  status?: unknown;
}

async function main(): Promise<number> {
  const params = parseParams();
  const runId = randomBytes(3).toString('hex');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  progress(
    `run ${runId}: ${params.objects} objects over ${params.namespaces} namespaces, ${params.changes} changes per mode`,
  );
  const env = await ensureStack(progress, new AbortController().signal);
  if (!params.skipBuild) {
    progress('npm run build');
    progress(`built in ${secs(buildDist())}`);
  }
  const mgmt = kubeConfig(env.MANAGEMENT_KUBECONFIG);
  const srcCore = kubeConfig(env.SOURCE_KUBECONFIG).makeApiClient(CoreV1Api);
  const dstKc = kubeConfig(env.DESTINATION_KUBECONFIG);
  const dstCore = dstKc.makeApiClient(CoreV1Api);
  const mgmtCore = mgmt.makeApiClient(CoreV1Api);
  const custom = mgmt.makeApiClient(CustomObjectsApi);
  const mgmtNs = `catchup-${runId}`;
  const runLabel = `catchup-${runId}`;
  const set = objectSet(`catchup-${runId}-s`, params.namespaces, params.objects);
  const owner = { namespace: mgmtNs, name: 'bench' };
  const ownerSelector = `${OWNER_LABEL}=${ownerLabelValue(owner)}`;
  const taskQueue = `catchup-${runId}`;
  const logBase = join(ROOT, 'bench-results', `catch-up-${stamp}`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  let orchestrator: OrchestratorProcess | undefined;
  let watch: DestinationWatch | undefined;
  let workers = 0;
  const start = (args: string[]) => {
    const logFile = `${logBase}.orchestrator-${++workers}.log`;
    orchestrator = startOrchestratorProcess({
      cwd: ROOT,
      logFile,
      entry: 'built',
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
        '--leader-election-namespace',
        mgmtNs,
        '--leader-election-lease-duration',
        '6s',
        '--leader-election-renew-deadline',
        '4s',
        '--leader-election-retry-period',
        '1s',
        ...args,
      ],
    });
    return orchestrator;
  };
  const results: CatchUp[] = [];
  const result: Record<string, unknown> = { runId, startedAt: new Date().toISOString(), params };
  let exitCode = 0;
  try {
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
      await custom.createNamespacedCustomObject({
        ...crTarget('KubernetesCluster', mgmtNs),
        body: {
          apiVersion: 'assets.astronetes.io/v1alpha1',
          kind: 'KubernetesCluster',
          metadata: { name, namespace: mgmtNs },
          spec: { secretName: name },
        },
      });
    }
    progress(`setup: creating ${params.objects} ConfigMaps`);
    const setupStart = Date.now();
    await createNamespaces(srcCore, set.namespaces, params.setupConcurrency, { [runLabel]: 'yes' });
    await pool(set.objects, params.setupConcurrency, async (o) => {
      await retry(
        () =>
          srcCore.createNamespacedConfigMap({
            namespace: o.namespace,
            body: configMapBody(o.name, params.payloadBytes),
          }),
        { ok: [409] },
      );
    });
    result.setupMs = Date.now() - setupStart;
    progress(`setup: source ready in ${secs(Date.now() - setupStart)}`);

    // The initial sync (untimed here: npm run bench measures it).
    start(['--log-level', 'warn']);
    const initialStart = Date.now();
    await custom.createNamespacedCustomObject({
      ...crTarget('LiveSynchronization', mgmtNs),
      body: {
        apiVersion: 'automation.astronetes.io/v1alpha1',
        kind: 'LiveSynchronization',
        metadata: { name: owner.name, namespace: mgmtNs },
        spec: {
          plugin: 'kubernetes-objects-to-kubernetes',
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
    let lastProgress = Date.now();
    await waitFor(
      'the initial sync',
      async () => {
        const n = await countConfigMaps(dstCore, ownerSelector);
        if (Date.now() - lastProgress > 15_000) {
          progress(`initial sync: ${n} of ${params.objects}`);
          lastProgress = Date.now();
        }
        return n >= params.objects;
      },
      params.timeoutSeconds * 1000,
    );
    result.initialSyncMs = Date.now() - initialStart;
    progress(`initial sync: ${params.objects} objects in ${secs(Date.now() - initialStart)}`);

    // Changes are seen in the destination through one watch; each mode stamps its own round.
    const pending = new Set<string>();
    watch = new DestinationWatch(dstKc, ownerSelector, 1000);
    await watch.start();
    let live = set.objects.map((o) => ({ ...o }));
    let created = 0;
    for (const mode of params.modes) {
      const round = `${mode}-${runId}`;
      // The SDK sends heartbeat details at most every 8 s: let one carry the latest checkpoint.
      await sleep(20_000);
      progress(`${mode}: kill -9 of pid ${orchestrator!.pid}`);
      orchestrator!.child.kill('SIGKILL');
      await sleep(500);
      const changeStart = Date.now();
      const deletes = Math.floor(params.changes / 10);
      const creates = Math.floor(params.changes / 10);
      const updates = params.changes - deletes - creates;
      const targets = live.slice(0, updates + deletes);
      live = live.slice(updates + deletes);
      const deletedKeys = new Set<string>();
      await pool(targets.slice(0, updates), 8, async (o) => {
        pending.add(`${o.namespace}/${o.name}`);
        await srcCore.patchNamespacedConfigMap(
          { namespace: o.namespace, name: o.name, body: { data: { stamp: round } } },
          MERGE,
        );
      });
      live.push(...targets.slice(0, updates));
      await pool(targets.slice(updates), 8, async (o) => {
        pending.add(`${o.namespace}/${o.name}`);
        deletedKeys.add(`${o.namespace}/${o.name}`);
        await srcCore.deleteNamespacedConfigMap({ namespace: o.namespace, name: o.name });
      });
      await pool(
        Array.from({ length: creates }, (_, i) => i),
        8,
        async () => {
          const o = { namespace: set.namespaces[created % set.namespaces.length], name: `new-${created++}` };
          pending.add(`${o.namespace}/${o.name}`);
          const body = configMapBody(o.name, params.payloadBytes);
          body.data = { ...body.data, stamp: round };
          await srcCore.createNamespacedConfigMap({ namespace: o.namespace, body });
          live.push(o);
        },
      );
      // A deletion is seen as DELETED; an update or create as its stamp.
      let lastArrival = 0;
      watch.onEvent = (type, key, obj, at) => {
        if (!pending.has(key)) return;
        if (deletedKeys.has(key) ? type === 'DELETED' : obj.data?.stamp === round) {
          pending.delete(key);
          lastArrival = at;
        }
      };
      progress(`${mode}: ${params.changes} changes made in ${secs(Date.now() - changeStart)}`);
      await sleep(12_000); // the heartbeat timeout (10 s): Temporal retries the attempt at once now
      const logFrom = workers + 1;
      const proc = start(['--log-level', 'info', '--replication-checkpoint', String(mode === 'resume')]);
      const procStart = Date.now();
      let peak = 0;
      await waitFor(
        `${mode}: the ${params.changes} changes in the destination`,
        () => {
          if (proc.exited) throw new Error(`the orchestrator exited; see ${proc.logFile}`);
          try {
            peak = Math.max(peak, sampleProc(proc.pid).hwm);
          } catch {
            /* exited */
          }
          return Promise.resolve(pending.size === 0);
        },
        params.timeoutSeconds * 1000,
      );
      const catchUpMs = lastArrival - procStart;
      await sleep(15_000); // status is written every 2 s; resumed counts come after a destination list
      const ls = (await custom.getNamespacedCustomObject(
        crTarget('LiveSynchronization', mgmtNs, owner.name),
      )) as Resource;
      const lines = readFileSync(`${logBase}.orchestrator-${logFrom}.log`, 'utf8').split('\n');
      const own = lines.filter((l) => l.includes('"process":{"id":"replicator"'));
      const writes = own
        .map(
          (l) =>
            JSON.parse(l) as { msg?: string; timestamp?: string; destinationObject?: { namespace?: string } },
        )
        .filter(
          (j) =>
            /^object (created|updated|deleted) in cluster$/.test(j.msg ?? '') &&
            j.destinationObject?.namespace?.startsWith(`catchup-${runId}-`),
        );
      const r: CatchUp = {
        mode,
        changes: params.changes,
        catchUpMs,
        lastWriteMs: writes.length ? Date.parse(writes.at(-1)!.timestamp!) - procStart : undefined,
        resumedLine: own.some((l) => l.includes('resuming from checkpoint')),
        sourceLists: own.filter(
          (l) => l.includes('"msg":"listing objects in cluster"') && l.includes('sourceCluster'),
        ).length,
        peakRssBytes: peak,
        status: (ls.status?.replication as { resources?: unknown[] } | undefined)?.resources?.[0],
      };
      results.push(r);
      progress(
        `${mode}: caught up in ${secs(catchUpMs)} (resumed: ${r.resumedLine}, source lists: ${r.sourceLists}, peak RSS ${mib(peak)})`,
      );
    }
    const rows: Row[] = results.map((r) => ({
      what: `catch-up after kill -9, ${r.mode}`,
      value: secs(r.catchUpMs),
      baseline: r.mode === 'resume' ? 'relist' : '-',
      target: (() => {
        const relist = results.find((x) => x.mode === 'relist');
        return r.mode === 'resume' && relist ? `${(r.catchUpMs / relist.catchUpMs).toFixed(2)}x` : '-';
      })(),
      verdict: `${r.changes} changes, ${params.objects} objects; last write ${r.lastWriteMs === undefined ? 'n/a' : secs(r.lastWriteMs)}; source lists ${r.sourceLists}; peak RSS ${mib(r.peakRssBytes)}`,
    }));
    console.log(renderTable(rows));
    result.catchUp = results;
  } catch (err) {
    progress(`failed: ${(err as Error).message}`);
    result.error = (err as Error).message;
    exitCode = 1;
  } finally {
    watch?.stop();
    progress('cleaning up');
    if (!orchestrator || orchestrator.exited) start(['--log-level', 'warn']);
    // Our resources carry finalizers: delete them while an orchestrator runs to remove them.
    const ours: [Kind, string][] = [
      ['LiveSynchronization', owner.name],
      ['KubernetesCluster', 'source'],
      ['KubernetesCluster', 'destination'],
    ];
    for (const [kind, name] of ours) {
      await custom.deleteNamespacedCustomObject(crTarget(kind, mgmtNs, name)).catch(() => undefined);
      await waitFor(
        `${kind} ${name} to go`,
        async () => {
          try {
            await custom.getNamespacedCustomObject(crTarget(kind, mgmtNs, name));
            return false;
          } catch (err) {
            return statusOf(err) === 404;
          }
        },
        120_000,
      ).catch(() => progress(`${kind} ${name} did not go within 2 minutes`));
    }
    await orchestrator?.stop();
    const problems = [
      ...(await deleteNamespaces(srcCore, set.namespaces)),
      ...(await deleteNamespaces(dstCore, set.namespaces)),
    ];
    await mgmtCore.deleteNamespace({ name: mgmtNs }).catch(() => undefined);
    if (problems.length) progress(`cleanup problems: ${problems.slice(0, 5).join('; ')}`);
    result.file = writeBenchResult('catch-up', result);
    progress(`results: ${String(result.file)}`);
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
