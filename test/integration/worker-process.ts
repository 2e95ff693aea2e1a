/**
 * The orchestrator as a child process, watching only a test's namespace, so that a test can kill
 * it with -9 as a crash would. It runs from source (`node --import tsx src/main.ts`, as `npm start`
 * runs it) by default, or built (`node dist/src/main.js`, the image's entry) with `entry: 'built'`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { INSTALL_NAMESPACE } from './rbac.js';
import { orchestratorEntryArgs, type OrchestratorEntry } from '../bench/proc.js';
import { stackEnv } from './stack-env.js';

/**
 * Leader election as the tests run it: client-go's ratios, shorter, so that a process started after
 * a kill -9 leads within seconds instead of the default 15.
 */
export const TEST_LEASE_ARGS = [
  '--leader-election-lease-duration',
  '6s',
  '--leader-election-renew-deadline',
  '4s',
  '--leader-election-retry-period',
  '1s',
];

/** One orchestrator process at a time, on one task queue, logging to one file. */
export class WorkerProcess {
  private child?: ChildProcess;

  constructor(
    private readonly opts: {
      taskQueue: string;
      namespace: string;
      logFile: string;
      /** The management cluster's kubeconfig; default the stack's admin one. */
      kubeconfig?: () => string;
      /** More command-line options (they come last, so they override the ones above). */
      args?: string[];
      /** Default `source`; `built` needs `npm run build` first (buildDist). */
      entry?: OrchestratorEntry;
    },
  ) {}

  /** Starts the orchestrator (its output is appended to the log file). */
  start(): void {
    const env = stackEnv();
    const fd = openSync(this.opts.logFile, 'a');
    const entry = this.opts.entry ?? 'source';
    this.child = spawn(
      process.execPath,
      [
        ...orchestratorEntryArgs(entry),
        '--temporal-address',
        env.TEMPORAL_ADDRESS,
        '--kubeconfig',
        this.opts.kubeconfig?.() ?? env.MANAGEMENT_KUBECONFIG,
        '--task-queue',
        this.opts.taskQueue,
        '--namespaces',
        this.opts.namespace,
        '--log-level',
        'info',
        // Several orchestrators run on one machine (tests in parallel): no fixed metrics ports.
        '--metrics-port',
        '0',
        '--temporal-metrics-port',
        '0',
        // The Lease: where the install's ServiceAccount may write it (rbac.yaml's Role) when the
        // process runs as that account, else the test's own namespace.
        '--leader-election-namespace',
        this.opts.kubeconfig ? INSTALL_NAMESPACE : this.opts.namespace,
        ...TEST_LEASE_ARGS,
        ...(this.opts.args ?? []),
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
  }

  /** The process id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves with the exit code (or signal) once the process exits; undefined if none runs. */
  exited(): Promise<number | string | null> | undefined {
    const w = this.child;
    if (!w) return undefined;
    if (w.exitCode !== null || w.signalCode !== null) return Promise.resolve(w.exitCode ?? w.signalCode);
    return new Promise((r) => w.once('exit', (code, signal) => r(code ?? signal)));
  }

  /** Whether a process was started and has not been stopped. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops it with `signal` (SIGKILL after 20 s if it does not exit). */
  async stop(signal: NodeJS.Signals): Promise<void> {
    const w = this.child;
    this.child = undefined;
    if (!w || w.exitCode !== null) return;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
    clearTimeout(timer);
    if (w.exitCode === null) w.kill('SIGKILL');
  }
}
