/**
 * `zookeeper-nodes-to-bucket` and `bucket-to-zookeeper-nodes` against the stack's real ZooKeeper
 * servers and its real MinIO: the plugins' `execute` (or the engines with smaller chunks) is called
 * with a PluginRun whose assets answer with the real servers. Every test uses its own znode roots
 * and its own bucket prefix (basePath), so it can share the stack with other suites.
 */
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ApplicationFailure } from '@temporalio/common';
import type { LoadedBucket } from '../../src/assets/load.js';
import { BackupReader, listWithEtags } from '../../src/bucket/backup-store.js';
import { BACKUP_MANIFEST } from '../../src/bucket/layout.js';
import { validatePluginSpec } from '../../src/plugins/index.js';
import type { BackupReport } from '../../src/plugins/backup-common.js';
import {
  bucketToZookeeperNodes,
  type ZookeeperRestoreConfig,
} from '../../src/plugins/bucket-to-zookeeper-nodes/index.js';
import type { RestoreReport } from '../../src/plugins/bucket-to-zookeeper-nodes/restore.js';
import { backupZooKeeperTree } from '../../src/plugins/zookeeper-nodes-to-bucket/backup.js';
import { parseChunk } from '../../src/plugins/zookeeper-nodes-to-bucket/format.js';
import {
  zookeeperNodesToBucket,
  type ZookeeperBackupConfig,
} from '../../src/plugins/zookeeper-nodes-to-bucket/index.js';
import { connectZooKeeper, zkConstants, type ZkClient } from '../../src/clients/zookeeper.js';
import { sequenceNumber } from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';
import type { ZkSession } from '../../src/plugins/zookeeper-to-zookeeper-nodes/session.js';
import { stackEnv, uniqueName } from './stack-env.js';
import {
  ADMIN,
  ADMIN_ACL,
  buildTree,
  bulkTree,
  database,
  deleteTree,
  makeRun,
  openSession,
  openUp,
  payload,
  readTree,
  specialNodes,
  stackBucket,
  type NodeView,
  type TestDatabases,
} from './zk-tree.js';

const backupExecute = zookeeperNodesToBucket.execute!;
const restoreExecute = bucketToZookeeperNodes.execute!;
const EXCLUDE = '/skip($|/)';

let src: ZkSession;
let dst: ZkSession;
let databases: TestDatabases;
let bucket: LoadedBucket;
let s3: S3Client;
/** One basePath for the whole suite: every run of it lives under it. */
const basePath = `zk-backup-tests/${uniqueName('suite')}`;
const roots: { session: () => ZkSession; root: string }[] = [];
const clients: ZkClient[] = [];

beforeAll(async () => {
  const env = stackEnv();
  [src, dst] = await Promise.all([openSession([env.ZK_SOURCE]), openSession([env.ZK_DESTINATION])]);
  databases = { 'zk-src': database([env.ZK_SOURCE]), 'zk-dst': database([env.ZK_DESTINATION]) };
  const loaded = stackBucket();
  if (!loaded.ok) throw new Error(loaded.message);
  bucket = loaded.value;
  s3 = bucket.client;
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  for (const { session, root } of roots) {
    const s = session();
    if (!(await s.exists(root))) continue;
    await openUp(s, root).catch(() => undefined);
    await deleteTree(s, root);
  }
  src?.close();
  dst?.close();
  const keys = [...(await listWithEtags(s3, bucket.name, `${basePath}/`)).keys()];
  for (let i = 0; i < keys.length; i += 1000)
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket.name,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) },
      }),
    );
  s3?.destroy();
});

function newRoot(prefix: string, on: 'src' | 'dst'): string {
  const root = `/${uniqueName(prefix)}`;
  roots.push({ session: () => (on === 'src' ? src : dst), root });
  return root;
}

const buckets = () => ({ backups: { ok: true as const, value: bucket } });

