/**
 * Helpers of the ZooKeeper copy, backup and restore tests and benchmark: build a tree of znodes
 * (pipelined), read a tree back as a comparable map, delete a tree, and a PluginRun harness around
 * real servers (the stack's ZooKeeper servers and its MinIO).
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { KubeConfig } from '@kubernetes/client-node';
import { S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { connectZooKeeper, zkConstants } from '../../src/clients/zookeeper.js';
import type { ResourceRef } from '../../src/api/kinds.js';
import type { AssetLoader, Loaded, LoadedBucket, LoadedDatabase } from '../../src/assets/load.js';
import type { PluginRun } from '../../src/plugins/types.js';
import type { ZookeeperToZookeeperConfig } from '../../src/plugins/zookeeper-to-zookeeper-nodes/index.js';
import {
  childPath,
  isExcluded,
  Perm,
  type AclEntry,
} from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';
import { digestId } from '../../src/plugins/zookeeper-to-zookeeper-nodes/engine.js';
import { stackEnv } from './stack-env.js';
import {
  isEphemeral,
  ZkError,
  ZkSession,
  Rc,
} from '../../src/plugins/zookeeper-to-zookeeper-nodes/session.js';

export const ADMIN = { user: 'admin', password: 'password' };
/** Everything for admin, nothing for anyone else. */
export const ADMIN_ACL: AclEntry[] = [
  { perms: Perm.ALL, scheme: 'digest', auth: digestId(ADMIN.user, ADMIN.password) },
];
/** Readable by anyone, everything else only for admin: a restrictive ACL a writer must not lock itself out with. */
export const READ_ONLY_ACL: AclEntry[] = [
  { perms: Perm.READ, scheme: 'world', auth: 'anyone' },
  { perms: Perm.READ | Perm.ADMIN, scheme: 'digest', auth: digestId(ADMIN.user, ADMIN.password) },
];

/** A pipelined session for test set-up (64 requests in flight). */
export async function openSession(
  servers: string[],
  auth: { user: string; password: string } | undefined = ADMIN,
  maxInFlight = 64,
): Promise<ZkSession> {
  const client = await connectZooKeeper({ servers, auth });
  const { signal } = new AbortController();
  setMaxListeners(0, signal);
  return new ZkSession(client, { maxInFlight, signal, retryDelayMs: 200 });
}

/** One znode to create. */
export interface NodeSpec {
  path: string;
  data: Buffer;
  /** Set after create (and after the children, see {@link buildTree}). */
  acl?: AclEntry[];
  /** Created with the SEQUENCE flag: `path` is the prefix. */
  sequential?: boolean;
}

/**
 * Creates nodes level by level (parents first), `maxInFlight` at a time; then sets ACLs deepest
 * first, so a restrictive ACL never blocks a child's create.
 */
export async function buildTree(session: ZkSession, nodes: NodeSpec[]): Promise<string[]> {
  const depth = (p: string) => p.split('/').length;
  const levels = new Map<number, NodeSpec[]>();
  for (const n of nodes) levels.set(depth(n.path), [...(levels.get(depth(n.path)) ?? []), n]);
  const created: string[] = [];
  for (const d of [...levels.keys()].sort((a, b) => a - b)) {
    const level = levels.get(d)!;
    // Sequential children one after another, so their numbers follow the order given.
    for (const n of level.filter((x) => x.sequential)) {
      const path = await session.create(n.path, n.data, zkConstants.ZOO_SEQUENCE);
      created.push(path);
      n.path = path;
    }
    const plain = level.filter((x) => !x.sequential);
    created.push(...(await Promise.all(plain.map((n) => session.create(n.path, n.data)))));
  }
  const withAcl = nodes.filter((n) => n.acl).sort((a, b) => depth(b.path) - depth(a.path));
  for (const n of withAcl) await session.setAcl(n.path, n.acl!);
  return created;
}

/** A tree of ~3,100 znodes under `root`: 10 × 10 × 30, data of mixed `sizes`, binary. */
export function bulkTree(root: string, sizes = [0, 16, 200, 1024, 4096, 20_000]): NodeSpec[] {
  const nodes: NodeSpec[] = [{ path: root, data: Buffer.from('root') }];
  for (let a = 0; a < 10; a++) {
    nodes.push({ path: `${root}/a${a}`, data: payload(sizes[a % sizes.length], a) });
    for (let b = 0; b < 10; b++) {
      nodes.push({ path: `${root}/a${a}/b${b}`, data: payload(sizes[b % sizes.length], a * 10 + b) });
      for (let c = 0; c < 30; c++)
        nodes.push({
          path: `${root}/a${a}/b${b}/c${c}`,
          data: payload(sizes[(a + b + c) % sizes.length], a * 1000 + b * 30 + c),
        });
    }
  }
  return nodes;
}

/**
 * The znodes every tree test wants next to a {@link bulkTree}: `big` (`bigBytes` of binary data),
 * `secure` (admin only), `readonly` (restrictive, with children), `skip` (for an exclusion), and the
 * empty parents `seq` and `eph` for sequential and ephemeral children.
 */
export function specialNodes(root: string, bigBytes: number): NodeSpec[] {
  return [
    { path: `${root}/big`, data: payload(bigBytes, 7) },
    { path: `${root}/secure`, data: Buffer.from('secret'), acl: ADMIN_ACL },
    { path: `${root}/secure/inner`, data: Buffer.from('inner'), acl: ADMIN_ACL },
    { path: `${root}/readonly`, data: Buffer.from('ro'), acl: READ_ONLY_ACL },
    { path: `${root}/readonly/child`, data: Buffer.from('child'), acl: READ_ONLY_ACL },
    { path: `${root}/readonly/child/leaf`, data: Buffer.from('leaf') },
    { path: `${root}/skip`, data: Buffer.from('excluded') },
    { path: `${root}/skip/deep`, data: Buffer.from('excluded too') },
    { path: `${root}/seq`, data: Buffer.alloc(0) },
    { path: `${root}/eph`, data: Buffer.alloc(0) },
  ];
}

