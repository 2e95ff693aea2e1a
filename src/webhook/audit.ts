/**
 * The audit-annotation decision of the mutating admission webhook, as pure functions (no I/O, the
 * clock is injected): given an `admission.k8s.io/v1` AdmissionReview request for one of our custom
 * resources, say which JSON patch to return.
 *
 * Astronetes documentation, section 5.1.4.1: the annotations `audit.astronetes.io/last-update-time`,
 * `audit.astronetes.io/last-update-user-uid` and `audit.astronetes.io/last-update-username` are
 * updated only when `.spec`, `.metadata.labels` or `.metadata.annotations` change; status updates
 * are not recorded. Here:
 *
 * - CREATE always counts as a change.
 * - UPDATE counts when the spec, the labels or the annotations differ, ignoring the three audit
 *   annotations themselves (an absent map and an empty one are the same). Status, finalizers,
 *   ownerReferences, managedFields and the like never count.
 * - On a change, the three annotations are (over)written, so values a user sends are replaced.
 * - Without a change, the audit annotations are put back to their old values (removed if the old
 *   object had none), so they cannot be forged by editing them alone.
 * - Requests on a subresource (`/status`) and other operations are allowed untouched.
 *
 * The response always allows the request: auditing never blocks a user.
 */
import { createHash } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

/** The audit annotation keys, as the Astronetes documentation names them. */
export const AUDIT_ANNOTATIONS = {
  time: 'audit.astronetes.io/last-update-time',
  userUid: 'audit.astronetes.io/last-update-user-uid',
  username: 'audit.astronetes.io/last-update-username',
} as const;

const AUDIT_KEYS: readonly string[] = Object.values(AUDIT_ANNOTATIONS);

/** The seed's `lastUpdate` log field (section 5.1.4.2): the audit annotations of a resource. */
export interface LastUpdate {
  time?: string;
  userUID?: string;
  username?: string;
}

/** The `lastUpdate` log field from a resource's annotations; undefined when it has none. */
export function lastUpdateOf(annotations: Record<string, string> | undefined): LastUpdate | undefined {
  const a = annotations ?? {};
  if (!a[AUDIT_ANNOTATIONS.time] && !a[AUDIT_ANNOTATIONS.username]) return undefined;
  return {
    time: a[AUDIT_ANNOTATIONS.time],
    userUID: a[AUDIT_ANNOTATIONS.userUid],
    username: a[AUDIT_ANNOTATIONS.username],
  };
}

/**
 * The namespace of the name-based (version 5) UUIDs made by {@link auditUserUid} for users without
 * a uid. Fixed forever: changing it would change every derived uid.
 */
export const AUDIT_UID_NAMESPACE = '6f1c7a52-3b1e-4c1f-9d0a-5e2b8c4d7a10';

/** `authentication.k8s.io/v1` UserInfo, as it comes in an admission request. */
export interface AdmissionUserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** A Kubernetes object as far as this webhook looks at it. */
export interface AdmissionObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: unknown;
  [key: string]: unknown;
}

/** The fields of an `admission.k8s.io/v1` AdmissionRequest this webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | string;
  userInfo?: AdmissionUserInfo;
  object?: AdmissionObject | null;
  oldObject?: AdmissionObject | null;
  dryRun?: boolean;
}

/** An `admission.k8s.io/v1` AdmissionResponse as this webhook writes it. */
export interface AdmissionResponse {
  uid: string;
  allowed: true;
  /** Base64 of the JSON patch, present only when there is something to change. */
  patch?: string;
  patchType?: 'JSONPatch';
}

/** An `admission.k8s.io/v1` AdmissionReview, in (with `request`) or out (with `response`). */
export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** What {@link decideAudit} decided, with the reason, for logs and tests. */
export interface AuditDecision {
  response: AdmissionResponse;
  /** The JSON patch (also base64-encoded in `response.patch` when not empty). */
  patch: Operation[];
  /**
   * `stamped`: a change to spec, labels or annotations, the audit annotations were set;
   * `restored`: no such change, audit annotations edited by the request were put back;
   * `unchanged`: nothing to do; `skipped`: not a CREATE/UPDATE of a main resource.
   */
  outcome: 'stamped' | 'restored' | 'unchanged' | 'skipped';
}

/** Options of {@link decideAudit}. */
export interface AuditOptions {
  /** The clock; `new Date()` by default. */
  now?: () => Date;
}

/**
 * The value of `audit.astronetes.io/last-update-user-uid` for a user.
 *
 * The user's `uid` when the authenticator gives one (service accounts, OIDC and webhook tokens).
 * Users without a uid, such as client-certificate users (CN=admin), get a stable hash of their
 * username instead, so the field is never blank: a name-based UUID (RFC 9562 version 5, SHA-1)
 * of the username in {@link AUDIT_UID_NAMESPACE}. The same username always gives the same value.
 */
