/** Per-object results of a restore, counted per type and overall, and the report they make. Pure. */

/** What happened to one object. */
export type RestoreResult =
  | { object: string; result: 'created' | 'updated' }
  | { object: string; result: 'skipped'; reason: string }
  | { object: string; result: 'failed'; error: string };

type Counts = { created: number; updated: number; skipped: number; failed: number };

/** Objects named per list in `status.report`. */
export const REPORTED = 20;

/** `ns` through the mapping (`{ old: new }`), or unchanged. */
export function mapNamespace(ns: string, mapping: Record<string, string> | undefined): string {
  return mapping?.[ns] ?? ns;
}

const zero = (): Counts => ({ created: 0, updated: 0, skipped: 0, failed: 0 });

/** Counts results; keeps the first failed and skipped objects for the report. */
export class RestoreTally {
  private readonly perType = new Map<string, Counts>();
  private readonly failed: { object: string; error: string }[] = [];
  private readonly skipped: { object: string; reason: string }[] = [];

  add(type: string, r: RestoreResult): void {
    const c = this.perType.get(type) ?? zero();
    c[r.result]++;
    this.perType.set(type, c);
    if (r.result === 'failed' && this.failed.length < REPORTED)
      this.failed.push({ object: r.object, error: r.error });
    if (r.result === 'skipped' && this.skipped.length < REPORTED)
      this.skipped.push({ object: r.object, reason: r.reason });
  }

  /** Totals over every type. */
  totals(): Counts {
    const t = zero();
    for (const c of this.perType.values()) for (const k of Object.keys(t) as (keyof Counts)[]) t[k] += c[k];
    return t;
  }

  /** `<object>: <error>` of the first failure. */
  firstFailure(): string {
    const f = this.failed[0];
    return f ? `${f.object}: ${f.error}` : 'none';
  }

  /** What `status.report` shows. */
  report(source: string, destination: string): Record<string, unknown> {
    return {
      source,
      destination,
      totals: this.totals(),
      types: Object.fromEntries(this.perType),
      ...(this.failed.length && { failed: this.failed }),
      ...(this.skipped.length && { skipped: this.skipped }),
    };
  }
}
