import {
  changeTime,
  LagWindow,
  percentile,
  sourceStamp,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/rpo.js';

const at = (iso: string) => Date.parse(iso);

describe('sourceStamp: when the source says an object last changed', () => {
  it.each([
    [
      'the newest managedFields time',
      {
        metadata: {
          creationTimestamp: '2026-11-28T10:00:00Z',
          managedFields: [{ time: '2026-11-28T11:00:00Z' }, { time: '2026-11-28T12:00:05Z' }, {}],
        },
      },
      false,
      at('2026-11-28T12:00:05Z'),
    ],
    [
      'creationTimestamp without managedFields',
      { metadata: { creationTimestamp: '2026-11-28T10:00:00Z' } },
      false,
      at('2026-11-28T10:00:00Z'),
    ],
    [
      'a Date as the client decodes it',
      { metadata: { creationTimestamp: new Date('2026-11-28T10:00:00Z') } },
      false,
      at('2026-11-28T10:00:00Z'),
    ],
    [
      'a delete: its deletionTimestamp',
      { metadata: { creationTimestamp: '2026-11-28T10:00:00Z', deletionTimestamp: '2026-11-28T12:30:00Z' } },
      true,
      at('2026-11-28T12:30:00Z'),
    ],
    [
      'a delete without deletionTimestamp: none',
      { metadata: { creationTimestamp: '2026-11-28T10:00:00Z' } },
      true,
      undefined,
    ],
    ['no metadata', {}, false, undefined],
    ['a bad time', { metadata: { creationTimestamp: 'yesterday' } }, false, undefined],
  ])('%s', (_name, obj, deleted, expected) => {
    expect(sourceStamp(obj as never, deleted)).toBe(expected);
  });
});

describe('changeTime: when a change received at some time happened', () => {
  const stamp = at('2026-11-28T12:00:00Z');
  it.each([
    ['received 0.4 s after its stamp: at most 0.4 s before', stamp, stamp + 400, undefined, stamp],
    [
      'received long after its stamp (a downtime, a relist): its stamp',
      stamp,
      stamp + 60_000,
      undefined,
      stamp,
    ],
    [
      'stamped after its receipt (the source clock is ahead): the receipt',
      stamp + 2000,
      stamp + 500,
      undefined,
      stamp + 500,
    ],
    ['no stamp (a delete): the receipt', undefined, stamp + 700, undefined, stamp + 700],
    ['stamped after the last convergence: its stamp', stamp, stamp + 60_000, stamp - 1000, stamp],
    [
      'stamped before the last convergence (not a source change): the receipt',
      stamp,
      stamp + 60_000,
      stamp + 1000,
      stamp + 60_000,
    ],
  ])('%s', (_name, s, received, floor, expected) => {
    expect(changeTime(s, received, floor)).toBe(expected);
  });
});

describe('percentile', () => {
  it('is nearest-rank, 0 when empty', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([1, 2, 3, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(100);
  });
});

describe('LagWindow: the figures over a sliding window', () => {
  const t0 = at('2026-11-28T12:00:00Z');

  it('gives p50, p99 and max of the writes within the window', () => {
    const w = new LagWindow({ windowMs: 60_000 });
    for (let i = 1; i <= 100; i++) w.add(i * 10, t0 + i);
    expect(w.figures(t0 + 1000)).toEqual({ p50: 510, p99: 1000, max: 1000, samples: 100, windowSeconds: 60 });
  });

  it('forgets what left the window, and is all zero when empty', () => {
    const w = new LagWindow({ windowMs: 60_000 });
    w.add(9000, t0);
    w.add(100, t0 + 30_000);
    expect(w.figures(t0 + 40_000).max).toBe(9000);
    const later = w.figures(t0 + 75_000);
    expect(later).toMatchObject({ p50: 100, max: 100, samples: 1 });
    expect(w.figures(t0 + 200_000)).toEqual({ p50: 0, p99: 0, max: 0, samples: 0, windowSeconds: 60 });
  });

  it('keeps at most maxSamples (the newest) while the max stays exact', () => {
    const w = new LagWindow({ windowMs: 600_000, maxSamples: 1000 });
    w.add(50_000, t0); // the one slow write, then many fast ones
    for (let i = 1; i <= 5000; i++) w.add(10, t0 + i);
    const f = w.figures(t0 + 6000);
    expect(f.samples).toBe(1000);
    expect(f.p99).toBe(10);
    expect(f.max).toBe(50_000);
  });

  it('counts a negative lag (clock skew) as 0', () => {
    const w = new LagWindow();
    w.add(-5, t0);
    expect(w.figures(t0).max).toBe(0);
  });
});
