/**
 * `zookeeper-to-zookeeper-nodes` against the stack's two real ZooKeeper servers: the plugin's
 * `execute` (or the engine with tighter tunables) is called with a PluginRun built here, whose
 * `assets.database()` answers with the real servers and credentials. Each test has its own root.
 */
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import { connectZooKeeper, zkConstants, type ZkClient } from '../../src/clients/zookeeper.js';
import { validatePluginSpec } from '../../src/plugins/index.js';
import { copyZooKeeperTree } from '../../src/plugins/zookeeper-to-zookeeper-nodes/engine.js';
import { zookeeperToZookeeperNodes } from '../../src/plugins/zookeeper-to-zookeeper-nodes/index.js';
import {
  maxSequence,
  Perm,
  sequenceNumber,
  type CopyCheckpoint,
} from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';
import type { ZkSession } from '../../src/plugins/zookeeper-to-zookeeper-nodes/session.js';
import type { ZookeeperToZookeeperConfig } from '../../src/plugins/zookeeper-to-zookeeper-nodes/index.js';
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
  type TestDatabases,
} from './zk-tree.js';

const execute = zookeeperToZookeeperNodes.execute!;
let srcServers: string[];
let dstServers: string[];
let src: ZkSession;
let dst: ZkSession;
let databases: TestDatabases;
const roots: string[] = [];
const extraClients: ZkClient[] = [];

beforeAll(async () => {
  const env = stackEnv();
  srcServers = [env.ZK_SOURCE];
  dstServers = [env.ZK_DESTINATION];
  [src, dst] = await Promise.all([openSession(srcServers), openSession(dstServers)]);
  databases = { 'zk-src': database(srcServers), 'zk-dst': database(dstServers) };
});

afterAll(async () => {
  extraClients.forEach((c) => c.close());
  for (const root of roots) {
    // Deleting needs DELETE on parents: open up the read-only ACLs first.
    for (const s of [src, dst]) await openUp(s, root).catch(() => undefined);
    await Promise.all([deleteTree(src, root), deleteTree(dst, root)]);
  }
  src?.close();
  dst?.close();
});

function newRoot(prefix: string): string {
  const root = `/${uniqueName(prefix)}`;
  roots.push(root);
  return root;
}

const cfg = (root: string, extra: Partial<ZookeeperToZookeeperConfig> = {}): ZookeeperToZookeeperConfig => ({
  sourceName: 'zk-src',
  destinationName: 'zk-dst',
  rootPath: root,
  ...extra,
});

async function expectFailure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected the copy to fail');
}

