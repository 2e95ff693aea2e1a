/**
 * The replication checkpoint: what a retried `replicate` attempt needs to resume watching instead
 * of listing everything again. It travels in the activity's heartbeat details, so it stays small:
 * per type, per source reflector, one resourceVersion (no per-object data), plus a hash of the
 * namespaces each namespace selector matched. Pure logic, no I/O.
 *
 * The resourceVersion of a reflector is a low-water mark ({@link WriteMarks}): every change the
 * reflector received up to it has been written (or pruned) in the destination. An event received
 * but not yet written holds the mark back, so that after a crash it is replayed by the watch.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Bumped when the shape or meaning of a checkpoint changes (an older one is then ignored). */
export const CHECKPOINT_FORMAT = 1;

const TypeCheckpointSchema = Type.Object({
  /** Low-water resourceVersion of each object reflector, by label selector ('' for none). */
  objects: Type.Record(Type.String(), Type.String({ minLength: 1 })),
  /** Hash of the namespaces each namespace selector matched, by selector. */
  namespaces: Type.Record(Type.String(), Type.String()),
});

const CheckpointSchema = Type.Object({
  format: Type.Literal(CHECKPOINT_FORMAT),
  /** The spec generation the checkpoint was taken under. */
  generation: Type.Integer(),
  /** {@link configHash} of the config it was taken under. */
  config: Type.String(),
  /** By type (`typeName`, e.g. `v1/configmaps`); a type without a mark yet is absent. */
  types: Type.Record(Type.String(), TypeCheckpointSchema),
});

/** One type's part of a checkpoint. */
export type TypeCheckpoint = Static<typeof TypeCheckpointSchema>;

/** A replication checkpoint, as heartbeat details carry it (`checkpoint`). */
export type ReplicationCheckpoint = Static<typeof CheckpointSchema>;

/** A short hash of a config (key order as given: the same spec gives the same text). */
export function configHash(config: unknown): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** A short hash of a set of namespace names (order does not matter). */
export function namespacesHash(names: Iterable<string>): string {
  return createHash('sha256')
    .update([...names].sort().join('\n'))
    .digest('hex')
    .slice(0, 16);
}

/** What a retried attempt may resume from, or why it may not. */
export type CheckpointRead = { ok: true; checkpoint: ReplicationCheckpoint } | { ok: false; reason: string };

/**
 * Reads the checkpoint out of the last heartbeat details of a previous attempt (`details.checkpoint`)
 * and checks it belongs to the same spec generation and config. Anything else (no details, a first
 * attempt's empty details, another shape, another generation or config) is refused with a reason.
 */
export function readCheckpoint(
  details: unknown,
  expected: { generation: number; config: string },
): CheckpointRead {
  const candidate = (details as { checkpoint?: unknown } | undefined)?.checkpoint;
  if (candidate === undefined) return { ok: false, reason: 'no checkpoint in the heartbeat details' };
  if (!Value.Check(CheckpointSchema, candidate)) {
    const first = Value.Errors(CheckpointSchema, candidate).First();
    return {
      ok: false,
      reason: `checkpoint is not valid: ${first ? `${first.path || '/'} ${first.message}` : 'unknown shape'}`,
    };
  }
  if (candidate.generation !== expected.generation)
    return {
      ok: false,
      reason: `checkpoint is of generation ${candidate.generation}, not ${expected.generation}`,
    };
  if (candidate.config !== expected.config)
    return { ok: false, reason: 'checkpoint was taken under another config' };
  return { ok: true, checkpoint: candidate };
}

/**
 * The part of `checkpoint` one type can resume from: it must hold a mark for every label selector
 * and a namespace hash for every namespace selector the type uses now; else the reason it cannot.
 */
export function typeResumable(
  checkpoint: TypeCheckpoint | undefined,
  selectors: { labels: string[]; namespaces: string[] },
): { ok: true; checkpoint: TypeCheckpoint } | { ok: false; reason: string } {
  if (!checkpoint) return { ok: false, reason: 'no mark for this type (its initial sync was not written)' };
  const missing = selectors.labels.find((s) => !checkpoint.objects[s]);
  if (missing !== undefined) return { ok: false, reason: `no mark for label selector '${missing}'` };
  const missingNs = selectors.namespaces.find((s) => checkpoint.namespaces[s] === undefined);
  if (missingNs !== undefined)
    return { ok: false, reason: `no namespace hash for namespace selector '${missingNs}'` };
  return { ok: true, checkpoint };
}

