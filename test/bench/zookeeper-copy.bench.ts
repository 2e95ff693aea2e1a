/**
 * `npm run bench:zookeeper`: the ZooKeeper copy benchmark on the local stack's two ZooKeeper
 * servers (read from `.stack/env`; STACK_DIR picks another stack). A script, not a timed test:
 * it builds a tree of N znodes of mixed sizes, D levels deep, on the source, then measures in the
 * same run, in R rounds (the destination root deleted, untimed, before each copy into it):
 *
 *   (1) baseline: a minimal raw client on the same `zookeeper` package that walks the tree (get,
 *       get_children when there are children) and creates every node on the destination, with
 *       the same number of requests in flight per session as the engine;
 *   (2) the engine's first copy into a fresh destination root; target within 1.3x of the
 *       baseline (best round against best round: the stack shares a small machine);
 *   (3) the engine's second copy of the unchanged tree, as a fraction of the first.
 *
 * Prints a table, writes `bench-results/zookeeper-copy-<timestamp>.json`, and deletes every
 * znode it created. Exits non-zero only on errors, never on a missed target.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectZooKeeper, zkConstants, type ZkClient } from '../../src/clients/zookeeper.js';
import { copyZooKeeperTree } from '../../src/plugins/zookeeper-to-zookeeper-nodes/engine.js';
import { childPath } from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';
import type { PluginOutcome } from '../../src/plugins/types.js';
import { readEnv } from '../../tools/stack/stack.js';
import {
  ADMIN,
  buildTree,
  database,
  deleteTree,
  makeRun,
  openSession,
  payload,
  type NodeSpec,
} from '../integration/zk-tree.js';
import { renderTable, type Row } from './report.js';
import { benchProgress as progress, mib, secs, timed } from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET_RATIO = 1.3;
/** The "a small fraction of the first" for a copy of an unchanged tree, made a number. */
const TARGET_SECOND_FRACTION = 0.5;

const USAGE = `usage: npm run bench:zookeeper -- [options]   (each option also reads BENCH_<NAME>)
  --nodes N        znodes in the tree (default 10000)
  --depth N        levels below the root (default 8)
  --in-flight N    requests in flight per session, engine and baseline (default 64)
  --rounds N       rounds of (baseline, first copy, second copy); the best of each is compared (default 3)`;

interface Params {
  nodes: number;
  depth: number;
  inFlight: number;
  rounds: number;
}