describe('a tree of several thousand znodes', () => {
  const exclude = '/skip($|/)';
  let root: string;
  let ephemeralOwner: ZkClient;
  let total: number;

  beforeAll(async () => {
    root = newRoot('zkcopy');
    const nodes = [...bulkTree(root), ...specialNodes(root, 1_000_000)];
    for (let i = 0; i < 12; i++)
      nodes.push({ path: `${root}/seq/job-`, data: payload(i * 10, i), sequential: true });
    await buildTree(src, nodes);
    // Sequence numbers with gaps: delete a few, and push the counter past the last one.
    const seqKids = (await src.children(`${root}/seq`)).sort();
    await Promise.all(seqKids.slice(0, 3).map((n) => src.delete(`${root}/seq/${n}`)));
    for (let i = 0; i < 5; i++) {
      const p = await src.create(`${root}/seq/tmp`, Buffer.alloc(0));
      await src.delete(p);
    }
    await src.create(`${root}/seq/job-`, Buffer.from('last'), zkConstants.ZOO_SEQUENCE);
    // Ephemeral nodes live as long as this session.
    ephemeralOwner = await connectZooKeeper({ servers: srcServers, auth: ADMIN });
    extraClients.push(ephemeralOwner);
    for (let i = 0; i < 4; i++)
      await ephemeralOwner.create(`${root}/eph/e${i}`, Buffer.from(`e${i}`), zkConstants.ZOO_EPHEMERAL);
    total = (await readTree(src, root, new RegExp(exclude))).size;
    expect(total).toBeGreaterThan(3000);
  }, 300_000);

  it('copies data, ACLs and names byte for byte, honouring the exclusion', async () => {
    const { run, record } = makeRun({
      config: cfg(root, { createRootPath: true, excludePathRegexp: exclude }),
      databases,
    });
    const outcome = await execute(run);
    expect(outcome.progress).toMatchObject({
      read: total,
      written: total,
      skipped: 0,
      deleted: 0,
      failed: 0,
    });
    expect(outcome.progress!.bytes).toBeGreaterThan(1_000_000);
    expect(record.progress.length).toBeGreaterThan(0);

    const [a, b] = await Promise.all([readTree(src, root, new RegExp(exclude)), readTree(dst, root)]);
    expect(b.size).toBe(a.size);
    for (const [path, node] of a)
      expect({ path, ...b.get(path), ephemeral: node.ephemeral }).toEqual({ path, ...node });
    // Ephemeral nodes are copied as persistent ones; the excluded subtree is not copied.
    expect(a.get('/eph/e0')?.ephemeral).toBe(true);
    expect(b.get('/eph/e0')?.ephemeral).toBe(false);
    expect(b.has('/skip')).toBe(false);
    expect(b.get('/big')?.size).toBe(1_000_000);
    expect(b.get('/readonly/child')?.acl).toBe(a.get('/readonly/child')?.acl);
  });

  it('a second copy of the unchanged tree writes nothing', async () => {
    const { run } = makeRun({ config: cfg(root, { excludePathRegexp: exclude }), databases });
    const outcome = await execute(run);
    expect(outcome.progress).toMatchObject({
      read: total,
      written: 0,
      skipped: total,
      deleted: 0,
      failed: 0,
      bytes: 0,
    });
  });

  it('a sequential child created on the destination gets a number above every copied one', async () => {
    const copied = maxSequence(await dst.children(`${root}/seq`))!;
    expect(copied).toBeGreaterThan(10);
    const created = await dst.create(`${root}/seq/job-`, Buffer.alloc(0), zkConstants.ZOO_SEQUENCE);
    expect(sequenceNumber(created)).toBeGreaterThan(copied);
    await dst.delete(created);
  });

  it('deletes what the source no longer has, but leaves excluded destination paths alone', async () => {
    await deleteTree(src, `${root}/a3`); // a subtree of 311 nodes
    await src.delete(`${root}/a4/b4/c4`);
    await src.set(`${root}/a5/b5/c5`, Buffer.from('changed'));
    await dst.create(`${root}/skip`, Buffer.from('destination only, excluded'));
    await dst.create(`${root}/skip/keep`, Buffer.alloc(0));

    const { run } = makeRun({ config: cfg(root, { excludePathRegexp: exclude }), databases });
    const outcome = await execute(run);
    expect(outcome.progress).toMatchObject({ deleted: 312, written: 1, failed: 0 });
    const [a, b] = await Promise.all([
      readTree(src, root, new RegExp(exclude)),
      readTree(dst, root, new RegExp(exclude)),
    ]);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect(b.get('/a5/b5/c5')?.sha).toBe(a.get('/a5/b5/c5')?.sha);
    expect((await dst.exists(`${root}/skip/keep`)) !== undefined).toBe(true);
  });

  it('ignoreEphemeral leaves ephemeral nodes out (and removes earlier copies of them)', async () => {
    const { run } = makeRun({
      config: cfg(root, { excludePathRegexp: exclude, ignoreEphemeral: true }),
      databases,
    });
    const outcome = await execute(run);
    expect(outcome.progress).toMatchObject({ deleted: 4, failed: 0 });
    expect(await dst.children(`${root}/eph`)).toEqual([]);
  });
});

describe('crash-safety: resume from the last heartbeat', () => {
  it('an aborted copy resumes from its checkpoint, reads less than a full copy and converges', async () => {
    const root = newRoot('zkresume');
    await buildTree(src, bulkTree(root));
    const total = (await readTree(src, root)).size;

    const ctl = new AbortController();
    let last: CopyCheckpoint | undefined;
    let abortedAt = 0;
    const first = makeRun({
      config: cfg(root, { createRootPath: true }),
      databases,
      signal: ctl.signal,
      onHeartbeat: (d) => {
        last = d as CopyCheckpoint;
        if (!ctl.signal.aborted && last.completed.length > 0 && last.counts.read > total / 4) {
          abortedAt = Date.now();
          ctl.abort(new Error('cancelled by the test'));
        }
      },
    });
    // A small pipeline and frequent heartbeats, so the abort lands part-way.
    const tunables = { heartbeatEveryMs: 100, maxInFlight: 8 };
    const err = await expectFailure(copyZooKeeperTree(first.run, tunables));
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err.message).toMatch(/^cancelled while copying .*: read \d+/);
    expect(Date.now() - abortedAt).toBeLessThan(3000);
    const checkpoint = first.record.heartbeats.at(-1) as CopyCheckpoint;
    expect(checkpoint.completed.length).toBeGreaterThan(0);
    expect(checkpoint.counts.read).toBeLessThan(total);

    const second = makeRun({ config: cfg(root, { createRootPath: true }), databases, checkpoint });
    const outcome = await copyZooKeeperTree(second.run, tunables);
    const readByResume = outcome.progress!.read - checkpoint.counts.read;
    expect(readByResume).toBeLessThan(total);
    expect(outcome.progress!.failed).toBe(0);
    const [a, b] = await Promise.all([readTree(src, root), readTree(dst, root)]);
    expect(b).toEqual(a);
  });
});

