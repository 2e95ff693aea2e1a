/**
 * The orchestrator under test runs in its own process, so its memory and CPU are measured apart
 * from the benchmark's: RSS and peak RSS from /proc/<pid>/status, CPU time from /proc/<pid>/stat.
 * It runs either from source (`node --import tsx src/main.ts`, bundling the workflows at start-up)
 * or built (`node dist/src/main.js`, the image's entry, after `npm run build`).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** How the orchestrator process is started: from the TypeScript sources, or from the build output. */
export type OrchestratorEntry = 'source' | 'built';

/**
 * The node arguments that start the orchestrator (before its own flags), run in the repository
 * root: `--import tsx src/main.ts` (what `npm start` runs once the stack is up, workflows bundled
 * at start-up) or `dist/src/main.js` (the image's entry; needs {@link buildDist} first).
 */
export function orchestratorEntryArgs(entry: OrchestratorEntry): string[] {
  return entry === 'built' ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
}

/**
 * Runs `npm run build` (tools/build.ts: tsc to dist/, then the workflow bundle) in the repository
 * root and returns how long it took, in ms. Throws with the build's output when it fails.
 */
export function buildDist(): number {
  const started = performance.now();
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'tools/build.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (res.status !== 0)
    throw new Error(
      `npm run build failed (exit code ${res.status ?? res.signal}):\n${res.stdout}${res.stderr}`,
    );
  return performance.now() - started;
}

/** Memory and CPU of one process at one moment. */
export interface ProcSample {
  at: string;
  /** Resident set size, bytes (VmRSS). */
  rss: number;
  /** Peak resident set size so far, bytes (VmHWM). */
  hwm: number;
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Reads RSS, peak RSS and CPU time of `pid` from /proc. */
export function sampleProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // /proc/<pid>/stat: the command may contain spaces; fields after ")" are fixed. utime, stime are 14, 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  return {
    at: new Date().toISOString(),
    rss: kb('VmRSS') * 1024,
    hwm: kb('VmHWM') * 1024,
    cpuSeconds: cpuTicks / ticksPerSecond(),
  };
}

/** The orchestrator child process. */
export interface OrchestratorProcess {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Set once the process has exited. */
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  /** Lines of its output at level warn and above (it runs with --log-level warn). */
  warnings: () => number;
  stop(): Promise<void>;
}

/**
 * Starts the orchestrator (`node --import tsx src/main.ts`, or `node dist/src/main.js` with
 * `entry: 'built'`) with the given flags in `cwd`, its output to `logFile`. The pid is that of the
 * node process running main itself (tsx is loaded in-process by --import), checked against
 * /proc/<pid>/cmdline.
 */
export function startOrchestratorProcess(opts: {
  cwd: string;
  args: string[];
  logFile: string;
  /** Extra flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Default `source`. */
  entry?: OrchestratorEntry;
  /** Called with each chunk of its output (stdout and stderr), as it comes. */
  onOutput?: (chunk: string) => void;
}): OrchestratorProcess {
  const entryArgs = orchestratorEntryArgs(opts.entry ?? 'source');
  const out = createWriteStream(opts.logFile);
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      ...entryArgs,
      // No fixed metrics ports unless the bench asks for them (other orchestrators may run here).
      '--metrics-port',
      '0',
      '--temporal-metrics-port',
      '0',
      ...opts.args,
    ],
    {
      cwd: opts.cwd,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (!child.pid) throw new Error('could not start the orchestrator process');
  let warnings = 0;
  const count = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) warnings++;
    opts.onOutput?.(text);
  };
  child.stdout!.on('data', (c: Buffer) => {
    count(c);
    out.write(c);
  });
  child.stderr!.on('data', (c: Buffer) => {
    count(c);
    out.write(c);
  });
  const proc: OrchestratorProcess = {
    child,
    pid: child.pid,
    logFile: opts.logFile,
    warnings: () => warnings,
    async stop() {
      if (!proc.exited) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      out.end();
    },
  };
  child.on('exit', (code, signal) => (proc.exited = { code, signal }));
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  if (!cmdline.includes(entryArgs.at(-1)!))
    throw new Error(`pid ${child.pid} is not the orchestrator (cmdline ${cmdline.join(' ')})`);
  return proc;
}
