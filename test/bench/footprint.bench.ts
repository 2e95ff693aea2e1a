/**
 * `npm run bench:footprint`: the orchestrator's start-up time and idle memory on the local stack
 * (read from `.stack/env`; STACK_DIR picks another stack), the compiled entry against the old one
 * in the same run. A script, not a timed test. It runs `npm run build` (timed), then in R rounds
 * starts, one after the other (the order alternates between rounds):
 *
 *   (1) baseline, from source: `node --import tsx src/main.ts`, which bundles the workflows with
 *       webpack at start-up (how the image ran before the build existed; `npm start` still does);
 *   (2) built: `node <PRODUCTION_NODE_FLAGS> dist/src/main.js`, the image's entry, with the
 *       prebuilt workflow bundle.
 *
 * Each runs against the stack with its own task queue and `--namespaces` set to a namespace that
 * does not exist (nothing to do: idle). Start-up time is from the spawn to its `orchestrator
 * running` log line; then, after --settle-seconds, VmRSS is sampled from /proc every 500 ms for
 * --sample-seconds (median and max), with VmHWM (the peak, start-up included) and the CPU seconds
 * spent until ready. Target: idle RSS of (2) under 200 MiB. Prints a table, writes
 * `bench-results/footprint-<timestamp>.json`; exits non-zero only on errors.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readEnv } from '../../tools/stack/stack.js';
import {
  buildDist,
  PRODUCTION_NODE_FLAGS,
  sampleProc,
  startOrchestratorProcess,
  type OrchestratorEntry,
  type OrchestratorProcess,
} from './proc.js';
import { renderTable, writeBenchResult, type Row } from './report.js';
import { benchProgress as progress, mib, millis, secs, sleep, summarize } from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET_IDLE_RSS = 200 * 1024 * 1024;
const RUNNING = '"msg":"orchestrator running"';
/** The line each entry must log about its workflow code (src/temporal/worker.ts). */
const WORKFLOWS_LINE: Record<OrchestratorEntry, string> = {
  source: '"msg":"workflows: bundling from source"',
  built: '"msg":"workflows: prebuilt bundle"',
};

const USAGE = `usage: npm run bench:footprint -- [options]   (each option also reads BENCH_<NAME>)
  --rounds N           rounds of (source, built), order alternating (default 3)
  --settle-seconds N   wait after the "orchestrator running" line before sampling (default 5)
  --sample-seconds N   how long VmRSS is sampled, every 500 ms (default 15)
  --node-flags FLAGS   node flags of the built run instead of the production ones (default "${PRODUCTION_NODE_FLAGS.join(' ')}"; "" for none)
  --skip-build         use the dist/ that is there instead of running npm run build`;

/** One start of one entry. */
interface Start {
  entry: OrchestratorEntry;
  round: number;
  /** Spawn to the "orchestrator running" line, ms. */
  startupMs: number;
  /** CPU seconds (user + system) of the process when it logged that line. */
  startupCpuSeconds: number;
  /** VmRSS samples while idle, bytes. */
  rss: number[];
  /** VmHWM at the end of sampling, bytes. */
  peakRss: number;
}

