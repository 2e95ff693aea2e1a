/** The pure logic of the ZooKeeper copy: exclusion, sequence numbers, ACLs, sizes, checkpoints. */
import {
  aclEqual,
  ancestors,
  checkpointKey,
  childPath,
  CompletedSubtrees,
  createRequestBytes,
  DEFAULT_MAX_REQUEST_BYTES,
  failureSummary,
  grants,
  isExcluded,
  isOpenAcl,
  isUnder,
  maxSequence,
  parseCheckpoint,
  Perm,
  sequenceNumber,
  throwAwayNeeded,
  setRequestBytes,
  writePlan,
  zeroCounts,
  type AclEntry,
} from '../../src/plugins/zookeeper-to-zookeeper-nodes/logic.js';
import { digestId } from '../../src/plugins/zookeeper-to-zookeeper-nodes/engine.js';
import { Semaphore } from '../../src/plugins/zookeeper-to-zookeeper-nodes/session.js';

describe('paths', () => {
  it.each([
    ['/', 'a', '/a'],
    ['/a', 'b', '/a/b'],
  ])('childPath(%s, %s) = %s', (parent, name, path) => expect(childPath(parent, name)).toBe(path));

  it.each([
    ['/a/b', '/a', true],
    ['/a', '/a', true],
    ['/ab', '/a', false],
    ['/x', '/', true],
  ])('isUnder(%s, %s) = %s', (path, root, under) => expect(isUnder(path, root)).toBe(under));

  it.each([
    ['/a/b/c', ['/a', '/a/b']],
    ['/a', []],
    ['/', []],
  ])('ancestors(%s)', (path, expected) => expect(ancestors(path)).toEqual(expected));
});

describe('isExcluded', () => {
  it.each([
    ['/zookeeper', undefined, true],
    ['/zookeeper/quota', undefined, true],
    ['/zookeeperish', undefined, false],
    ['/app/a', undefined, false],
    ['/app/tmp', /\/tmp$/, true],
    ['/app/tmp/x', /\/tmp($|\/)/, true],
    ['/app/tmpx', /\/tmp($|\/)/, false],
  ])('%s with %s → %s', (path, re, excluded) => expect(isExcluded(path, re)).toBe(excluded));

  it('is not fooled by a global expression (stateful lastIndex)', () => {
    const re = /skip/g;
    expect([1, 2, 3].map(() => isExcluded('/a/skip', re))).toEqual([true, true, true]);
  });
});

describe('sequence numbers', () => {
  it.each([
    ['lock-0000000042', 42],
    ['0000000000', 0],
    ['job-2147483647', 2147483647],
    ['lock-000000004', undefined],
    ['plain', undefined],
  ])('sequenceNumber(%s) = %s', (name, n) => expect(sequenceNumber(name)).toBe(n));

  it('maxSequence takes the highest, or undefined', () => {
    expect(maxSequence(['a', 'x-0000000007', 'y-0000000012', 'z'])).toBe(12);
    expect(maxSequence(['a', 'b'])).toBeUndefined();
  });

  it.each([
    [13, 12, 0], // the next one gets 13 > 12
    [12, 12, 1],
    [0, 9, 10],
  ])('throwAwayNeeded(next %i, maxSeq %i) = %i', (next, maxSeq, n) => {
    expect(throwAwayNeeded(next, maxSeq)).toBe(n);
    expect(next + n).toBeGreaterThan(maxSeq);
  });
});

describe('ACLs', () => {
  const open: AclEntry[] = [{ perms: 31, scheme: 'world', auth: 'anyone' }];
  const admin = `admin:${'x'.repeat(27)}=`;
  const digest: AclEntry[] = [
    { perms: Perm.ALL, scheme: 'digest', auth: admin },
    { perms: Perm.READ, scheme: 'world', auth: 'anyone' },
  ];

  it('compares as sets of entries', () => {
    expect(aclEqual(digest, [...digest].reverse())).toBe(true);
    expect(aclEqual(digest, [digest[0]])).toBe(false);
    expect(aclEqual(digest, [digest[0], { ...digest[1], perms: Perm.ALL }])).toBe(false);
  });

  it.each([
    [open, true],
    [[{ perms: Perm.READ, scheme: 'world', auth: 'anyone' }], false],
    [digest, false],
  ])('isOpenAcl %j → %s', (acl, expected) => expect(isOpenAcl(acl)).toBe(expected));

  it('grants adds up the entries of our identities', () => {
    const me = ['world:anyone', `digest:${admin}`];
    expect(grants(digest, me, Perm.CREATE | Perm.DELETE)).toBe(true);
    expect(grants(digest, ['world:anyone'], Perm.CREATE)).toBe(false);
    expect(grants([{ perms: Perm.READ, scheme: 'digest', auth: 'other:h' }], me, Perm.READ)).toBe(false);
  });

  it('digestId is ZooKeeper’s user:base64(sha1(user:password))', () =>
    // What ZooKeeper 3.9 reports in get_acl for a node set with auth:admin:password.
    expect(digestId('admin', 'password')).toBe('admin:bjkZ9W+M82HUZ9xb8/Oy4cmJGfg='));
});

