/** The pure logic of the ZooKeeper backup and restore: the chunk line format, chunking, path mapping. */
import {
  ChunkBuffer,
  depth,
  depthRuns,
  parentPath,
  parseChunk,
  restorePath,
  sequenceTarget,
  znodeLine,
  type ZnodeRead,
} from '../../src/plugins/zookeeper-nodes-to-bucket/format.js';
import { Perm } from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';

const node = (extra: Partial<ZnodeRead> = {}): ZnodeRead => ({
  path: '/app/queue',
  data: Buffer.from([0, 1, 2, 255, 254]),
  acl: [{ perms: Perm.ALL, scheme: 'world', auth: 'anyone' }],
  ephemeral: false,
  cversion: 12,
  children: [],
  ...extra,
});

describe('znode lines', () => {
  it('round-trips binary data, the ACL, the node type and the counter', () => {
    const line = znodeLine(node({ ctime: new Date('2026-11-27T21:00:00Z') }));
    const { nodes, problems } = parseChunk(`${line}\n`);
    expect(problems).toEqual([]);
    expect(nodes).toEqual([
      {
        path: '/app/queue',
        data: 'AAEC//4=',
        acl: [{ perms: 31, scheme: 'world', auth: 'anyone' }],
        ephemeral: false,
        cversion: 12,
        ctime: '2026-11-27T21:00:00.000Z',
      },
    ]);
    expect(Buffer.from(nodes[0].data, 'base64')).toEqual(node().data);
  });

  it('records the highest sequence number among the children, only when some are sequential', () => {
    const parsed = (children: string[]) => parseChunk(znodeLine(node({ children }))).nodes[0];
    expect(parsed(['job-0000000003', 'job-0000000010', 'lock']).maxChildSequence).toBe(10);
    expect(parsed(['lock', 'config'])).not.toHaveProperty('maxChildSequence');
  });

  it('is deterministic: the same znode gives the same line', () => {
    expect(znodeLine(node({ children: ['b', 'a'] }))).toBe(znodeLine(node({ children: ['b', 'a'] })));
  });

  it.each([
    ['not JSON', '{"path":', /^not JSON/],
    ['not an object', '42', /not a JSON object/],
    [
      'a relative path',
      JSON.stringify({ path: 'a', data: '', acl: [], ephemeral: false, cversion: 0 }),
      /^path:/,
    ],
    [
      'bad base64',
      JSON.stringify({ path: '/a', data: '#!', acl: [], ephemeral: false, cversion: 0 }),
      /^data:/,
    ],
    [
      'a bad ACL',
      JSON.stringify({ path: '/a', data: '', acl: [{ perms: 'all' }], ephemeral: false, cversion: 0 }),
      /^acl:/,
    ],
    ['no node type', JSON.stringify({ path: '/a', data: '', acl: [], cversion: 0 }), /^ephemeral:/],
    ['no counter', JSON.stringify({ path: '/a', data: '', acl: [], ephemeral: true }), /^cversion:/],
  ])('a line with %s is a problem, by line number; the other lines are read', (_what, bad, problem) => {
    const good = znodeLine(node());
    const { nodes, problems } = parseChunk(`${good}\n${bad}\n\n${good}\n`);
    expect(nodes).toHaveLength(2);
    expect(problems).toEqual([expect.objectContaining({ line: 2, problem: expect.stringMatching(problem) })]);
  });

  it('names the path of a bad line when it has one', () => {
    const bad = JSON.stringify({ path: '/a/b', data: '', acl: [], ephemeral: false });
    expect(parseChunk(bad).problems).toEqual([
      { line: 1, path: '/a/b', problem: 'cversion: must be an integer' },
    ]);
  });
});

describe('chunks', () => {
  it('is full at the item limit', () => {
    const b = new ChunkBuffer({ maxItems: 3, maxBytes: 1 << 20 });
    expect([b.add('a'), b.add('b'), b.add('c')]).toEqual([false, false, true]);
    expect(b.take()).toEqual({ body: 'a\nb\nc\n', items: 3 });
    expect(b.items).toBe(0);
    expect(b.take()).toEqual({ body: '', items: 0 });
  });

  it('is full at the byte limit (newlines counted), even with one line above it', () => {
    const b = new ChunkBuffer({ maxItems: 1000, maxBytes: 10 });
    expect(b.add('1234')).toBe(false); // 5 bytes
    expect(b.add('1234')).toBe(true); // 10 bytes
    b.take();
    expect(b.add('x'.repeat(50))).toBe(true);
    expect(b.take().items).toBe(1);
  });
});

describe('paths', () => {
  it.each([
    ['/app/a', '/app', undefined, '/app/a'],
    ['/app', '/app', '/restored', '/restored'],
    ['/app/a/b', '/app', '/restored', '/restored/a/b'],
    ['/app/a', '/app', '/x/y', '/x/y/a'],
    ['/', '/', '/r', '/r'],
    ['/a', '/', '/r', '/r/a'],
    ['/app', '/app', '/', '/'],
    ['/app/a', '/app', '/', '/a'],
    ['/application', '/app', '/r', undefined],
    ['/other', '/app', undefined, undefined],
  ])('%s backed up from %s, restored at %s → %s', (path, backupRoot, restoreRoot, expected) => {
    expect(restorePath(path, backupRoot, restoreRoot)).toBe(expected);
  });

  it.each([
    ['/', undefined, 0],
    ['/a', '/', 1],
    ['/a/b', '/a', 2],
    ['/a/b/c', '/a/b', 3],
  ])('%s: parent %s, depth %d', (path, parent, d) => {
    expect(parentPath(path)).toBe(parent);
    expect(depth(path)).toBe(d);
  });

  it('splits a breadth-first list into runs of one depth', () => {
    const nodes = ['/r', '/r/a', '/r/b', '/r/a/x', '/r/b/y', '/r/a/x/1'].map((path) => ({ path }));
    expect(depthRuns(nodes).map((run) => run.map((n) => n.path))).toEqual([
      ['/r'],
      ['/r/a', '/r/b'],
      ['/r/a/x', '/r/b/y'],
      ['/r/a/x/1'],
    ]);
    expect(depthRuns([])).toEqual([]);
  });
});

describe('sequence counters', () => {
  it.each([
    [undefined, 50, undefined],
    [10, 3, 10],
    [10, 11, 10],
    [10, 40, 39],
  ])(
    'highest child %s, source cversion %d: the next child must pass %s',
    (maxChildSequence, cversion, target) => {
      expect(sequenceTarget({ maxChildSequence, cversion })).toBe(target);
    },
  );
});
