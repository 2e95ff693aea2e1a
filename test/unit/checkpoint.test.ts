/** The replication checkpoint: the low-water mark, and what a retried attempt may resume from. */
import {
  CHECKPOINT_FORMAT,
  configHash,
  namespacesHash,
  readCheckpoint,
  typeResumable,
  WriteMarks,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/checkpoint.js';

describe('LowWaterMark', () => {
  it('has no mark until the initial list is written, then the list version', () => {
    const marks = new WriteMarks();
    const m = marks.of('');
    m.listed('100', ['ns/a', 'ns/b']);
    expect(m.mark()).toBeUndefined();
    const upTo = marks.now();
    marks.settle('ns/a', upTo);
    expect(m.mark()).toBeUndefined(); // ns/b is not written yet
    marks.settle('ns/b', upTo);
    expect(m.mark()).toBe('100');
  });

  it('never passes an event received but not written, even when later ones are', () => {
    const marks = new WriteMarks();
    const m = marks.of('', '100'); // resumed
    m.received('ns/a', '101');
    m.received('ns/b', '102');
    m.received('ns/c', '103');
    const upTo = marks.now();
    marks.settle('ns/b', upTo);
    marks.settle('ns/c', upTo);
    expect(m.mark()).toBe('100'); // 101 (ns/a) still waits: a crash now must replay it
    marks.settle('ns/a', upTo);
    expect(m.mark()).toBe('103');
  });

  it('does not settle an event that came after the reconcile started', () => {
    const marks = new WriteMarks();
    const m = marks.of('', '100');
    m.received('ns/a', '101');
    const upTo = marks.now(); // the reconcile of ns/a starts, reading the state at 101
    m.received('ns/a', '102'); // a newer change arrives meanwhile
    marks.settle('ns/a', upTo);
    expect(m.mark()).toBe('101');
    marks.settle('ns/a', marks.now()); // the re-run writes 102
    expect(m.mark()).toBe('102');
  });

  it('moves on bookmarks when nothing waits, and not past a waiting event', () => {
    const marks = new WriteMarks();
    const m = marks.of('', '100');
    m.bookmark('150');
    expect(m.mark()).toBe('150');
    m.received('ns/a', '151');
    m.bookmark('200');
    expect(m.mark()).toBe('150');
    marks.settle('ns/a', marks.now());
    expect(m.mark()).toBe('200');
    expect(m.behind).toBe(0);
  });

  it('settles a key in every reflector of the type at once', () => {
    const marks = new WriteMarks();
    const a = marks.of('app=a', '10');
    const b = marks.of('app=b', '10');
    a.received('ns/x', '11');
    b.received('ns/x', '11'); // the object left selector b and entered selector a
    expect(marks.marksBySelector()).toEqual({ 'app=a': '10', 'app=b': '10' });
    marks.settle('ns/x', marks.now());
    expect(marks.marksBySelector()).toEqual({ 'app=a': '11', 'app=b': '11' });
  });

  it('reports no marks while any reflector has none', () => {
    const marks = new WriteMarks();
    marks.of('a', '5');
    marks.of('b').listed('7', ['ns/x']);
    expect(marks.marksBySelector()).toBeUndefined();
    expect(new WriteMarks().marksBySelector()).toBeUndefined();
  });

  it('ignores an event without a resourceVersion', () => {
    const marks = new WriteMarks();
    const m = marks.of('', '5');
    m.received('ns/a', undefined);
    expect(m.mark()).toBe('5');
  });
});

describe('readCheckpoint', () => {
  const config = configHash({ a: 1 });
  const good = {
    format: CHECKPOINT_FORMAT,
    generation: 3,
    config,
    types: { 'v1/configmaps': { objects: { '': '1234' }, namespaces: {} } },
  };

  it('accepts a checkpoint of the same generation and config', () => {
    expect(readCheckpoint({ resources: [], checkpoint: good }, { generation: 3, config })).toEqual({
      ok: true,
      checkpoint: good,
    });
  });

  it.each([
    [undefined, 'no checkpoint'],
    [{ resources: [] }, 'no checkpoint'],
    [{ checkpoint: { ...good, format: 99 } }, 'not valid: /format'],
    [{ checkpoint: { ...good, types: { t: { objects: { '': '' }, namespaces: {} } } } }, 'not valid'],
    [{ checkpoint: { ...good, generation: 2 } }, 'generation 2, not 3'],
    [{ checkpoint: { ...good, config: 'other' } }, 'another config'],
  ])('refuses %j (%s)', (details, reason) => {
    const read = readCheckpoint(details, { generation: 3, config });
    expect(read.ok).toBe(false);
    expect(!read.ok && read.reason).toContain(reason);
  });
});

describe('typeResumable', () => {
  const cp = { objects: { '': '9', 'app=a': '9' }, namespaces: { 'env=pre': 'abc' } };
  it('needs a mark for every label selector and a hash for every namespace selector', () => {
    expect(typeResumable(cp, { labels: ['', 'app=a'], namespaces: ['env=pre'] }).ok).toBe(true);
    expect(typeResumable(cp, { labels: ['app=b'], namespaces: [] })).toEqual({
      ok: false,
      reason: "no mark for label selector 'app=b'",
    });
    expect(typeResumable(cp, { labels: [''], namespaces: ['env=pro'] }).ok).toBe(false);
    expect(typeResumable(undefined, { labels: [''], namespaces: [] }).ok).toBe(false);
  });
});

describe('hashes', () => {
  it('namespacesHash ignores order and tells sets apart', () => {
    expect(namespacesHash(['b', 'a'])).toBe(namespacesHash(['a', 'b']));
    expect(namespacesHash(['a'])).not.toBe(namespacesHash(['a', 'b']));
  });
  it('configHash tells configs apart', () => {
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: 2 }));
  });
});