describe('request sizes', () => {
  it('a set request is 27 bytes smaller than a create (open ACL and flags)', () =>
    expect(createRequestBytes('/a', 10) - setRequestBytes('/a', 10)).toBe(27));

  it.each([
    [1_000_000, 'create'],
    [DEFAULT_MAX_REQUEST_BYTES - 40, 'create-then-set'],
    [DEFAULT_MAX_REQUEST_BYTES, 'too-big'],
  ])('%i bytes → %s', (bytes, plan) =>
    expect(writePlan('/app/big', bytes, DEFAULT_MAX_REQUEST_BYTES)).toBe(plan),
  );
});

describe('CompletedSubtrees', () => {
  it('folds children into their parent when it completes', () => {
    const c = new CompletedSubtrees();
    c.complete('/r/a/x');
    c.complete('/r/a/y');
    expect(c.list().sort()).toEqual(['/r/a/x', '/r/a/y']);
    c.complete('/r/a', ['x', 'y']);
    expect(c.list()).toEqual(['/r/a']);
    expect(c.has('/r/a')).toBe(true);
    expect(c.has('/r/a/x')).toBe(false);
  });

  it('stops recording at the cap, and frees room when a parent folds', () => {
    const c = new CompletedSubtrees([], 2);
    expect(c.complete('/p/a')).toBe(true);
    expect(c.complete('/p/b')).toBe(true);
    expect(c.complete('/p/c')).toBe(false);
    expect(c.size).toBe(2);
    expect(c.complete('/p', ['a', 'b', 'c'])).toBe(true);
    expect(c.list()).toEqual(['/p']);
  });
});

describe('checkpoints', () => {
  const key = checkpointKey({ source: 'ns/a', destination: 'ns/b', rootPath: '/app' });

  it('round-trips through JSON', () => {
    const cp = { v: 1, key, completed: ['/app/x'], counts: { ...zeroCounts(), read: 5 } };
    expect(parseCheckpoint(JSON.parse(JSON.stringify(cp)), key)).toEqual(cp);
  });

  it.each([
    [undefined],
    ['text'],
    [{ v: 2, key, completed: [], counts: {} }],
    [{ v: 1, key: 'another copy', completed: [], counts: {} }],
    [{ v: 1, key, completed: [3], counts: {} }],
  ])('ignores %j', (details) => expect(parseCheckpoint(details, key)).toBeUndefined());

  it('belongs to one copy: another root or exclusion gives another key', () => {
    expect(checkpointKey({ source: 'ns/a', destination: 'ns/b', rootPath: '/other' })).not.toBe(key);
    expect(
      checkpointKey({ source: 'ns/a', destination: 'ns/b', rootPath: '/app', excludePathRegexp: 'x' }),
    ).not.toBe(key);
  });
});

describe('failureSummary', () => {
  it('counts and names the first few', () => {
    const first = [
      { path: '/a', reason: 'NOAUTH' },
      { path: '/b', reason: 'too big' },
    ];
    expect(failureSummary(2, first)).toBe('2 znodes could not be copied: /a (NOAUTH); /b (too big)');
    expect(failureSummary(7, first, 1)).toBe('7 znodes could not be copied: /a (NOAUTH); and 6 more');
  });
});

describe('Semaphore', () => {
  it('bounds the holders and serves waiters in order', async () => {
    const sem = new Semaphore(2);
    await sem.acquire();
    await sem.acquire();
    const order: number[] = [];
    const third = sem.acquire().then(() => order.push(3));
    const fourth = sem.acquire().then(() => order.push(4));
    expect(sem.inFlight).toBe(2);
    sem.release();
    await third;
    sem.release();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it('a waiter for every slot runs alone, and later waiters queue behind it', async () => {
    const sem = new Semaphore(3);
    await sem.acquire();
    const order: string[] = [];
    const alone = sem.acquire(3).then(() => order.push('alone'));
    const after = sem.acquire().then(() => order.push('after'));
    expect(order).toEqual([]);
    sem.release();
    await alone;
    expect(sem.inFlight).toBe(3);
    sem.release(3);
    await after;
    expect(order).toEqual(['alone', 'after']);
  });

  it('rejects the waiters when the signal aborts', async () => {
    const ctl = new AbortController();
    const sem = new Semaphore(1, ctl.signal);
    await sem.acquire();
    const waiting = sem.acquire();
    ctl.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await expect(sem.acquire()).rejects.toThrow('stop');
    sem.release();
    expect(sem.inFlight).toBe(0);
  });
});
