/**
 * Drift: how a destination copy or a bucket original differs from what the source would give
 * them. Pure functions, no I/O; the engine lists the three sides and asks these.
 *
 * - A copy is **stale** when a field the source (cleaned, patched, marked) gives is missing from it
 *   or has another value, or when a `data`/`binaryData` map has a key the source has not. Fields the
 *   destination adds by itself (defaults, controllers' annotations, a Service's cluster IP) are not
 *   drift, so a copy is compared as a superset of what we wrote.
 * - A bucket original is **stale** when its checksum is not the checksum of the source object as it
 *   would be uploaded: S3's ETag of a single-part upload is the MD5 of the body (AWS S3 without
 *   SSE-KMS, MinIO, GCS through its XML API). An ETag that is not a plain MD5 is not compared.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from './transform.js';

/**
 * The annotation a user sets on a LiveSynchronization to have source, destination and bucket
 * compared now (and the drift repaired), without waiting for the resync period: any new value,
 * e.g. `kubectl annotate livesynchronization pre replication.astronetes.io/compare="$(date +%s)" --overwrite`.
 */
export const COMPARE_ANNOTATION = 'replication.astronetes.io/compare';

/** What a comparison of one resource type found, as status reports it. */
export interface DriftCounts {
  /** Source objects an entry selects that have no copy in the destination. */
  missing: number;
  /** Copies of ours that no entry selects any more (they are pruned). */
  extra: number;
  /** Copies written from an older source version or another transformation. */
  outdated: number;
  /** Copies whose content differs from what the source would give (a hand edit): reverted. */
  stale: number;
  /** Selected objects with no original in the bucket. */
  bucketMissing: number;
  /** Originals whose content is not the source object's. */
  bucketStale: number;
  /** Originals of objects no entry selects (they are pruned). */
  bucketExtra: number;
}

/** The kinds of drift, in the order messages list them. */
export const DRIFT_KINDS = [
  'missing',
  'extra',
  'outdated',
  'stale',
  'bucketMissing',
  'bucketStale',
  'bucketExtra',
] as const satisfies readonly (keyof DriftCounts)[];
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** Counts of zero. */
export function noDrift(): DriftCounts {
  return { missing: 0, extra: 0, outdated: 0, stale: 0, bucketMissing: 0, bucketStale: 0, bucketExtra: 0 };
}

/** Whether a comparison found nothing to repair. */
export function isClean(c: DriftCounts): boolean {
  return DRIFT_KINDS.every((k) => c[k] === 0);
}

/** The sum of two counts. */
export function addDrift(a: DriftCounts, b: DriftCounts): DriftCounts {
  const sum = noDrift();
  for (const k of DRIFT_KINDS) sum[k] = a[k] + b[k];
  return sum;
}

/** How a copy differs from what we would write. */
export interface CopyDifference {
  /** JSON pointer of the first field that differs or is missing (for logs and Events). */
  path: string;
  /** `data`/`binaryData` keys that the source has not (a revert removes them). */
  extraKeys: { field: string; key: string }[];
}

/** Maps whose keys are the object's content: a key the source has not is drift. */
const EXACT_MAPS = ['data', 'binaryData'];

const pointer = (path: string, key: string | number) =>
  `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** The first place where `actual` does not hold `desired` (a superset compare), '' when it does. */
function firstMissing(desired: unknown, actual: unknown, path: string): string | undefined {
  if (desired === actual) return undefined;
  if (desired instanceof Date || actual instanceof Date) {
    const time = (v: unknown) => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
    return time(desired) === time(actual) ? undefined : path || '/';
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return path || '/';
    for (let i = 0; i < desired.length; i++) {
      const at = firstMissing(desired[i], actual[i], pointer(path, i));
      if (at !== undefined) return at;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return path || '/';
    for (const [k, v] of Object.entries(desired)) {
      const at = firstMissing(v, (actual as Record<string, unknown>)[k], pointer(path, k));
      if (at !== undefined) return at;
    }
    return undefined;
  }
  return path || '/';
}

/**
 * How `actual` (the destination's copy) differs from `desired` (what the source would give it),
 * undefined when it holds everything we would write and no content key of its own.
 */
export function compareCopy(desired: KubeObject, actual: KubeObject): CopyDifference | undefined {
  const extraKeys: CopyDifference['extraKeys'] = [];
  for (const field of EXACT_MAPS) {
    const want = (desired[field] ?? {}) as Record<string, unknown>;
    const have = actual[field] as Record<string, unknown> | undefined;
    if (!have || typeof have !== 'object') continue;
    for (const key of Object.keys(have)) if (!(key in want)) extraKeys.push({ field, key });
  }
  const path = firstMissing(desired, actual, '');
  if (path === undefined && extraKeys.length === 0) return undefined;
  return { path: path ?? pointer(`/${extraKeys[0].field}`, extraKeys[0].key), extraKeys };
}

/** The body of a bucket original: the source object as read (the same bytes every time). */
export function originalBody(source: KubeObject): string {
  return JSON.stringify(source);
}

/**
 * Whether the bucket's ETag is the checksum of `body`: true or false when the ETag is a plain MD5,
 * undefined when it is not (a multipart upload, SSE-KMS) and cannot say.
 */
export function etagMatches(etag: string | undefined, body: string): boolean | undefined {
  const plain = etag?.replace(/"/g, '').toLowerCase();
  if (!plain || !/^[0-9a-f]{32}$/.test(plain)) return undefined;
  return createHash('md5').update(body).digest('hex') === plain;
}

/** One drifted object, for logs and Events. */
export interface DriftedObject {
  key: string;
  kind: DriftKind;
  /** Where a stale copy differs (a JSON pointer). */
  path?: string;
}

/**
 * A one-line summary of a comparison of type `type`: the counts that are not zero, and the first
 * objects by name (`examples` is already bounded by the caller).
 */
export function driftMessage(type: string, counts: DriftCounts, examples: DriftedObject[]): string {
  const parts = DRIFT_KINDS.filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
  const total = DRIFT_KINDS.reduce((n, k) => n + counts[k], 0);
  const named = examples.map((e) => `${e.key} (${e.kind}${e.path ? ` at ${e.path}` : ''})`);
  const more = total > examples.length ? `, and ${total - examples.length} more` : '';
  return `${type}: ${parts.join(', ')}; ${named.join(', ')}${more}`;
}
