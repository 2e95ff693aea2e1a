/**
 * One ZooKeeper session of the copy: every request goes through a small semaphore (a bounded
 * number in flight, so requests are pipelined without flooding the server), is retried on a
 * connection loss, and fails with a {@link ZkError} carrying ZooKeeper's return code.
 */
import { zkConstants, type ZkClient } from '../../clients/zookeeper.js';
import type { AclEntry } from './logic.js';

const CONNECTED = zkConstants.ZOO_CONNECTED_STATE ?? 3;

/** Writes from this size on are retried alone after a connection loss. */
export const LARGE_REQUEST_BYTES = 64 * 1024;

/** ZooKeeper return codes the copy tells apart. */
export const Rc = {
  OK: 0,
  CONNECTIONLOSS: zkConstants.ZCONNECTIONLOSS ?? -4,
  OPERATIONTIMEOUT: zkConstants.ZOPERATIONTIMEOUT ?? -7,
  NONODE: zkConstants.ZNONODE ?? -101,
  NOAUTH: zkConstants.ZNOAUTH ?? -102,
  NODEEXISTS: zkConstants.ZNODEEXISTS ?? -110,
  NOTEMPTY: zkConstants.ZNOTEMPTY ?? -111,
  SESSIONEXPIRED: zkConstants.ZSESSIONEXPIRED ?? -112,
  INVALIDACL: zkConstants.ZINVALIDACL ?? -114,
  AUTHFAILED: zkConstants.ZAUTHFAILED ?? -115,
  CLOSING: zkConstants.ZCLOSING ?? -116,
} as const;

const RC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(zkConstants)
    .filter(([k, v]) => /^Z[A-Z]+$/.test(k) && typeof v === 'number' && v !== 0)
    .map(([k, v]) => [v, k.slice(1)]),
);

/** The name of a return code, e.g. `NOAUTH`. */
export function rcName(rc: number): string {
  return RC_NAMES[rc] ?? `rc ${rc}`;
}

/** A request ZooKeeper answered with a non-zero return code. */
export class ZkError extends Error {
  constructor(
    readonly rc: number,
    readonly op: string,
    readonly path: string,
  ) {
    super(`${op} ${path}: ${rcName(rc)}`);
    this.name = 'ZkError';
  }
}

/** The fields of a znode's stat the copy uses. */
export interface ZkStat {
  version: number;
  cversion: number;
  aversion: number;
  numChildren: number;
  dataLength: number;
  /** A session id as a decimal string; `'0'` for a persistent node. */
  ephemeralOwner: string;
  /** Creation and last modification time (the addon gives Dates). */
  ctime?: Date;
  mtime?: Date;
}

/** Whether `stat` is an ephemeral node's. */
export const isEphemeral = (stat: ZkStat): boolean => String(stat.ephemeralOwner) !== '0';

/**
 * A counting semaphore whose waiters are served first come, first served; a waiter may take
 * several slots (all of them: it runs alone). When `signal` aborts, every waiter is rejected with
 * its reason (one listener for the semaphore, not one per waiter: removing listeners from a
 * signal is linear in their number).
 */
export class Semaphore {
  private free: number;
  private readonly waiters: { n: number; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    readonly size: number,
    private readonly signal?: AbortSignal,
  ) {
    this.free = size;
    signal?.addEventListener(
      'abort',
      () => {
        for (const w of this.waiters.splice(0)) w.reject(signal.reason);
      },
      { once: true },
    );
  }

  /** Slots taken. */
  get inFlight(): number {
    return this.size - this.free;
  }

  /** Waits for `n` slots (default 1); rejects with the signal's reason once it aborts. */
  async acquire(n = 1): Promise<void> {
    this.signal?.throwIfAborted();
    const want = Math.min(n, this.size);
    if (this.waiters.length === 0 && this.free >= want) {
      this.free -= want;
      return;
    }
    await new Promise<void>((resolve, reject) => this.waiters.push({ n: want, resolve, reject }));
  }

  /** Frees `n` slots (default 1), handing them to the waiters at the head of the queue. */
  release(n = 1): void {
    this.free += Math.min(n, this.size);
    while (this.waiters.length > 0 && this.free >= this.waiters[0].n) {
      const next = this.waiters.shift()!;
      this.free -= next.n;
      next.resolve();
    }
  }
}

/** Options of {@link ZkSession}. */
export interface ZkSessionOptions {
  /** Requests in flight at most. */
  maxInFlight: number;
  /** Stops issuing requests (waiting ones reject with its reason). */
  signal: AbortSignal;
  /** Attempts of a request that loses its connection (default 3). */
  attempts?: number;
  /** Pause before retrying once the session is back after a connection loss (default 100 ms). */
  retryDelayMs?: number;
}

type Callback = (rc: number, error: unknown, ...result: unknown[]) => void;
type Native = Record<string, (...args: unknown[]) => unknown>;

/** A ZooKeeper session with a bounded number of requests in flight. */
export class ZkSession {
  private readonly sem: Semaphore;
  private readonly native: Native;

  constructor(
    readonly client: ZkClient,
    private readonly opts: ZkSessionOptions,
  ) {
    this.sem = new Semaphore(opts.maxInFlight, opts.signal);
    // The addon's own methods, not the package's `a_*` wrappers: those format every call's
    // arguments (data included) with util.inspect for a debug line even when nothing logs it,
    // which costs more CPU than the request. Data comes back as a Buffer either way.
    const { native } = client as unknown as { native?: Native };
    this.native = native && typeof native.a_get === 'function' ? native : (client as unknown as Native);
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.sem.inFlight;
  }

