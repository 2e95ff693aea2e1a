/**
 * Child-process helpers for the tool installer and the stack launcher: run a command to
 * completion with its output in a log file, find commands on PATH, and tell whether a pid lives.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { StackError } from './errors.js';

/** Options of {@link runLogged}. */
export interface RunLoggedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Appended to; created with its folder when missing. */
  logFile: string;
  /** What is being done, for progress lines and the error message ("building etcd 3.6.4"). */
  what: string;
  /** Print a "still …" line this often; 0 disables. */
  progressEveryMs?: number;
  print?: (line: string) => void;
}

/**
 * Runs `cmd args` to completion with stdout and stderr appended to `logFile`, printing a progress
 * line now and then. Rejects with a {@link StackError} naming `what` and the log file.
 */
export function runLogged(cmd: string, args: string[], opts: RunLoggedOptions): Promise<void> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  const print = opts.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
    const every = opts.progressEveryMs ?? 30_000;
    const timer =
      every > 0
        ? setInterval(() => print(`  … still ${opts.what} (${formatDuration(Date.now() - started)})`), every)
        : undefined;
    const finish = (err?: Error) => {
      if (timer) clearInterval(timer);
      closeSync(fd);
      if (err) reject(err);
      else resolvePromise();
    };
    child.on('error', (err) => finish(new StackError(`${opts.what} failed: ${err.message}`, opts.logFile)));
    child.on('exit', (code, signal) => {
      if (code === 0) finish();
      else
        finish(
          new StackError(
            `${opts.what} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`,
            opts.logFile,
          ),
        );
    });
  });
}

/** The absolute path of `name` on PATH, or undefined. */
export function which(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a command synchronously and returns its stdout+stderr, or undefined if it could not run. */
export function captureOutput(cmd: string, args: string[], timeoutMs = 20_000): string | undefined {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (res.error || res.status !== 0) return undefined;
  return `${res.stdout ?? ''}${res.stderr ?? ''}`;
}

/**
 * Whether a process with this pid exists and has not exited. A zombie (exited, not yet reaped by
 * its parent) counts as gone, since signal 0 still succeeds on it: a server restarted by
 * `control()` inside the jest process is jest's child, and jest cannot reap it while its global
 * teardown blocks in `spawnSync(... 'down')`, which waited forever for that pid before.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Whether /proc says this pid has exited and waits to be reaped (state Z or X). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false; // no /proc (not Linux), or gone between the two checks
  }
}

/** The command line of a live pid (Linux /proc), or undefined. */
export function pidCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** "1m05s" style duration for progress lines. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * Runs `fn` while holding an exclusive lock directory (mkdir is atomic). Waits for a live holder,
 * breaks the lock of a dead one, so that two installers or two `stack up` never race.
 */
export async function withLockDir<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the lock is being created or removed right now
      }
      if (Number.isFinite(holder) && holder > 0 && !pidAlive(holder)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