function backupRun(
  root: string,
  name: string,
  extra: {
    checkpoint?: unknown;
    signal?: AbortSignal;
    onProgress?: (c: Record<string, number>) => void;
  } = {},
) {
  return makeRun<ZookeeperBackupConfig>({
    config: {
      source: { database: { name: 'zk-src' } },
      destination: { bucket: { name: 'backups', basePath } },
      rootPath: root,
      excludePathRegexp: EXCLUDE,
    },
    databases,
    buckets: buckets(),
    ref: { kind: 'Backup', name },
    ...extra,
  });
}

function restoreRun(config: ZookeeperRestoreConfig, resources: Record<string, unknown> = {}) {
  return makeRun<ZookeeperRestoreConfig>({
    config,
    databases,
    buckets: buckets(),
    resources,
    ref: { kind: 'Synchronization', name: uniqueName('restore') },
  });
}

/** The run prefix a Backup's report names (the manifest key without manifest.json). */
function prefixOf(report: BackupReport): string {
  return report.manifest.key.slice(0, -BACKUP_MANIFEST.length);
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

/** The tree with every node as persistent (what a restore gives). */
const asRestored = (tree: Map<string, NodeView>) =>
  new Map([...tree].map(([path, node]) => [path, { ...node, ephemeral: false }]));

describe('backup and restore of a tree of several thousand znodes', () => {
  let root: string;
  let before: Map<string, NodeView>;
  let total: number;
  let seqCversion: number;
  /** The Backup's status.report after the first backup. */
  let report: BackupReport;
  const backupName = uniqueName('zk-nightly');
  let renamed: string;

  beforeAll(async () => {
    root = newRoot('zkbak', 'src');
    const nodes = [...bulkTree(root, [0, 16, 200, 1024, 4096]), ...specialNodes(root, 500_000)];
    for (let i = 0; i < 8; i++)
      nodes.push({ path: `${root}/seq/job-`, data: payload(i * 10, i), sequential: true });
    await buildTree(src, nodes);
    // The source's counter runs ahead of its children: the last ones are deleted (a consumed queue).
    const kids = (await src.children(`${root}/seq`)).sort();
    await Promise.all(kids.slice(-3).map((n) => src.delete(`${root}/seq/${n}`)));
    seqCversion = (await src.exists(`${root}/seq`))!.cversion;
    const owner = await connectZooKeeper({ servers: [stackEnv().ZK_SOURCE], auth: ADMIN });
    clients.push(owner);
    for (let i = 0; i < 3; i++)
      await owner.create(`${root}/eph/e${i}`, Buffer.from(`e${i}`), zkConstants.ZOO_EPHEMERAL);
    before = await readTree(src, root, new RegExp(EXCLUDE));
    total = before.size;
    expect(total).toBeGreaterThan(3000);
  }, 120_000);

  it('backs the tree up as checksummed chunks, parents before children, counted per node type', async () => {
    const { run, record } = backupRun(root, backupName);
    const outcome = await backupExecute(run);
    report = record.reports.at(-1) as BackupReport;
    expect(report).toMatchObject({ state: 'Complete', items: total, manifest: { bucket: 'backups' } });
    expect(report.manifest.key).toMatch(
      new RegExp(`^${basePath}/_backups/ns/${backupName}/\\d{8}T\\d{6}Z/manifest\\.json$`),
    );
    expect(outcome.progress).toMatchObject({ items: total, alreadyInBucket: 0 });
    expect(record.progress.at(-1)).toMatchObject({ znodes: total, failed: 0 });

    const reader = await BackupReader.open({ client: s3, bucket: bucket.name, prefix: prefixOf(report) });
    const m = reader.manifest;
    expect(m).toMatchObject({
      plugin: 'zookeeper-nodes-to-bucket',
      state: 'Complete',
      source: { kind: 'Database', name: 'zk-src', rootPath: root },
      counts: { persistent: { items: total - 3 }, ephemeral: { items: 3 } },
    });
    expect(m.entries.map((e) => e.path)).toEqual(
      ['000001', '000002', '000003', '000004', '000005'].map((n) => `znodes/${n}.ndjson`),
    );
    const seen = new Set<string>();
    for (const entry of m.entries) {
      const { nodes, problems } = parseChunk(await reader.read(entry));
      expect(problems).toEqual([]);
      expect(nodes).toHaveLength(entry.items);
      for (const n of nodes) {
        if (n.path !== root) expect(seen.has(n.path.slice(0, n.path.lastIndexOf('/')))).toBe(true);
        seen.add(n.path);
      }
    }
    expect(seen.size).toBe(total);
    expect(seen.has(`${root}/skip`)).toBe(false);
  });

  it('restores into the source after the tree is deleted: data, ACLs, types, and sequence counters', async () => {
    await openUp(src, root);
    clients.splice(0).forEach((c) => c.close()); // the ephemeral nodes go with their session
    await deleteTree(src, root);
    expect(await src.exists(root)).toBeUndefined();

    const { run, record } = restoreRun(
      { source: { backup: { name: backupName } }, destination: { database: { name: 'zk-src' } } },
      { [`Backup/${backupName}`]: { status: { phase: 'Completed', report } } },
    );
    const outcome = await restoreExecute(run);
    expect(outcome.progress).toMatchObject({
      created: total,
      skipped: 0,
      updated: 0,
      failed: 0,
      ephemeralAsPersistent: 3,
    });
    expect(record.reports.at(-1)).toMatchObject({
      rootPath: root,
      failedChunks: [],
      failures: [],
    } satisfies Partial<RestoreReport>);

    const after = await readTree(src, root);
    expect(after.size).toBe(total);
    const expected = asRestored(before);
    for (const [path, node] of after) expect({ path, ...node }).toEqual({ path, ...expected.get(path) });
    expect(before.get('/eph/e0')?.ephemeral).toBe(true);
    expect(after.get('/readonly/child')?.acl).toBe(before.get('/readonly/child')?.acl);
    expect(after.get('/big')?.size).toBe(500_000);

    // A new sequential child gets a number above every restored one and every one the source gave.
    const restoredSeq = (await src.children(`${root}/seq`)).map((n) => sequenceNumber(n)!);
    const made = await src.create(`${root}/seq/job-`, Buffer.alloc(0), zkConstants.ZOO_SEQUENCE);
    const n = sequenceNumber(made)!;
    expect(n).toBeGreaterThan(Math.max(...restoredSeq));
    expect(n).toBeGreaterThanOrEqual(seqCversion);
    await src.delete(made);
  });

  it('restores into the other Database under a renamed rootPath, from a bucket path', async () => {
    renamed = `${newRoot('zkrenamed', 'dst')}/nested/tree`;
    const { run } = restoreRun({
      source: { bucket: { name: 'backups', path: prefixOf(report) } },
      destination: { database: { name: 'zk-dst' } },
      rootPath: renamed,
    });
    const outcome = await restoreExecute(run);
    expect(outcome.progress).toMatchObject({ created: total, failed: 0 });
    const after = await readTree(dst, renamed);
    expect(after.size).toBe(total);
    const expected = asRestored(before);
    for (const [path, node] of after) expect({ path, ...node }).toEqual({ path, ...expected.get(path) });
  });

  it("existingResourcePolicy none leaves existing znodes alone; update makes them the backup's", async () => {
    await dst.set(`${renamed}/a1`, Buffer.from('changed on the destination'));
    await dst.setAcl(`${renamed}/a2`, ADMIN_ACL);
    await dst.delete(`${renamed}/a3/b3/c3`);
    const config: ZookeeperRestoreConfig = {
      source: { bucket: { name: 'backups', path: prefixOf(report) } },
      destination: { database: { name: 'zk-dst' } },
      rootPath: renamed,
    };
    const none = await restoreExecute(restoreRun({ ...config, existingResourcePolicy: 'none' }).run);
    expect(none.progress).toMatchObject({ created: 1, skipped: total - 1, updated: 0, failed: 0 });
    expect((await dst.get(`${renamed}/a1`)).data.toString()).toBe('changed on the destination');
    expect(await dst.exists(`${renamed}/a3/b3/c3`)).toBeDefined();

    const update = await restoreExecute(restoreRun({ ...config, existingResourcePolicy: 'update' }).run);
    expect(update.progress).toMatchObject({ created: 0, skipped: total - 2, updated: 2, failed: 0 });
    const after = await readTree(dst, renamed);
    expect(after.get('/a1')).toEqual(before.get('/a1'));
    expect(after.get('/a2')).toEqual(before.get('/a2'));
  });

  it('a corrupted chunk fails its znodes by name and checksum; the other chunks are restored', async () => {
    // A second backup with smaller chunks: chunk 2 holds only leaves.
    const { run, record } = backupRun(root, uniqueName('zk-small'));
    await backupZooKeeperTree(run, { chunk: { maxItems: 500, maxBytes: 4 * 1024 * 1024 } });
    const prefix = prefixOf(record.reports.at(-1) as BackupReport);
    const reader = await BackupReader.open({ client: s3, bucket: bucket.name, prefix });
    const [first, second, third] = reader.manifest.entries;
    const chunk = (
      await s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: `${prefix}${second.path}` }))
    ).Body!;
    const body = Buffer.from(await chunk.transformToByteArray());
    body[body.length - 10] ^= 0x01;
    await s3.send(new PutObjectCommand({ Bucket: bucket.name, Key: `${prefix}${second.path}`, Body: body }));

    const into = newRoot('zkcorrupt', 'dst');
    const restore = restoreRun({
      source: { bucket: { name: 'backups', path: prefix } },
      destination: { database: { name: 'zk-dst' } },
      rootPath: into,
    });
    const failure = await failureOf(restoreExecute(restore.run));
    expect(failure.type).toBe('RestoreIncomplete');
    expect(failure.message).toContain(
      `chunk znodes/000002.ndjson: ${prefix}znodes/000002.ndjson does not match its checksum`,
    );
    const last = restore.record.reports.at(-1) as RestoreReport;
    expect(last.counts).toMatchObject({ created: total - second.items, failed: second.items });
    expect(last.failedChunks).toEqual([
      { path: 'znodes/000002.ndjson', reason: expect.stringContaining('checksum') },
    ]);
    // The znodes of chunks 1 and 3 are there, those of chunk 2 are not.
    const rename = (p: string) => `${into}${p.slice(root.length)}`;
    const pick = async (e: typeof first) => parseChunk(await reader.read(e)).nodes.map((n) => rename(n.path));
    for (const p of (await pick(first)).slice(-5)) expect(await dst.exists(p)).toBeDefined();
    for (const p of (await pick(third)).slice(0, 5)) expect(await dst.exists(p)).toBeDefined();
    const missing = parseChunk(body.toString())
      .nodes.map((n) => rename(n.path))
      .slice(0, 5);
    for (const p of missing) expect(await dst.exists(p)).toBeUndefined();
  });

  it('a cancelled backup is Partial and refused by a restore; resumed from its checkpoint it skips what it wrote and completes', async () => {
    const name = uniqueName('zk-resumed');
    const controller = new AbortController();
    const first = backupRun(root, name, {
      signal: controller.signal,
      onProgress: (c) => c.chunks >= 2 && controller.abort(new Error('the Backup was deleted')),
    });
    await expect(
      backupZooKeeperTree(first.run, { chunk: { maxItems: 500, maxBytes: 4 * 1024 * 1024 } }),
    ).rejects.toThrow('the Backup was deleted');
    const partial = first.record.reports.at(-1) as BackupReport;
    expect(partial).toMatchObject({ state: 'Partial', reason: expect.stringContaining('cancelled') });

    const refused = await failureOf(
      restoreExecute(
        restoreRun({
          source: { bucket: { name: 'backups', path: prefixOf(partial) } },
          destination: { database: { name: 'zk-dst' } },
          rootPath: newRoot('zkrefused', 'dst'),
        }).run,
      ),
    );
    expect(refused.type).toBe('BackupIncomplete');
    expect(refused.message).toMatch(/^spec\.config\.source\.bucket: .* is partial \(cancelled/);

    const second = backupRun(root, name, { checkpoint: first.record.heartbeats[0] });
    const outcome = await backupZooKeeperTree(second.run, {
      chunk: { maxItems: 500, maxBytes: 4 * 1024 * 1024 },
    });
    expect(outcome.progress!.alreadyInBucket).toBeGreaterThanOrEqual(2);
    expect(outcome.progress!.items).toBe(total);
    const done = second.record.reports.at(-1) as BackupReport;
    expect(done).toMatchObject({ state: 'Complete', manifest: partial.manifest });
  });

  it('a missing rootPath fails with RootPathNotFound naming the field, and writes nothing', async () => {
    const { run, record } = backupRun(`${root}/no/such/path`, uniqueName('zk-missing'));
    const failure = await failureOf(backupExecute(run));
    expect(failure.type).toBe('RootPathNotFound');
    expect(failure.message).toBe(
      `spec.config.rootPath: ${root}/no/such/path does not exist on the source Database ns/zk-src`,
    );
    expect(record.reports).toEqual([]);
  });
});