function options(): {
  rounds: number;
  settleSeconds: number;
  sampleSeconds: number;
  nodeFlags: string[];
  skipBuild: boolean;
} {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rounds: { type: 'string' },
      'settle-seconds': { type: 'string' },
      'sample-seconds': { type: 'string' },
      'node-flags': { type: 'string' },
      'skip-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (flag: 'rounds' | 'settle-seconds' | 'sample-seconds', fallback: number, min: number) => {
    const env = `BENCH_${flag.toUpperCase().replace(/-/g, '_')}`;
    const text = values[flag] ?? process.env[env];
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${flag} / ${env}: '${text}' is not an integer >= ${min}`);
    return n;
  };
  const flags = values['node-flags'] ?? process.env.BENCH_NODE_FLAGS;
  return {
    rounds: num('rounds', 3, 1),
    settleSeconds: num('settle-seconds', 5, 0),
    sampleSeconds: num('sample-seconds', 15, 1),
    nodeFlags: flags === undefined ? [...PRODUCTION_NODE_FLAGS] : flags.split(/\s+/).filter(Boolean),
    skipBuild: values['skip-build'] ?? process.env.BENCH_SKIP_BUILD === '1',
  };
}

async function main(): Promise<void> {
  const params = options();
  const env = readEnv();
  if (!env?.TEMPORAL_ADDRESS || !env.MANAGEMENT_KUBECONFIG)
    throw new Error('no stack env: start the stack (npm run stack -- up) or set STACK_DIR');
  const runId = randomBytes(3).toString('hex');
  const logDir = join(ROOT, 'bench-results', `footprint-${runId}`);
  mkdirSync(logDir, { recursive: true });
  progress(
    `run ${runId}: ${params.rounds} rounds; built run with node flags [${params.nodeFlags.join(' ')}]; logs in ${logDir}`,
  );
  let buildMs: number | undefined;
  if (!params.skipBuild) {
    progress('npm run build');
    buildMs = buildDist();
    progress(`built in ${secs(buildMs)}`);
  }

  const starts: Start[] = [];
  for (let round = 1; round <= params.rounds; round++) {
    const order: OrchestratorEntry[] = round % 2 ? ['source', 'built'] : ['built', 'source'];
    for (const entry of order) {
      const s = await measure(entry, round);
      starts.push(s);
      const m = summarize(s.rss);
      progress(
        `round ${round} ${entry}: running after ${millis(s.startupMs)} (${s.startupCpuSeconds.toFixed(1)} s CPU), ` +
          `idle RSS median ${mib(m.p50)} max ${mib(m.max)}, peak ${mib(s.peakRss)}`,
      );
    }
  }

  async function measure(entry: OrchestratorEntry, round: number): Promise<Start> {
    const name = `footprint-${runId}-${entry}-${round}`;
    let output = '';
    let ready: (() => void) | undefined;
    const readyLine = new Promise<void>((r) => (ready = r));
    const spawned = performance.now();
    let readyAt = 0;
    const proc: OrchestratorProcess = startOrchestratorProcess({
      cwd: ROOT,
      entry,
      nodeArgs: entry === 'built' ? params.nodeFlags : [],
      logFile: join(logDir, `${name}.log`),
      args: [
        '--temporal-address',
        env!.TEMPORAL_ADDRESS,
        '--temporal-namespace',
        env!.TEMPORAL_NAMESPACE,
        '--kubeconfig',
        env!.MANAGEMENT_KUBECONFIG,
        '--task-queue',
        name,
        '--namespaces',
        `footprint-${runId}-idle`, // no such namespace: the bridge watches, finds nothing
        '--log-level',
        'info',
      ],
      onOutput: (chunk) => {
        output += chunk;
        if (!readyAt && output.includes(RUNNING)) {
          readyAt = performance.now();
          ready!();
        }
      },
    });
    try {
      const exited = new Promise<never>((_, reject) =>
        proc.child.once('exit', (code, signal) =>
          reject(
            new Error(`${entry} orchestrator exited (${code ?? signal}) before running; see ${proc.logFile}`),
          ),
        ),
      );
      await Promise.race([
        readyLine,
        exited,
        sleep(120_000).then(() => {
          throw new Error(`${entry} orchestrator not running after 120 s; see ${proc.logFile}`);
        }),
      ]);
      const startupCpuSeconds = sampleProc(proc.pid).cpuSeconds;
      if (!output.includes(WORKFLOWS_LINE[entry]))
        throw new Error(`${entry} orchestrator did not log ${WORKFLOWS_LINE[entry]}; see ${proc.logFile}`);
      await sleep(params.settleSeconds * 1000);
      const rss: number[] = [];
      for (let i = 0; i < params.sampleSeconds * 2; i++) {
        rss.push(sampleProc(proc.pid).rss);
        await sleep(500);
      }
      return {
        entry,
        round,
        startupMs: readyAt - spawned,
        startupCpuSeconds,
        rss,
        peakRss: sampleProc(proc.pid).hwm,
      };
    } finally {
      await proc.stop();
    }
  }

  const of = (entry: OrchestratorEntry) => {
    const mine = starts.filter((s) => s.entry === entry);
    const median = (xs: number[]) => summarize(xs).p50;
    return {
      startupMs: median(mine.map((s) => s.startupMs)),
      startupCpuSeconds: median(mine.map((s) => s.startupCpuSeconds)),
      idleRssMedian: median(mine.map((s) => summarize(s.rss).p50)),
      idleRssMax: Math.max(...mine.flatMap((s) => s.rss)),
      peakRss: median(mine.map((s) => s.peakRss)),
    };
  };
  const source = of('source');
  const built = of('built');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const n = params.rounds;
  const rows: Row[] = [
    {
      what: 'npm run build (tsc + workflow bundle)',
      value: buildMs === undefined ? 'skipped' : secs(buildMs),
      baseline: '-',
      target: '',
      verdict: 'info',
    },
    {
      what: `start-up, spawn -> "orchestrator running" (median of ${n})`,
      value: secs(built.startupMs),
      baseline: `from source ${secs(source.startupMs)}`,
      target: ratio(built.startupMs, source.startupMs),
      verdict: 'info',
    },
    {
      what: `start-up CPU (median of ${n})`,
      value: `${built.startupCpuSeconds.toFixed(1)} s`,
      baseline: `from source ${source.startupCpuSeconds.toFixed(1)} s`,
      target: ratio(built.startupCpuSeconds, source.startupCpuSeconds),
      verdict: 'info',
    },
    {
      what: `idle RSS, median of ${params.sampleSeconds} s (median of ${n})`,
      value: mib(built.idleRssMedian),
      baseline: `from source ${mib(source.idleRssMedian)}`,
      target: `${ratio(built.idleRssMedian, source.idleRssMedian)} / < ${mib(TARGET_IDLE_RSS)}`,
      verdict: built.idleRssMedian < TARGET_IDLE_RSS ? 'PASS' : 'MISS',
    },
    {
      what: `idle RSS, max over all samples`,
      value: mib(built.idleRssMax),
      baseline: `from source ${mib(source.idleRssMax)}`,
      target: ratio(built.idleRssMax, source.idleRssMax),
      verdict: 'info',
    },
    {
      what: `peak RSS, start-up included (median of ${n})`,
      value: mib(built.peakRss),
      baseline: `from source ${mib(source.peakRss)}`,
      target: ratio(built.peakRss, source.peakRss),
      verdict: 'info',
    },
  ];
  const resultFile = writeBenchResult('footprint', {
    runId,
    params,
    entries: {
      source: 'node --import tsx src/main.ts',
      built: ['node', ...params.nodeFlags, 'dist/src/main.js'].join(' '),
    },
    buildMs,
    summary: { source, built, targetIdleRss: TARGET_IDLE_RSS },
    starts: starts.map(({ rss, ...s }) => ({ ...s, rss: summarize(rss), rssSamples: rss })),
  });
  console.log(renderTable(rows));
  console.log(`results: ${resultFile}`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