export function auditUserUid(userInfo: AdmissionUserInfo | undefined): string {
  const uid = userInfo?.uid?.trim();
  if (uid) return uid;
  return uuidV5(AUDIT_UID_NAMESPACE, userInfo?.username ?? '');
}

/**
 * Decides the admission response for one request: the audit annotations to set, restore or leave.
 *
 * Pure: reads only its arguments and the injected clock. The response always has `allowed: true`
 * and the request's `uid`; `patch`/`patchType` are present only when the object must change. The
 * time is `Date#toISOString()` (RFC 3339, UTC, millisecond precision).
 */
export function decideAudit(request: AdmissionRequest, opts: AuditOptions = {}): AuditDecision {
  const skipped = (): AuditDecision => ({
    response: { uid: request.uid, allowed: true },
    patch: [],
    outcome: 'skipped',
  });
  const object = request.object;
  if (request.subResource || !object || (request.operation !== 'CREATE' && request.operation !== 'UPDATE'))
    return skipped();

  const changed = request.operation === 'CREATE' || hasAuditedChange(request.oldObject ?? undefined, object);
  const current = object.metadata?.annotations ?? {};
  let desired: Record<string, string>;
  if (changed) {
    desired = {
      ...current,
      [AUDIT_ANNOTATIONS.time]: (opts.now ?? (() => new Date()))().toISOString(),
      [AUDIT_ANNOTATIONS.userUid]: auditUserUid(request.userInfo),
      [AUDIT_ANNOTATIONS.username]: request.userInfo?.username ?? '',
    };
  } else {
    const old = request.oldObject?.metadata?.annotations ?? {};
    desired = withoutAuditKeys(current);
    for (const key of AUDIT_KEYS) if (old[key] !== undefined) desired[key] = old[key];
  }

  const patch = annotationsPatch(object, desired);
  const outcome = changed ? 'stamped' : patch.length > 0 ? 'restored' : 'unchanged';
  if (patch.length === 0) return { response: { uid: request.uid, allowed: true }, patch, outcome };
  return {
    response: {
      uid: request.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    },
    patch,
    outcome,
  };
}

/**
 * Answers an AdmissionReview: the same `apiVersion` and `kind`, the response of {@link decideAudit}.
 * The caller checks that `review.request` is present.
 */
export function reviewAudit(
  review: AdmissionReview & { request: AdmissionRequest },
  opts: AuditOptions = {},
): { review: AdmissionReview; decision: AuditDecision } {
  const decision = decideAudit(review.request, opts);
  return {
    review: { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: decision.response },
    decision,
  };
}

/**
 * Whether `.spec`, `.metadata.labels` or `.metadata.annotations` (audit annotations aside) differ
 * between the old and the new object. No old object counts as a change.
 */
export function hasAuditedChange(
  oldObject: AdmissionObject | undefined,
  newObject: AdmissionObject,
): boolean {
  if (!oldObject) return true;
  if (!deepEqual(oldObject.spec, newObject.spec)) return true;
  if (!deepEqual(oldObject.metadata?.labels ?? {}, newObject.metadata?.labels ?? {})) return true;
  return !deepEqual(
    withoutAuditKeys(oldObject.metadata?.annotations ?? {}),
    withoutAuditKeys(newObject.metadata?.annotations ?? {}),
  );
}

/** The JSON patch that turns the object's annotations into `desired` (keys escaped, `/` → `~1`). */
function annotationsPatch(object: AdmissionObject, desired: Record<string, string>): Operation[] {
  const annotations = object.metadata?.annotations;
  if (deepEqual(annotations ?? {}, desired)) return [];
  // Compare only the metadata subtree: fast-json-patch adds the whole map when it is absent and
  // escapes `/` and `~` in keys. An object without metadata at all gets it whole.
  if (!object.metadata) return [{ op: 'add', path: '/metadata', value: { annotations: desired } }];
  return jsonpatch
    .compare(annotations ? { annotations } : {}, { annotations: desired })
    .map((op) => ({ ...op, path: `/metadata${op.path}` }) as Operation);
}

function withoutAuditKeys(annotations: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter(([key]) => !AUDIT_KEYS.includes(key)));
}

/**
 * Structural equality of JSON values, key order aside: the comparison fast-json-patch uses for its
 * `test` operation (unlike util.isDeepStrictEqual, it ignores prototypes, that is JS realms).
 */
function deepEqual(a: unknown, b: unknown): boolean {
  return jsonpatch._areEquals(a, b);
}

/** A name-based UUID, version 5 (SHA-1), as RFC 9562 section 5.5 defines it. */
function uuidV5(namespace: string, name: string): string {
  const bytes = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
