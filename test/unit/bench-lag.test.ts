import { LagTracker, seqOfStamp, stampOf } from '../bench/lag.js';
import { percentile, summarize } from '../bench/util.js';

describe('benchmark lag bookkeeping', () => {
  it('reads back the sequence of a stamp', () => {
    expect(seqOfStamp(stampOf(42, 1000))).toBe(42);
    expect(seqOfStamp(undefined)).toBeUndefined();
    expect(seqOfStamp('x:1')).toBeUndefined();
  });

  it('counts an update as seen when its stamp, or a later one of the same object, arrives', () => {
    const t = new LagTracker();
    t.sent(1, 'ns/a', 1000);
    t.sent(2, 'ns/a', 1010);
    t.sent(3, 'ns/b', 1020);
    t.acked(1, 1004);
    expect(t.unseen).toBe(3);
    t.seen('ns/a', 2, 1050); // the replicator wrote only the latest state of ns/a
    expect(t.lags).toEqual([50, 40]);
    expect(t.coalesced).toBe(1);
    expect(t.unseen).toBe(1);
    expect(t.lagsAfterAck()).toEqual([46]);
    t.seen('ns/b', 2, 1100); // an older stamp of another object says nothing about seq 3
    expect(t.unseen).toBe(1);
    t.failed(3, 'ns/b');
    expect(t.unseen).toBe(0);
  });

  it('summarizes with nearest-rank percentiles, an update never seen counting as Infinity', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    const s = summarize([5, 1, Infinity, 3]);
    expect(s).toMatchObject({ count: 4, p50: 3, max: Infinity, mean: 3 });
  });
});
