/**
 * `npm run bench:footprint`: the orchestrator's start-up time and idle memory on the local stack
 * (read from `.stack/env`; STACK_DIR picks another stack), the compiled entry against the old one
 * in the same run. A script, not a timed test. It runs `npm run build` (timed), then in R rounds
 * starts, one after the other (the order alternates between rounds):
 *
 *   (1) baseline, from source: `node --import tsx src/main.ts`, which bundles the workflows with
 *       webpack at start-up (how the image ran before the build existed; `npm start` still does);
 *   (2) built: `node dist/src/main.js`, the image's entry, with the prebuilt workflow bundle.
 *
 * Each runs against the stack with its own task queue and `--namespaces` set to a namespace that
 * does not exist (nothing to do: idle). Start-up time is from the spawn to its `orchestrator
 * running` log line, with the CPU seconds spent until then. Then VmRSS is read from /proc every
 * second for --idle-seconds: the median of 5-20 s after that line ("early": start-up garbage not
 * yet collected) and the median and max of the last 30 s ("settled": V8's memory reducer runs
 * once allocation stops, which took 45-100 s in trials), and VmHWM (the peak, start-up included).
 * Target: settled idle RSS of (2) under 200 MiB. Prints a table, writes
 * `bench-results/footprint-<timestamp>.json` and each process's log beside it; exits non-zero
 * only on errors.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readEnv } from '../../tools/stack/stack.js';
import {
  buildDist,
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

/** Seconds after the running line of the early window, and the length of the settled one. */
const EARLY = { from: 5, to: 20 };
const SETTLED_SECONDS = 30;

const USAGE = `usage: npm run bench:footprint -- [options]   (each option also reads BENCH_<NAME>)
  --rounds N           rounds of (source, built), order alternating (default 3)
  --idle-seconds N     how long each process idles after its running line, VmRSS read every second (default 120, at least 50)
  --node-flags FLAGS   extra node flags for the built run, to try a setting (default none, as in the image)
  --skip-build         use the dist/ that is there instead of running npm run build`;

/** One start of one entry. */
interface Start {
  entry: OrchestratorEntry;
  round: number;
  /** Spawn to the "orchestrator running" line, ms. */
  startupMs: number;
  /** CPU seconds (user + system) of the process when it logged that line. */
  startupCpuSeconds: number;
  /** VmRSS once a second from the running line on, bytes. */
  rss: number[];
  /** VmHWM at the end of sampling, bytes. */
  peakRss: number;
}

function options(): {
  rounds: number;
  idleSeconds: number;
  nodeFlags: string[];
  skipBuild: boolean;
} {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rounds: { type: 'string' },
      'idle-seconds': { type: 'string' },
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
  const num = (flag: 'rounds' | 'idle-seconds', fallback: number, min: number) => {
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
    idleSeconds: num('idle-seconds', 120, EARLY.to + SETTLED_SECONDS),
    nodeFlags: (flags ?? '').split(/\s+/).filter(Boolean),
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

  const median = (xs: number[]) => summarize(xs).p50;
  /** Early (5-20 s after the running line) and settled (the last 30 s) RSS of one start. */
  function windows(rss: number[]) {
    const settled = rss.slice(-SETTLED_SECONDS);
    return {
      early: median(rss.slice(EARLY.from - 1, EARLY.to)),
      settled: median(settled),
      settledMax: Math.max(...settled),
    };
  }
  const starts: Start[] = [];
  for (let round = 1; round <= params.rounds; round++) {
    const order: OrchestratorEntry[] = round % 2 ? ['source', 'built'] : ['built', 'source'];
    for (const entry of order) {
      const s = await measure(entry, round);
      starts.push(s);
      const w = windows(s.rss);
      progress(
        `round ${round} ${entry}: running after ${millis(s.startupMs)} (${s.startupCpuSeconds.toFixed(1)} s CPU), ` +
          `RSS early ${mib(w.early)}, settled ${mib(w.settled)} (max ${mib(w.settledMax)}), peak ${mib(s.peakRss)}`,
      );
    }
  }

  async function measure(entry: OrchestratorEntry, round: number): Promise<Start> {
    const name = `footprint-${runId}-${entry}-${round}`;
    let output = '';
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
        if (!readyAt && output.includes(RUNNING)) readyAt = performance.now();
      },
    });
    try {
      while (!readyAt) {
        if (proc.exited)
          throw new Error(
            `${entry} orchestrator exited (${proc.exited.code ?? proc.exited.signal}) before running; see ${proc.logFile}`,
          );
        if (performance.now() - spawned > 120_000)
          throw new Error(`${entry} orchestrator not running after 120 s; see ${proc.logFile}`);
        await sleep(50);
      }
      const startupCpuSeconds = sampleProc(proc.pid).cpuSeconds;
      if (!output.includes(WORKFLOWS_LINE[entry]))
        throw new Error(`${entry} orchestrator did not log ${WORKFLOWS_LINE[entry]}; see ${proc.logFile}`);
      const rss: number[] = [];
      for (let i = 0; i < params.idleSeconds; i++) {
        await sleep(readyAt + (i + 1) * 1000 - performance.now());
        rss.push(sampleProc(proc.pid).rss);
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
    const w = mine.map((s) => windows(s.rss));
    return {
      startupMs: median(mine.map((s) => s.startupMs)),
      startupCpuSeconds: median(mine.map((s) => s.startupCpuSeconds)),
      earlyRss: median(w.map((x) => x.early)),
      settledRss: median(w.map((x) => x.settled)),
      settledRssMax: Math.max(...w.map((x) => x.settledMax)),
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
      what: `idle RSS early, ${EARLY.from}-${EARLY.to} s after running (median of ${n})`,
      value: mib(built.earlyRss),
      baseline: `from source ${mib(source.earlyRss)}`,
      target: ratio(built.earlyRss, source.earlyRss),
      verdict: 'info',
    },
    {
      what: `idle RSS settled, last ${SETTLED_SECONDS} s of ${params.idleSeconds} (median of ${n})`,
      value: mib(built.settledRss),
      baseline: `from source ${mib(source.settledRss)}`,
      target: `${ratio(built.settledRss, source.settledRss)} / < ${mib(TARGET_IDLE_RSS)}`,
      verdict: built.settledRss < TARGET_IDLE_RSS ? 'PASS' : 'MISS',
    },
    {
      what: `idle RSS settled, max of any start`,
      value: mib(built.settledRssMax),
      baseline: `from source ${mib(source.settledRssMax)}`,
      target: ratio(built.settledRssMax, source.settledRssMax),
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
    starts: starts.map((s) => ({ ...s, ...windows(s.rss) })),
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