function parseParams(): Params {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      nodes: { type: 'string' },
      depth: { type: 'string' },
      'in-flight': { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (flag: 'nodes' | 'depth' | 'in-flight' | 'rounds', dflt: number): number => {
    const env = `BENCH_${flag.toUpperCase().replaceAll('-', '_')}`;
    const text = values[flag] ?? process.env[env];
    if (text === undefined) return dflt;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${flag} / ${env}: '${text}' is not an integer >= 1`);
    return n;
  };
  return {
    nodes: num('nodes', 10_000),
    depth: num('depth', 8),
    inFlight: num('in-flight', 64),
    rounds: num('rounds', 3),
  };
}

/** Mixed sizes: mostly small, some 1 KiB and 10 KiB, a few 100 KiB. */
function sizeOf(i: number): number {
  const r = (i * 7919) % 100;
  return r < 70 ? 100 : r < 90 ? 1024 : r < 99 ? 10 * 1024 : 100 * 1024;
}

/**
 * A tree of `count` nodes under `root`, `depth` levels deep: breadth first with the smallest
 * branching factor that reaches `count` within `depth` levels.
 */
function treeSpec(root: string, count: number, depth: number): NodeSpec[] {
  let branching = 2;
  const capacity = (b: number) =>
    Array.from({ length: depth }, (_, i) => b ** (i + 1)).reduce((a, c) => a + c, 0);
  while (capacity(branching) < count) branching++;
  const nodes: NodeSpec[] = [{ path: root, data: Buffer.alloc(0) }];
  let level = [root];
  let made = 0;
  for (let d = 0; d < depth && made < count; d++) {
    const next: string[] = [];
    for (const parent of level)
      for (let c = 0; c < branching && made < count; c++) {
        const path = childPath(parent, `n${c}`);
        nodes.push({ path, data: payload(sizeOf(made), made) });
        next.push(path);
        made++;
      }
    level = next;
  }
  return nodes;
}

/** A minimal FIFO limiter: at most `n` calls of `fn` in flight. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    else active++;
    try {
      return await fn();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * The baseline: walks the source tree with the package's promise API and creates each node on
 * the destination (same data, default flags), `inFlight` requests per session.
 */
async function rawCopy(src: ZkClient, dst: ZkClient, root: string, inFlight: number): Promise<number> {
  const readSlot = limiter(inFlight);
  const writeSlot = limiter(inFlight);
  let copied = 0;
  const visit = async (path: string): Promise<void> => {
    const [stat, data] = (await readSlot(() => src.get(path, false))) as [{ numChildren: number }, Buffer];
    await writeSlot(() => dst.create(path, data, zkConstants.ZOO_PERSISTENT));
    copied++;
    if (stat.numChildren === 0) return;
    const names = (await readSlot(() => src.get_children(path, false))) as string[];
    await Promise.all(names.map((n) => visit(childPath(path, n))));
  };
  await visit(root);
  return copied;
}

async function main(): Promise<number> {
  const params = parseParams();
  const env = readEnv();
  if (!env?.ZK_SOURCE || !env.ZK_DESTINATION)
    throw new Error(
      'no ZK_SOURCE / ZK_DESTINATION in the stack env: start the stack (npm run stack -- up) or set STACK_DIR',
    );
  const srcServers = [env.ZK_SOURCE];
  const dstServers = [env.ZK_DESTINATION];
  const runId = randomBytes(3).toString('hex');
  const base = `/zkbench-${runId}`;
  const root = `${base}/tree`;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = join(resultsDir, `zookeeper-copy-${stamp}.json`);
  progress(
    `run ${runId}: ${params.nodes} znodes, ${params.depth} levels, ${params.inFlight} in flight, ` +
      `${params.rounds} rounds; ${os.cpus().length} cpus, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );

  const [src, dst] = await Promise.all([openSession(srcServers), openSession(dstServers)]);
  const clients: ZkClient[] = [];
  try {
    // Set-up (untimed).
    await src.create(base, Buffer.alloc(0));
    const spec = treeSpec(root, params.nodes, params.depth);
    const bytes = spec.reduce((n, s) => n + s.data.length, 0);
    const build = await timed(() => buildTree(src, spec));
    progress(`built ${spec.length} znodes (${mib(bytes)}) in ${secs(build.ms)}`);
    await dst.create(base, Buffer.alloc(0));
    const rawSrc = await connectZooKeeper({ servers: srcServers, auth: ADMIN });
    const rawDst = await connectZooKeeper({ servers: dstServers, auth: ADMIN });
    clients.push(rawSrc, rawDst);
    const copy = () =>
      timed(async (): Promise<PluginOutcome> => {
        const { run } = makeRun({
          config: { sourceName: 'src', destinationName: 'dst', rootPath: root, createRootPath: true },
          databases: { src: database(srcServers), dst: database(dstServers) },
        });
        return copyZooKeeperTree(run, { maxInFlight: params.inFlight });
      });

    const rounds: {
      baselineMs: number;
      firstMs: number;
      secondMs: number;
      first: PluginOutcome;
      second: PluginOutcome;
    }[] = [];
    for (let r = 1; r <= params.rounds; r++) {
      await deleteTree(dst, root);
      const baseline = await timed(() => rawCopy(rawSrc, rawDst, root, params.inFlight));
      await deleteTree(dst, root);
      const first = await copy();
      const second = await copy();
      rounds.push({
        baselineMs: baseline.ms,
        firstMs: first.ms,
        secondMs: second.ms,
        first: first.value,
        second: second.value,
      });
      progress(
        `round ${r}: baseline ${secs(baseline.ms)} (${baseline.value} znodes), first copy ${secs(first.ms)} ` +
          `${JSON.stringify(first.value.progress)}, second copy ${secs(second.ms)} ${JSON.stringify(second.value.progress)}`,
      );
    }
    const best = (k: 'baselineMs' | 'firstMs' | 'secondMs') => Math.min(...rounds.map((r) => r[k]));
    const baseline = { ms: best('baselineMs') };
    const first = { ms: best('firstMs'), value: rounds[0].first };
    const second = { ms: best('secondMs'), value: rounds.at(-1)!.second };
    const ratio = first.ms / baseline.ms;
    const fraction = second.ms / first.ms;
    const rate = (ms: number) => `${Math.round((spec.length / ms) * 1000)} znodes/s`;
    const rows: Row[] = [
      {
        what: `tree: znodes (levels), data`,
        value: `${spec.length} (${params.depth}), ${mib(bytes)}`,
        baseline: '',
        target: '',
        verdict: '',
      },
      {
        what: `baseline: raw walk + create (best of ${params.rounds})`,
        value: `${secs(baseline.ms)} (${rate(baseline.ms)})`,
        baseline: '',
        target: `${params.inFlight} in flight`,
        verdict: '',
      },
      {
        what: `engine: first copy (best of ${params.rounds})`,
        value: `${secs(first.ms)} (${rate(first.ms)})`,
        baseline: secs(baseline.ms),
        target: `${ratio.toFixed(2)}x / <= ${TARGET_RATIO}x`,
        verdict: ratio <= TARGET_RATIO ? 'ok' : 'MISSED',
      },
      {
        what: `engine: second copy, unchanged (best of ${params.rounds})`,
        value: `${secs(second.ms)} (written ${second.value.progress?.written ?? '?'})`,
        baseline: secs(first.ms),
        target: `${fraction.toFixed(2)} of the first / <= ${TARGET_SECOND_FRACTION}, written 0`,
        verdict: second.value.progress?.written === 0 && fraction <= TARGET_SECOND_FRACTION ? 'ok' : 'MISSED',
      },
    ];
    writeFileSync(
      resultFile,
      JSON.stringify(
        {
          benchmark: 'zookeeper-copy',
          runId,
          params,
          machine: { nproc: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
          tree: { znodes: spec.length, bytes },
          rounds: rounds.map((r) => ({ baselineMs: r.baselineMs, firstMs: r.firstMs, secondMs: r.secondMs })),
          best: { baselineMs: baseline.ms, firstMs: first.ms, secondMs: second.ms },
          firstCopy: { progress: first.value.progress, ratio },
          secondCopy: { progress: second.value.progress, fraction },
          targetRatio: TARGET_RATIO,
          targetSecondFraction: TARGET_SECOND_FRACTION,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(renderTable(rows));
    console.log(`results: ${resultFile}`);
    return 0;
  } finally {
    clients.forEach((c) => c.close());
    progress('cleaning up');
    await Promise.all([deleteTree(src, base), deleteTree(dst, base)]).catch((err: unknown) =>
      progress(`clean-up failed, delete ${base} by hand: ${String(err)}`),
    );
    src.close();
    dst.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