/** What the comparison sees of a znode. */
export interface NodeView {
  sha: string;
  size: number;
  acl: string;
  ephemeral: boolean;
}

/**
 * Reads the tree under `root` into a map keyed by the path relative to `root`, skipping excluded
 * paths (and `/zookeeper`).
 */
export async function readTree(
  session: ZkSession,
  root: string,
  exclude?: RegExp,
): Promise<Map<string, NodeView>> {
  const out = new Map<string, NodeView>();
  const visit = async (path: string): Promise<void> => {
    // get_acl only after a successful get (see ZkSession.getAcl).
    const { stat, data } = await session.get(path);
    const { acl } = await session.getAcl(path);
    out.set(path.slice(root.length) || '/', {
      sha: createHash('sha1').update(data).digest('hex'),
      size: data.length,
      acl: acl
        .map((e) => `${e.scheme}:${e.auth}:${e.perms}`)
        .sort()
        .join(','),
      ephemeral: isEphemeral(stat),
    });
    const names = stat.numChildren > 0 ? await session.children(path) : [];
    await Promise.all(
      names.filter((n) => !isExcluded(childPath(path, n), exclude)).map((n) => visit(childPath(path, n))),
    );
  };
  await visit(root);
  return out;
}

/** Deletes `root` and its subtree (children first); a missing tree is fine. */
export async function deleteTree(session: ZkSession, root: string): Promise<void> {
  const names = await session.children(root).catch((err: unknown) => {
    if (err instanceof ZkError && err.rc === Rc.NONODE) return [];
    throw err;
  });
  await Promise.all(names.map((n) => deleteTree(session, childPath(root, n))));
  await session.delete(root);
}

/** Sets the open ACL on every node under `path`, so that a clean-up can delete them. */
export async function openUp(session: ZkSession, path: string): Promise<void> {
  await session.setAcl(path, [{ perms: Perm.ALL, scheme: 'world', auth: 'anyone' }]);
  const names = await session.children(path);
  await Promise.all(names.map((n) => openUp(session, childPath(path, n))));
}

/** The Databases a test run can name: `src`, `dst`, or others given. */
export type TestDatabases = Record<string, Loaded<LoadedDatabase>>;

/** What a test harness run records. */
export interface RunRecord {
  heartbeats: unknown[];
  progress: Record<string, number>[];
  /** Every `run.report(...)`, in order. */
  reports: unknown[];
}

/**
 * A PluginRun around real servers: `assets.database()` answers from `databases` (the stack's
 * servers and credentials), `assets.bucket()` from `buckets` (see {@link stackBucket}),
 * `assets.getResource()` from `resources` (keyed `Kind/name`); heartbeats, progress and reports
 * are recorded.
 */
export function makeRun<C = ZookeeperToZookeeperConfig>(opts: {
  config: C;
  databases: TestDatabases;
  buckets?: Record<string, Loaded<LoadedBucket>>;
  resources?: Record<string, unknown>;
  ref?: Partial<ResourceRef>;
  checkpoint?: unknown;
  signal?: AbortSignal;
  onHeartbeat?: (details: unknown) => void;
  onProgress?: (counts: Record<string, number>) => void;
}): { run: PluginRun<C>; record: RunRecord } {
  const record: RunRecord = { heartbeats: [], progress: [], reports: [] };
  const assets = {
    database: async (namespace: string, name: string): Promise<Loaded<LoadedDatabase>> =>
      opts.databases[name] ?? {
        ok: false,
        reason: 'NotFound',
        message: `Database ${namespace}/${name} not found`,
      },
    bucket: async (namespace: string, name: string): Promise<Loaded<LoadedBucket>> =>
      opts.buckets?.[name] ?? {
        ok: false,
        reason: 'NotFound',
        message: `Bucket ${namespace}/${name} not found`,
      },
    getResource: async (kind: string, _namespace: string, name: string): Promise<unknown> =>
      opts.resources?.[`${kind}/${name}`],
  } as unknown as AssetLoader;
  const run: PluginRun<C> = {
    ref: { kind: 'Synchronization', namespace: 'ns', name: 'zk-copy', uid: 'uid-1', ...opts.ref },
    config: opts.config,
    assets,
    home: new KubeConfig(), // the ZooKeeper plugins act on Databases and Buckets only
    log: pino({ level: process.env.ZK_TEST_LOG ?? 'silent' }),
    heartbeat: (details) => {
      record.heartbeats.push(details);
      opts.onHeartbeat?.(details);
    },
    checkpoint: opts.checkpoint,
    progress: (counts) => {
      record.progress.push(counts);
      opts.onProgress?.(counts);
    },
    report: (report) => record.reports.push(report),
    dryRun: false,
    signal: opts.signal ?? new AbortController().signal,
  };
  return { run, record };
}

/** A Bucket answer for the stack's MinIO bucket (a real S3 client with the stack's keys). */
export function stackBucket(): Loaded<LoadedBucket> {
  const env = stackEnv();
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  });
  return { ok: true, value: { client, name: env.S3_BUCKET, asset: { namespace: 'ns', name: 'backups' } } };
}

/** A Database answer for `servers` with `auth` (default admin/password). */
export function database(servers: string[], auth = ADMIN): Loaded<LoadedDatabase> {
  return { ok: true, value: { servers, auth } };
}

/** Deterministic pseudo-random bytes (binary: every byte value occurs). */
export function payload(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
