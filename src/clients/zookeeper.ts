/**
 * A connected ZooKeeper client (the `zookeeper` npm package's promise API), with digest auth
 * added before it is handed out. The ZooKeeper plugin and the smoke tests share this.
 */
import { createRequire } from 'node:module';
import { connect as tcpConnect } from 'node:net';
import type ZooKeeperType from 'zookeeper';

// The package is CommonJS with `export =` typings; createRequire keeps its native addon loading intact.
const require = createRequire(import.meta.url);
const ZooKeeper = require('zookeeper') as typeof ZooKeeperType;

/** A client from {@link connectZooKeeper}. */
export type ZkClient = InstanceType<typeof ZooKeeperType>;

/** ZooKeeper's numeric constants (ZNONODE, ZOO_PERM_ALL, …). */
export const zkConstants = ZooKeeper.constants as unknown as Record<string, number>;

/** Socket wake-ups without a complete response before the addon gives up on the session. */
const RESPONSE_COUNTER_LIMIT = 100_000;

/** Options of {@link connectZooKeeper}. */
export interface ZkConnectOptions {
  /** host:port entries, joined into the connect string. */
  servers: string[];
  /** Digest credentials, added to the session before it is returned. */
  auth?: { user: string; password: string };
  timeoutMs?: number;
}

/** `host:port` of a connect-string entry (a chroot suffix dropped; `[v6]:port` understood). */
function hostPort(server: string): { host: string; port: number } {
  const entry = server.split('/')[0];
  const i = entry.lastIndexOf(':');
  const host = (i > 0 ? entry.slice(0, i) : entry).replace(/^\[(.*)\]$/, '$1');
  return { host, port: i > 0 ? Number(entry.slice(i + 1)) : 2181 };
}

/** Whether `server` accepts a TCP connection within `ms`; the error text when it does not. */
function tcpProbe(server: string, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect(hostPort(server));
    const done = (error: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done(`no answer within ${ms} ms`), ms);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err) => done(err.message));
  });
}

/**
 * Waits until one of `servers` accepts a TCP connection, retrying until `deadline`. The native
 * client is only created once one does: its reconnect loop against a dead address churns socket
 * descriptors, which the addon's poll handling does not survive (libuv aborts the process).
 */
async function waitReachable(servers: string[], deadline: number): Promise<void> {
  let last: string;
  for (;;) {
    const left = deadline - Date.now();
    const errors = await Promise.all(servers.map((s) => tcpProbe(s, Math.max(100, Math.min(2000, left)))));
    if (errors.some((e) => e === undefined)) return;
    last = errors.join('; ');
    if (Date.now() + 500 >= deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no ZooKeeper server of ${servers.join(',')} accepted a connection (${last})`);
}

/**
 * Connects, waits for the session, and adds digest auth when given. Rejects when no server
 * accepts a connection or no session comes within the timeout.
 */
export async function connectZooKeeper(opts: ZkConnectOptions): Promise<ZkClient> {
  const timeout = opts.timeoutMs ?? 10_000;
  await waitReachable(opts.servers, Date.now() + timeout);
  const client = new ZooKeeper({
    connect: opts.servers.join(','),
    timeout,
    debug_level: zkConstants.ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
    // Data comes back as Buffers (binary safe), never decoded as text.
    data_as_buffer: true,
    // The addon closes the session after this many socket wake-ups without a whole response
    // (default 10). A response near jute.maxbuffer (1 MiB) arrives in many chunks, so the default
    // drops the session (and with requests in flight the addon can crash): allow plenty.
    response_counter_limit: RESPONSE_COUNTER_LIMIT,
  });
  await new Promise<void>((resolveConnect, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`ZooKeeper ${opts.servers.join(',')}: no session within ${timeout} ms`));
    }, timeout);
    client.once('connect', () => {
      clearTimeout(timer);
      resolveConnect();
    });
    client.init({});
  });
  if (opts.auth) {
    const { user, password } = opts.auth;
    await new Promise<void>((resolveAuth, reject) =>
      // add_auth must get a callback even on the promise client, or the process aborts.
      client.add_auth('digest', `${user}:${password}`, (rc: number, error: unknown) =>
        rc === 0
          ? resolveAuth()
          : reject(new Error(`ZooKeeper digest auth failed: ${String(error)} (rc ${rc})`)),
      ),
    );
  }
  return client;
}

/** An ACL that gives every permission to the identities authenticated on the creating session. */
export function creatorAllAcl(): { perm: number; scheme: string; auth: string }[] {
  return [{ perm: zkConstants.ZOO_PERM_ALL, scheme: 'auth', auth: '' }];
}
