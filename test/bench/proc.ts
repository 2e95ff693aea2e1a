/**
 * The orchestrator under test runs in its own process (`node --import tsx src/main.ts`, the
 * image's entry), so its memory and CPU are measured apart from the benchmark's: RSS and peak RSS
 * from /proc/<pid>/status, CPU time from /proc/<pid>/stat.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';

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
 * Starts `node --import tsx src/main.ts` with the given flags in `cwd`, its output to `logFile`.
 * The pid is that of the node process running main.ts itself (tsx is loaded in-process by
 * --import), checked against /proc/<pid>/cmdline.
 */
export function startOrchestratorProcess(opts: {
  cwd: string;
  args: string[];
  logFile: string;
  /** Extra flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[];
}): OrchestratorProcess {
  const out = createWriteStream(opts.logFile);
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      '--import',
      'tsx',
      'src/main.ts',
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
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) warnings++;
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
  if (!cmdline.includes('src/main.ts'))
    throw new Error(`pid ${child.pid} is not the orchestrator (cmdline ${cmdline.join(' ')})`);
  return proc;
}
