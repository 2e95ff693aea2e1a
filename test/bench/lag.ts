/**
 * Live-lag bookkeeping: each update written at the source carries a stamp `<seq>:<sendMs>`; an
 * update counts as visible in the destination when a watch event of its object shows that stamp
 * or a later one (the replicator writes the latest state of an object, so a later stamp includes
 * the earlier change). Lag = when the event arrived - when the update was sent, same clock.
 */

/** Formats the stamp written into `data.stamp`. */
export const stampOf = (seq: number, sendMs: number): string => `${seq}:${sendMs}`;

/** The sequence number of a stamp, or undefined. */
export function seqOfStamp(stamp: string | undefined): number | undefined {
  if (!stamp) return undefined;
  const seq = Number(stamp.slice(0, stamp.indexOf(':')));
  return Number.isInteger(seq) ? seq : undefined;
}

/** Tracks sent updates and when each became visible. */
export class LagTracker {
  private readonly sendMs = new Map<number, number>();
  private readonly ackMs = new Map<number, number>();
  private readonly seenMs = new Map<number, number>();
  /** Unseen sequence numbers per object key, ascending. */
  private readonly pending = new Map<string, number[]>();
  readonly lags: number[] = [];
  /** Updates seen only through a later stamp of the same object (coalesced by the replicator). */
  coalesced = 0;
  private unseenCount = 0;

  /** Records an update as sent. */
  sent(seq: number, key: string, sendMs: number): void {
    this.sendMs.set(seq, sendMs);
    const list = this.pending.get(key);
    if (list) list.push(seq);
    else this.pending.set(key, [seq]);
    this.unseenCount++;
  }

  /** The source API server acknowledged update `seq` at `at`. */
  acked(seq: number, at: number): void {
    this.ackMs.set(seq, at);
  }

  /** An update could not be written at the source: it is not waited for. */
  failed(seq: number, key: string): void {
    const list = this.pending.get(key);
    const i = list?.indexOf(seq) ?? -1;
    if (list && i >= 0) {
      list.splice(i, 1);
      this.unseenCount--;
    }
    this.sendMs.delete(seq);
  }

  /** A destination event for `key` showing stamp sequence `seq`, arrived at `at`. */
  seen(key: string, seq: number, at: number): void {
    const list = this.pending.get(key);
    if (!list) return;
    while (list.length && list[0] <= seq) {
      const s = list.shift()!;
      if (s !== seq) this.coalesced++;
      this.lags.push(at - this.sendMs.get(s)!);
      this.seenMs.set(s, at);
      this.unseenCount--;
    }
    if (!list.length) this.pending.delete(key);
  }

  /**
   * Lag counted from the source's acknowledgement instead of the send: what the replication adds
   * on top of the source API server's own write latency (negative when the copy was visible
   * before the acknowledgement reached this process).
   */
  lagsAfterAck(): number[] {
    const out: number[] = [];
    for (const [seq, seen] of this.seenMs) {
      const ack = this.ackMs.get(seq);
      if (ack !== undefined) out.push(seen - ack);
    }
    return out;
  }

  /** Updates sent and not yet seen. */
  get unseen(): number {
    return this.unseenCount;
  }
}
