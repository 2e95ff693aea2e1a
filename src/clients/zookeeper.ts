/**
 * A connected ZooKeeper client (the `zookeeper` npm package's promise API), with digest auth
 * added before it is handed out. The ZooKeeper plugin and the smoke tests share this.
 */
import { createRequire } from 'node:module';
import type ZooKeeperType from 'zookeeper';

// The package is CommonJS with `export =` typings; createRequire keeps its native addon loading intact.
const require = createRequire(import.meta.url);
const ZooKeeper = require('zookeeper') as typeof ZooKeeperType;

/** A client from {@link connectZooKeeper}. */
export type ZkClient = InstanceType<typeof ZooKeeperType>;

/** ZooKeeper's numeric constants (ZNONODE, ZOO_PERM_ALL, …). */
export const zkConstants = ZooKeeper.constants as unknown as Record<string, number>;

/** Options of {@link connectZooKeeper}. */
export interface ZkConnectOptions {
  /** host:port entries, joined into the connect string. */
  servers: string[];
  /** Digest credentials, added to the session before it is returned. */
  auth?: { user: string; password: string };
  timeoutMs?: number;
}

/** Connects, waits for the session, and adds digest auth when given. Rejects on timeout. */
export async function connectZooKeeper(opts: ZkConnectOptions): Promise<ZkClient> {
  const timeout = opts.timeoutMs ?? 10_000;
  const client = new ZooKeeper({
    connect: opts.servers.join(','),
    timeout,
    debug_level: zkConstants.ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
    // Data comes back as Buffers (binary safe), never decoded as text.
    data_as_buffer: true,
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