describe('bad input', () => {
  it('a missing Database names the field, for the backup and for the restore', async () => {
    const backup = makeRun<ZookeeperBackupConfig>({
      config: {
        source: { database: { name: 'nope' } },
        destination: { bucket: { name: 'backups', basePath } },
      },
      databases,
      buckets: buckets(),
      ref: { kind: 'Backup', name: 'b' },
    });
    const f1 = await failureOf(backupExecute(backup.run));
    expect([f1.type, f1.message]).toEqual([
      'AssetNotReady',
      'spec.config.source.database.name: Database ns/nope not found',
    ]);

    const restore = restoreRun({
      source: { backup: { name: 'b' } },
      destination: { database: { name: 'nope' } },
    });
    const f2 = await failureOf(restoreExecute(restore.run));
    expect([f2.type, f2.message]).toEqual([
      'AssetNotReady',
      'spec.config.destination.database.name: Database ns/nope not found',
    ]);
  });

  it('a restore of a Backup that does not exist, or of a path with no backup', async () => {
    const f1 = await failureOf(
      restoreExecute(
        restoreRun({ source: { backup: { name: 'gone' } }, destination: { database: { name: 'zk-dst' } } })
          .run,
      ),
    );
    expect([f1.type, f1.message]).toEqual([
      'BackupNotFound',
      'spec.config.source.backup.name: Backup ns/gone not found',
    ]);
    const f2 = await failureOf(
      restoreExecute(
        restoreRun({
          source: { bucket: { name: 'backups', path: `${basePath}/nothing` } },
          destination: { database: { name: 'zk-dst' } },
        }).run,
      ),
    );
    expect(f2.type).toBe('BackupNotFound');
    expect(f2.message).toContain(
      `spec.config.source.bucket: no backup manifest at ${basePath}/nothing/manifest.json`,
    );
  });

  it.each([
    [
      'Backup',
      {
        plugin: 'zookeeper-nodes-to-bucket',
        config: {
          source: { database: { name: 'z' } },
          destination: { bucket: { name: 'b' } },
          excludePathRegexp: '[',
        },
      },
      'spec.config.excludePathRegexp: "[" is not a valid regular expression',
    ],
    [
      'Backup',
      {
        plugin: 'zookeeper-nodes-to-bucket',
        config: {
          source: { database: { name: 'z' } },
          destination: { bucket: { name: 'b' } },
          rootPath: 'app',
        },
      },
      'spec.config.rootPath: must match pattern "^/"',
    ],
    [
      'Synchronization',
      {
        plugin: 'bucket-to-zookeeper-nodes',
        config: { source: {}, destination: { database: { name: 'z' } } },
      },
      'spec.config.source: set one of backup (a Backup name) or bucket (a name and path)',
    ],
    [
      'Synchronization',
      {
        plugin: 'bucket-to-zookeeper-nodes',
        config: {
          source: { backup: { name: 'b' } },
          destination: { database: { name: 'z' } },
          existingResourcePolicy: 'overwrite',
        },
      },
      'spec.config.existingResourcePolicy: must be one of none, update',
    ],
  ] as const)('validation of a %s config: %#', (kind, spec, message) => {
    const result = validatePluginSpec(kind, spec);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.map((p) => `${p.path}: ${p.message}`)).toContainEqual(
      expect.stringContaining(message),
    );
  });
});