describe('bad input', () => {
  it('a missing Database names the field', async () => {
    const root = newRoot('zkbad');
    const { run } = makeRun({ config: cfg(root, { sourceName: 'nope' }), databases });
    const err = await expectFailure(execute(run));
    expect(err.message).toBe('spec.config.sourceName: Database ns/nope not found');
  });

  it('an unreachable Database fails within the connect timeout', async () => {
    const root = newRoot('zkbad');
    const { run } = makeRun({
      config: cfg(root, { destinationName: 'down' }),
      databases: { ...databases, down: database(['127.0.0.1:1']) },
    });
    const started = Date.now();
    const err = await expectFailure(execute(run));
    expect(err.type).toBe('DatabaseUnreachable');
    expect(err.message).toBe(
      'spec.config.destinationName: Database ns/down is unreachable within 10 s: no ZooKeeper server of 127.0.0.1:1 accepted a connection (connect ECONNREFUSED 127.0.0.1:1)',
    );
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('wrong digest credentials: NOAUTH on the root is reported as such', async () => {
    const root = newRoot('zkbad');
    await buildTree(src, [{ path: root, data: Buffer.from('x'), acl: ADMIN_ACL }]);
    const { run } = makeRun({
      config: cfg(root, { sourceName: 'wrong', createRootPath: true }),
      databases: { ...databases, wrong: database(srcServers, { user: 'admin', password: 'wrong' }) },
    });
    const err = await expectFailure(execute(run));
    expect(err.type).toBe('DatabaseAuthFailed');
    expect(err.message).toBe(
      `spec.config.sourceName: not authorized to read ${root} on Database ns/wrong (NOAUTH): check the user and password in Secret ns/wrong`,
    );
    expect(err.message).not.toContain('password:');
  });

  it('wrong digest credentials: protected nodes below the root fail by name, the rest is copied', async () => {
    const root = newRoot('zkbad');
    await buildTree(src, [
      { path: root, data: Buffer.from('x') },
      { path: `${root}/open`, data: Buffer.from('o') },
      { path: `${root}/secure`, data: Buffer.from('s'), acl: ADMIN_ACL },
    ]);
    const { run } = makeRun({
      config: cfg(root, { sourceName: 'wrong', createRootPath: true }),
      databases: { ...databases, wrong: database(srcServers, { user: 'admin', password: 'wrong' }) },
    });
    const err = await expectFailure(execute(run));
    expect(err.type).toBe('ZnodeCopyFailed');
    expect(err.message).toContain(
      `1 znode could not be copied: ${root}/secure (NOAUTH reading it on the source Database ns/wrong: not authorized with the credentials of Secret ns/wrong)`,
    );
    expect(await dst.exists(`${root}/open`)).toBeDefined();
  });

  it('a missing root path on the source', async () => {
    const root = newRoot('zkbad');
    const { run } = makeRun({ config: cfg(root, { createRootPath: true }), databases });
    const err = await expectFailure(execute(run));
    expect(err.type).toBe('RootPathNotFound');
    expect(err.message).toBe(`spec.config.rootPath: ${root} does not exist on the source Database ns/zk-src`);
  });

  it('a missing root path on the destination, without and with createRootPath', async () => {
    const top = newRoot('zkbad');
    const root = `${top}/deep/er`;
    await buildTree(src, [
      { path: top, data: Buffer.alloc(0) },
      { path: `${top}/deep`, data: Buffer.alloc(0) },
      { path: root, data: Buffer.from('r') },
      { path: `${root}/x`, data: Buffer.from('x') },
    ]);
    const without = makeRun({ config: cfg(root), databases });
    const err = await expectFailure(execute(without.run));
    expect(err.type).toBe('RootPathNotFound');
    expect(err.message).toBe(
      `spec.config.rootPath: ${root} does not exist on the destination Database ns/zk-dst; create it or set spec.config.createRootPath: true`,
    );
    const withCreate = makeRun({ config: cfg(root, { createRootPath: true }), databases });
    expect((await execute(withCreate.run)).progress).toMatchObject({ read: 2, written: 2, failed: 0 });
    expect((await dst.get(`${root}/x`)).data.toString()).toBe('x');
    expect((await dst.get(`${top}/deep`)).data.length).toBe(0);
  });

  it('an invalid excludePathRegexp is caught by validation, naming the field', () => {
    const v = validatePluginSpec('Synchronization', {
      plugin: 'zookeeper-to-zookeeper-nodes',
      config: cfg('/app', { excludePathRegexp: '(' }),
    });
    expect(v.ok).toBe(false);
    expect(JSON.stringify(!v.ok && v.problems)).toContain('spec.config.excludePathRegexp');
  });

  it('a destination node the user may not write fails by name; the rest is copied', async () => {
    const root = newRoot('zkbad');
    await buildTree(src, [
      { path: root, data: Buffer.alloc(0) },
      { path: `${root}/locked`, data: Buffer.from('new') },
      { path: `${root}/free`, data: Buffer.from('free') },
    ]);
    await buildTree(dst, [
      { path: root, data: Buffer.alloc(0) },
      {
        path: `${root}/locked`,
        data: Buffer.from('old'),
        acl: [{ perms: Perm.READ, scheme: 'world', auth: 'anyone' }],
      },
    ]);
    const { run } = makeRun({ config: cfg(root), databases });
    const err = await expectFailure(execute(run));
    expect(err.type).toBe('ZnodeCopyFailed');
    expect(err.message).toMatch(
      new RegExp(
        `^1 znode could not be copied: ${root}/locked \\(NOAUTH writing its data on the destination Database ns/zk-dst`,
      ),
    );
    expect((await dst.get(`${root}/free`)).data.toString()).toBe('free');
  });

  it('a znode bigger than the destination accepts fails without being sent', async () => {
    const root = newRoot('zkbad');
    await buildTree(src, [
      { path: root, data: Buffer.alloc(0) },
      { path: `${root}/big`, data: payload(1_000_000, 1) },
      { path: `${root}/small`, data: Buffer.from('s') },
    ]);
    const { run } = makeRun({ config: cfg(root, { createRootPath: true }), databases });
    // As if the destination's jute.maxbuffer were 512 KiB.
    const err = await expectFailure(copyZooKeeperTree(run, { maxRequestBytes: 512 * 1024 }));
    expect(err.type).toBe('ZnodeCopyFailed');
    expect(err.message).toContain(
      `${root}/big (1000000 bytes of data: larger than the destination Database ns/zk-dst accepts`,
    );
    expect(err.message).toContain('jute.maxbuffer is 524288 bytes');
    expect((await dst.get(`${root}/small`)).data.toString()).toBe('s');
  });

  it('a znode the destination server refuses (connection dropped) fails by name; the copy goes on', async () => {
    const root = newRoot('zkbad');
    // Set (not created) at the source, just under what the server accepts for a set: a create
    // of the same data is 27 bytes bigger, so the destination server drops the connection.
    const path = `${root}/huge`;
    const size = 0xfffff - (4 + 8 + 4 + path.length + 4 + 4) - 8;
    await buildTree(src, [
      { path: root, data: Buffer.alloc(0) },
      { path, data: Buffer.alloc(0) },
      ...Array.from({ length: 50 }, (_, i) => ({ path: `${root}/n${i}`, data: payload(100, i) })),
    ]);
    await src.set(path, payload(size, 3));
    const { run } = makeRun({ config: cfg(root, { createRootPath: true }), databases });
    // The pre-check off, as if the destination's limit were unknown.
    const err = await expectFailure(
      copyZooKeeperTree(run, { maxRequestBytes: Number.POSITIVE_INFINITY, attempts: 2, retryDelayMs: 200 }),
    );
    expect(err.type).toBe('ZnodeCopyFailed');
    expect(err.message).toContain(
      `1 znode could not be copied: ${path} (connection lost 2 times creating it ${size} bytes`,
    );
    expect(await dst.children(root)).toHaveLength(50);
  });
});