/** One step of a reflector's stream: a list, an event, or a bookmark (which waits for nothing). */
interface Step {
  seq: number;
  resourceVersion: string;
  /** Keys still to be written for this step to count as done. */
  waiting: Set<string>;
}

/**
 * The low-water mark of one reflector: the resourceVersion up to which every received change is
 * written. Steps come in stream order (a watch delivers in resourceVersion order); a key is settled
 * up to a sequence number when its reconcile, started after that step, wrote (or pruned) it.
 */
export class LowWaterMark {
  private base?: string;
  private readonly steps: Step[] = [];
  private readonly byKey = new Map<string, Step[]>();

  constructor(
    private readonly sequence: { next(): number },
    /** Where a resumed reflector starts: everything before it is written. */
    from?: string,
  ) {
    this.base = from;
  }

  /** A list at `resourceVersion` whose `keys` all have to be written (the initial sync, a relist). */
  listed(resourceVersion: string, keys: Iterable<string>): void {
    this.push(resourceVersion, keys);
  }

  /** A watch event of `key` at `resourceVersion`. */
  received(key: string, resourceVersion: string | undefined): void {
    if (!resourceVersion) return;
    this.push(resourceVersion, [key]);
  }

  /** A bookmark: the stream reached `resourceVersion` with no change of ours. */
  bookmark(resourceVersion: string): void {
    this.push(resourceVersion, []);
  }

  /** `key` is written as of every step up to `upTo` (a sequence number taken before its reconcile). */
  settle(key: string, upTo: number): void {
    const steps = this.byKey.get(key);
    if (!steps) return;
    const rest = steps.filter((s) => s.seq > upTo);
    for (const s of steps) if (s.seq <= upTo) s.waiting.delete(key);
    if (rest.length) this.byKey.set(key, rest);
    else this.byKey.delete(key);
    this.advance();
  }

  /** The resourceVersion up to which everything is written; undefined before the first list is. */
  mark(): string | undefined {
    return this.base;
  }

  /** Steps not yet written (for tests and logs). */
  get behind(): number {
    return this.steps.length;
  }

  private push(resourceVersion: string, keys: Iterable<string>): void {
    const step: Step = { seq: this.sequence.next(), resourceVersion, waiting: new Set(keys) };
    this.steps.push(step);
    for (const key of step.waiting) {
      const list = this.byKey.get(key);
      if (list) list.push(step);
      else this.byKey.set(key, [step]);
    }
    this.advance();
  }

  private advance(): void {
    let done = 0;
    while (done < this.steps.length && this.steps[done].waiting.size === 0) done++;
    if (done === 0) return;
    this.base = this.steps[done - 1].resourceVersion;
    this.steps.splice(0, done);
  }
}

/** The marks of one type's reflectors, sharing one sequence so that one number settles them all. */
export class WriteMarks {
  private seq = 0;
  private readonly marks = new Map<string, LowWaterMark>();
  private readonly sequence = { next: () => ++this.seq };

  /** The mark of the reflector of `selector` (created on first use, from `from` when resumed). */
  of(selector: string, from?: string): LowWaterMark {
    let mark = this.marks.get(selector);
    if (!mark) this.marks.set(selector, (mark = new LowWaterMark(this.sequence, from)));
    return mark;
  }

  /** Forgets every reflector (a fresh list follows). */
  reset(): void {
    this.marks.clear();
  }

  /** The sequence number now: take it before a reconcile reads the source state. */
  now(): number {
    return this.seq;
  }

  /** `key` is written as of `upTo`, in every reflector. */
  settle(key: string, upTo: number): void {
    for (const m of this.marks.values()) m.settle(key, upTo);
  }

  /** Every reflector's mark, by selector; undefined while one of them has none. */
  marksBySelector(): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    for (const [selector, m] of this.marks) {
      const mark = m.mark();
      if (mark === undefined) return undefined;
      out[selector] = mark;
    }
    return this.marks.size ? out : undefined;
  }
}
