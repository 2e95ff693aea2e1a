/**
 * `npm run stack` itself, on a second stack in a folder of its own (STACK_DIR), so the shared
 * stack of the other tests is not disturbed: up, status, restart, stop/start, crash clean-up and
 * down, and the one-line errors for a port in use, a server that does not come up and a missing
 * prerequisite, none of which may leave a process behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPONENTS } from '../../tools/stack/stack.js';

/** One process per component of the stack. */
const ALL = COMPONENTS.length;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'tools/stack/cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Pids of live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (cmdline.includes(text) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function statusRows(stdout: string): Record<string, string> {
  const rows: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const [component, state] = line.trim().split(/\s+/);
    if (state && ['up', 'down', 'unhealthy'].includes(state)) rows[component] = state;
  }
  return rows;
}

describe('npm run stack, on a stack of its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-cli-'));
  const env = { STACK_DIR: dir };
  afterAll(() => {
    cli(['down'], env);
  });

  it('goes up, reports status, restarts and stops components, cleans a crashed stack and goes down', () => {
    const upRes = cli(['up'], env);
    expect(upRes.stderr).toContain('stack: up in');
    expect(upRes.code).toBe(0);
    const envFile = readFileSync(join(dir, 'env'), 'utf8');
    for (const key of [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_UI_URL',
      'MANAGEMENT_KUBECONFIG',
      'SOURCE_KUBECONFIG',
      'DESTINATION_KUBECONFIG',
      'SOURCE_V129_KUBECONFIG',
      'S3_ENDPOINT',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
      'S3_BUCKET',
      'ZK_SOURCE',
      'ZK_DESTINATION',
      'PROMETHEUS_URL',
      'PROMETHEUS_TARGETS_DIR',
    ]) {
      expect(envFile).toMatch(new RegExp(`^${key}=\\S+$`, 'm'));
    }
    expect(processesMentioning(dir)).toHaveLength(ALL);
    expect(upRes.stdout).toMatch(/^Prometheus: +http:\/\/127\.0\.0\.1:\d+ /m);

    let status = cli(['status'], env);
    expect(status.code).toBe(0);
    expect(Object.values(statusRows(status.stdout))).toEqual(Array(ALL).fill('up'));

    const zkBefore = envFile.match(/^ZK_SOURCE=(.*)$/m)?.[1];
    expect(cli(['restart', 'zk-source'], env).code).toBe(0);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toContain(`ZK_SOURCE=${zkBefore}`);

    expect(cli(['stop', 'source'], env).code).toBe(0);
    status = cli(['status'], env);
    expect(status.code).toBe(3);
    expect(statusRows(status.stdout).source).toBe('down');
    expect(cli(['start', 'source'], env).code).toBe(0);
    expect(statusRows(cli(['status'], env).stdout).source).toBe('up');

    // A second `up` reuses the healthy stack: same processes, none doubled.
    const before = processesMentioning(dir).sort();
    expect(cli(['up'], env).stderr).toContain('reusing the running stack');
    expect(processesMentioning(dir).sort()).toEqual(before);

    // A stack started before Prometheus was added (no ports for it in its state): `up` starts
    // Prometheus beside it and leaves every running server alone.
    expect(cli(['stop', 'prometheus'], env).code).toBe(0);
    const older = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    delete older.ports.prometheus;
    writeFileSync(join(dir, 'state.json'), JSON.stringify(older));
    const withoutPrometheus = processesMentioning(dir).sort();
    expect(withoutPrometheus).toHaveLength(ALL - 1);
    expect(statusRows(cli(['status'], env).stdout).prometheus).toBe('down');
    const added = cli(['up'], env);
    expect(added.stderr).toContain('stack: adding prometheus to the running stack');
    expect(added.code).toBe(0);
    expect(processesMentioning(dir).filter((p) => withoutPrometheus.includes(p))).toEqual(withoutPrometheus);
    expect(processesMentioning(dir)).toHaveLength(ALL);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toMatch(/^PROMETHEUS_URL=http:\/\/127\.0\.0\.1:\d+$/m);

    // A crash (kill -9 of one server) leaves a partial stack: `up` cleans it and starts afresh.
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    const killed = state.components['zk-destination'].pid as number;
    process.kill(killed, 'SIGKILL');
    // SIGKILL is delivered asynchronously: wait until the process is gone before counting.
    for (let i = 0; i < 100 && processesMentioning(dir).includes(killed); i++)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    // With STACK_NO_CLEAN=1 (a stack others use), `up` fails and stops nothing.
    const survivors = processesMentioning(dir).sort();
    const refused = cli(['up'], { ...env, STACK_NO_CLEAN: '1' });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n').pop()).toBe(
      `error: the stack in ${dir} is only partly up (down: zk-destination) and STACK_NO_CLEAN=1 forbids stopping it to start clean: try again once it is up`,
    );
    expect(processesMentioning(dir).sort()).toEqual(survivors);
    const again = cli(['up'], env);
    expect(again.stderr).toContain(
      `cleaning a stack left over by an earlier run (${ALL - 1} of ${ALL} processes alive)`,
    );
    expect(again.code).toBe(0);
    expect(processesMentioning(dir)).toHaveLength(ALL);

    expect(cli(['down'], env).code).toBe(0);
    expect(processesMentioning(dir)).toEqual([]);
  }, 300_000);
});

describe('stack errors are one line and leave no process behind', () => {
  let blocker: Server;
  let blockedPort = 0;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    blockedPort = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

  it('names the port in use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-port-'));
    const res = cli(['up'], { STACK_DIR: dir, STACK_PORT_TEMPORAL_GRPC: String(blockedPort) });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').pop()).toBe(
      `error: cannot start temporal: port ${blockedPort} (STACK_PORT_TEMPORAL_GRPC) on 127.0.0.1 is in use by another process`,
    );
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('names the server that does not come up and its log, and stops the others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-broken-'));
    // etcd cannot use a data directory that is a file: it exits at once.
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'etcd'), 'not a directory');
    const res = cli(['up'], { STACK_DIR: dir });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').pop()).toBe(
      `error: etcd exited during start-up (exit code 1) (log: ${join(dir, 'logs', 'etcd.log')})`,
    );
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('names a missing prerequisite', () => {
    const cache = mkdtempSync(join(tmpdir(), 'stack-cache-'));
    const res = cli(['tools'], { XDG_CACHE_HOME: cache, PATH: '/usr/bin:/bin' });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').pop()).toBe(
      "error: missing prerequisite 'go', needed to install temporal 1.5.1: install it (see README, Prerequisites) or put it on PATH",
    );
  });
});
