/**
 * The orchestrator as the image runs it (`node --import tsx src/main.ts`) in a child process, for
 * tests of its start-up: flags and variables in, a log file or an exit code and one error line out.
 * The child sees this process's environment without any TEMPORAL_* variable, plus what a test adds.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { stackEnv, uniqueName } from './stack-env.js';

/** The environment of a child orchestrator: this one without any Temporal setting, plus `extra`. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))),
    ...extra,
  };
}

/** The flags every child orchestrator gets besides the Temporal ones: the stack's management cluster, a bridge with nothing to watch, no fixed ports. */
export function baseArgs(taskQueue: string): string[] {
  return [
    '--kubeconfig',
    stackEnv().MANAGEMENT_KUBECONFIG,
    '--task-queue',
    taskQueue,
    '--namespaces',
    uniqueName('nobody'), // a namespace nobody creates: the bridge has nothing to do
    '--metrics-port',
    '0',
    '--temporal-metrics-port',
    '0',
    '--log-level',
    'info',
  ];
}

/** Runs `src/main.ts` until it exits; for start-ups that must fail. */
export async function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The `error: ...` line a failed start-up prints (without Node's own warnings). */
export function errorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(lines).toHaveLength(1);
  return lines[0];
}

/** Starts the orchestrator and waits for its `orchestrator running` line; its output goes to `logFile`. */
export async function startOrchestratorProcess(
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ stop(): Promise<void>; log(): string }> {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: childEnv(env),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (c) => {
      exitCode = c;
      r();
    }),
  );
  const log = () => readFileSync(logFile, 'utf8');
  const stop = async () => {
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000).unref())]);
    if (exitCode === undefined) child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 120_000;
  while (!log().includes('"msg":"orchestrator running"')) {
    if (exitCode !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`the orchestrator did not start (exit ${exitCode}):\n${log().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { stop, log };
}