  /** Issues `method` (a callback `a_*` method) once; resolves with the callback's results. */
  private once(method: string, op: string, path: string, args: unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const cb: Callback = (rc, _error, ...result) =>
        rc === 0 ? resolve(result) : reject(new ZkError(rc, op, path));
      const res = this.native[method].call(this.native, ...args, cb);
      if (typeof res === 'number' && res < 0) reject(new ZkError(res, op, path));
    });
  }

  /**
   * One request through the semaphore, retried when the connection is lost (the client
   * reconnects the same session; every request of the copy is safe to repeat).
   */
  private async call(
    method: string,
    op: string,
    path: string,
    args: unknown[],
    bytes = 0,
  ): Promise<unknown[]> {
    const attempts = this.opts.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      // A big write that lost the connection may be what the server refused (it drops the
      // connection of a request above jute.maxbuffer): its retry runs alone, so that it cannot
      // take the other requests in flight down with it again.
      const slots = attempt > 1 && bytes >= LARGE_REQUEST_BYTES ? this.sem.size : 1;
      await this.sem.acquire(slots);
      try {
        return await this.once(method, op, path, args);
      } catch (err) {
        const rc = err instanceof ZkError ? err.rc : undefined;
        const transient = rc === Rc.CONNECTIONLOSS || rc === Rc.OPERATIONTIMEOUT;
        if (!transient || attempt >= attempts) throw err;
      } finally {
        this.sem.release(slots);
      }
      await this.reconnected();
    }
  }

  /**
   * Waits until the client has its session back (it reconnects by itself after a connection
   * loss), at most the session timeout; then a little more, so a retry does not race it.
   */
  private async reconnected(): Promise<void> {
    const deadline = Date.now() + Math.max(this.client.timeout || 0, 10_000);
    while (this.client.state !== CONNECTED && Date.now() < deadline)
      await abortableSleep(50, this.opts.signal);
    await abortableSleep(this.opts.retryDelayMs ?? 100, this.opts.signal);
  }

  /** Stat and data (a Buffer, empty for no data). */
  async get(path: string): Promise<{ stat: ZkStat; data: Buffer }> {
    const [stat, data] = await this.call('a_get', 'get', path, [path, false]);
    return { stat: stat as ZkStat, data: toBuffer(data) };
  }

  /**
   * The ACL and stat. Hazard of the `zookeeper` 7.3.0 addon: when get_acl fails (any error:
   * NONODE, NOAUTH, connection loss) its completion frees a NULL ACL vector and the process
   * crashes. Call it only right after a successful get of the same node on this session.
   */
  async getAcl(path: string): Promise<{ acl: AclEntry[]; stat: ZkStat }> {
    const [acl, stat] = await this.call('a_get_acl', 'get_acl', path, [path]);
    const entries = ((acl as AclEntry[] | undefined) ?? []).map((e) => ({
      perms: e.perms,
      scheme: e.scheme,
      auth: e.auth,
    }));
    return { acl: entries, stat: stat as ZkStat };
  }

  /** The names of the children. */
  async children(path: string): Promise<string[]> {
    const [children] = await this.call('a_get_children', 'get_children', path, [path, false]);
    return (children as string[] | undefined) ?? [];
  }

  /** The stat, or undefined when the node does not exist. */
  async exists(path: string): Promise<ZkStat | undefined> {
    try {
      const [stat] = await this.call('a_exists', 'exists', path, [path, false]);
      return stat as ZkStat;
    } catch (err) {
      if (err instanceof ZkError && err.rc === Rc.NONODE) return undefined;
      throw err;
    }
  }

  /** Creates a node (with the open ACL: the native create always sends it). */
  async create(path: string, data: Buffer, flags = zkConstants.ZOO_PERSISTENT): Promise<string> {
    const [created] = await this.call('a_create', 'create', path, [path, data, flags], data.length);
    return created as string;
  }

  /** Sets the data, whatever the version. */
  async set(path: string, data: Buffer): Promise<void> {
    await this.call('a_set', 'set', path, [path, data, -1], data.length);
  }

  /** Sets the ACL, whatever the version (the native set_acl reads `perm`, not `perms`). */
  async setAcl(path: string, acl: readonly AclEntry[]): Promise<void> {
    const native = acl.map((e) => ({ perm: e.perms, scheme: e.scheme, auth: e.auth }));
    await this.call('a_set_acl', 'set_acl', path, [path, -1, native]);
  }

  /** Deletes a node, whatever the version; a node already gone is fine. */
  async delete(path: string): Promise<void> {
    try {
      await this.call('a_delete_', 'delete', path, [path, -1]);
    } catch (err) {
      if (err instanceof ZkError && err.rc === Rc.NONODE) return;
      throw err;
    }
  }

  /** Closes the session. */
  /**
   * Waits (at most `ms`) for the requests in flight to answer: the addon can abort the process
   * when a session is closed under them.
   */
  async drain(ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    try {
      this.client.close();
    } catch {
      /* already closed */
    }
  }
}

function toBuffer(data: unknown): Buffer {
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(data)) return data;
  return Buffer.from(data as string);
}

/** Sleeps `ms`, or rejects at once with the signal's reason. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
