/**
 * What happens to one object on its way from the source to the destination, as pure functions:
 * clean what must not be copied, apply the user's JSON patch, mark it as owned by its
 * LiveSynchronization. The bucket gets the object as read from the source, before all this.
 */
import { createHash } from 'node:crypto';
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { PatchOperation } from '../common.js';

/** Label on every replicated object: a hash of the owning LiveSynchronization, valid for any name length. */
export const OWNER_LABEL = 'replication.astronetes.io/owner';
/** Annotation naming the owner in full: `<namespace>/<name>`. */
export const OWNER_ANNOTATION = 'replication.astronetes.io/livesynchronization';
/** Annotation with the source object's resourceVersion when it was written. */
export const SOURCE_VERSION_ANNOTATION = 'replication.astronetes.io/source-resource-version';
/** Annotation identifying the transformation a copy was written with (absent: none). */
export const TRANSFORMATION_ANNOTATION = 'replication.astronetes.io/transformation';

/** A Kubernetes object, loosely typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/**
 * The owner label value of a LiveSynchronization: `ls-` and 40 hex characters of a SHA-256 of
 * `<namespace>/<name>`, so it is a valid label value (≤ 63 characters) for any name length.
 */
export function ownerLabelValue(owner: { namespace: string; name: string }): string {
  return `ls-${createHash('sha256').update(`${owner.namespace}/${owner.name}`).digest('hex').slice(0, 40)}`;
}

/** Metadata fields the destination assigns itself. */
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'managedFields',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

/** Annotations that describe the source's own bookkeeping, not the object. */
const SOURCE_ONLY_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
];

/**
 * A copy of `obj` without what must not reach the destination: server-assigned metadata, status
 * (the destination's controllers own it), owner references (their uids exist only in the source)
 * and cluster-specific fields (a Service's cluster IPs and node ports, a Pod's node).
 */
export function cleanForDestination(obj: KubeObject): KubeObject {
  // Objects come from JSON and go to JSON: a JSON round trip is the exact copy, and several
  // times cheaper than structuredClone on the write path.
  const copy = JSON.parse(JSON.stringify(obj)) as KubeObject;
  delete copy.status;
  const meta = copy.metadata ?? {};
  for (const f of SERVER_METADATA) delete meta[f];
  delete meta.ownerReferences;
  if (meta.annotations) {
    for (const a of SOURCE_ONLY_ANNOTATIONS) delete meta.annotations[a];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  const spec = copy.spec as Record<string, unknown> | undefined;
  if (copy.kind === 'Service' && spec) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    delete spec.healthCheckNodePort;
    for (const p of (spec.ports as Record<string, unknown>[] | undefined) ?? []) delete p.nodePort;
  }
  if (copy.kind === 'Pod' && spec) delete spec.nodeName;
  if (copy.kind === 'PersistentVolumeClaim' && spec) delete spec.volumeName;
  return copy;
}

function pathExists(doc: unknown, pointer: string): boolean {
  let cur: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(seg in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return true;
}

/** Result of {@link applyUserPatch}. */
export type PatchResult = { ok: true; object: KubeObject } | { ok: false; error: string };

/**
 * Applies the user's JSON patch (RFC 6902, `delete` already normalized to `remove`). With
 * `skipIfNotFoundOnDelete`, a `remove` of a missing path is skipped instead of failing.
 */
export function applyUserPatch(
  obj: KubeObject,
  ops: PatchOperation[] | undefined,
  options: { skipIfNotFoundOnDelete?: boolean } = {},
): PatchResult {
  if (!ops || ops.length === 0) return { ok: true, object: obj };
  const effective = options.skipIfNotFoundOnDelete
    ? ops.filter((op) => op.op !== 'remove' || pathExists(obj, op.path))
    : ops;
  try {
    const { newDocument } = jsonpatch.applyPatch(obj, effective as Operation[], true, false);
    return { ok: true, object: newDocument };
  } catch (err) {
    const e = err as { name?: string; message?: string; index?: number; operation?: unknown };
    // fast-json-patch's validator reports index 0 for any operation; the operation itself is right.
    const found = e.operation !== undefined ? effective.indexOf(e.operation as PatchOperation) : -1;
    const index = found >= 0 ? found : e.index;
    const at = index !== undefined ? ` (operation ${index}: ${JSON.stringify(effective[index])})` : '';
    return { ok: false, error: `${(e.message ?? String(err)).split('\n')[0]}${at}` };
  }
}

/**
 * Marks `obj` as owned by the LiveSynchronization and records the source version it came from
 * and, when there is one, the transformation it was written with.
 */
export function markOwned(
  obj: KubeObject,
  owner: { namespace: string; name: string },
  source: KubeObject,
  transformation = '',
): KubeObject {
  const meta = (obj.metadata ??= {});
  meta.labels = { ...meta.labels, [OWNER_LABEL]: ownerLabelValue(owner) };
  meta.annotations = {
    ...meta.annotations,
    [OWNER_ANNOTATION]: `${owner.namespace}/${owner.name}`,
    [SOURCE_VERSION_ANNOTATION]: source.metadata?.resourceVersion ?? '',
    ...(transformation ? { [TRANSFORMATION_ANNOTATION]: transformation } : {}),
  };
  return obj;
}

/** Whether `obj` is owned by the LiveSynchronization (label and annotation agree). */
export function isOwnedBy(obj: KubeObject, owner: { namespace: string; name: string }): boolean {
  return (
    obj.metadata?.labels?.[OWNER_LABEL] === ownerLabelValue(owner) &&
    obj.metadata?.annotations?.[OWNER_ANNOTATION] === `${owner.namespace}/${owner.name}`
  );
}

/**
 * Whether source version `incoming` is newer than `written` (what the destination copy came from).
 * Versions from one etcd are integers; anything else is treated as newer (the write is idempotent).
 */
export function isNewerVersion(incoming: string | undefined, written: string | undefined): boolean {
  if (!written) return true;
  if (!incoming) return false;
  if (/^\d+$/.test(incoming) && /^\d+$/.test(written)) return BigInt(incoming) > BigInt(written);
  return incoming !== written;
}

/** The whole way to the destination: clean, patch, mark. */
export function toDestination(
  source: KubeObject,
  owner: { namespace: string; name: string },
  patch?: { ops?: PatchOperation[]; skipIfNotFoundOnDelete?: boolean; id?: string },
): PatchResult {
  const patched = applyUserPatch(cleanForDestination(source), patch?.ops, {
    skipIfNotFoundOnDelete: patch?.skipIfNotFoundOnDelete,
  });
  if (!patched.ok) return patched;
  return { ok: true, object: markOwned(patched.object, owner, source, patch?.id) };
}
