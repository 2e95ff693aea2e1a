/**
 * The audit webhook's decision (src/webhook/audit.ts): which requests set the audit annotations,
 * which leave them or put them back, and the JSON patch it answers with.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import {
  AUDIT_ANNOTATIONS,
  auditUserUid,
  decideAudit,
  reviewAudit,
  type AdmissionObject,
  type AdmissionRequest,
  type AuditDecision,
} from '../../src/webhook/audit.js';

const NOW = new Date('2024-02-09T14:05:30.675Z');
const now = () => NOW;
const TIME = AUDIT_ANNOTATIONS.time;
const UID = AUDIT_ANNOTATIONS.userUid;
const USER = AUDIT_ANNOTATIONS.username;

const alice = {
  username: 'system:serviceaccount:preproduction:microservice1',
  uid: 'b3fd2a87-0547-4ff7-a49f-cce903cc2b61',
};
const oldAudit = {
  [TIME]: '2023-01-01T00:00:00.000Z',
  [UID]: '11111111-1111-1111-1111-111111111111',
  [USER]: 'bob',
};
const stamped = { [TIME]: NOW.toISOString(), [UID]: alice.uid, [USER]: alice.username };

/** A LiveSynchronization with audit annotations from an earlier change, and a status. */
function liveSync(): AdmissionObject {
  return {
    apiVersion: 'automation.astronetes.io/v1alpha1',
    kind: 'LiveSynchronization',
    metadata: {
      name: 'pre',
      namespace: 'dr-config',
      uid: 'c0ffee00-0000-4000-8000-000000000001',
      resourceVersion: '41',
      generation: 1,
      labels: { env: 'pre' },
      annotations: { note: 'hello', ...oldAudit },
      finalizers: [],
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    },
    spec: { plugin: 'kubernetes-objects-to-kubernetes', suspend: false, config: { sourceName: 'source' } },
    status: { phase: 'Running' },
  };
}

function update(edit: (o: AdmissionObject) => void, base: AdmissionObject = liveSync()): AdmissionRequest {
  const object = structuredClone(base);
  edit(object);
  return { uid: 'req-1', operation: 'UPDATE', userInfo: alice, object, oldObject: base };
}

/** The object's annotations after the decision's patch is applied, as the API server would. */
function annotationsAfter(
  request: AdmissionRequest,
  decision: AuditDecision,
): Record<string, string> | undefined {
  const patch = decision.response.patch
    ? (JSON.parse(Buffer.from(decision.response.patch, 'base64').toString('utf8')) as Operation[])
    : [];
  const result = jsonpatch.applyPatch(structuredClone(request.object), patch, true, false).newDocument;
  return result?.metadata?.annotations;
}

type Case = [string, AdmissionRequest, Record<string, string> | undefined, AuditDecision['outcome']];

const withoutAudit = { note: 'hello' };

const cases: Case[] = [
  [
    'CREATE stamps the annotations, overwriting values the user sent',
    {
      uid: 'req-1',
      operation: 'CREATE',
      userInfo: alice,
      object: { ...liveSync(), metadata: { name: 'pre', annotations: { note: 'hello', [USER]: 'forged' } } },
    },
    { note: 'hello', ...stamped },
    'stamped',
  ],
  [
    'a spec change stamps',
    update((o) => ((o.spec as { suspend: boolean }).suspend = true)),
    { ...withoutAudit, ...stamped },
    'stamped',
  ],
  [
    'a label change stamps',
    update((o) => (o.metadata!.labels = { env: 'pro' })),
    { ...withoutAudit, ...stamped },
    'stamped',
  ],
  [
    'a label removed to nothing stamps',
    update((o) => delete o.metadata!.labels),
    { ...withoutAudit, ...stamped },
    'stamped',
  ],
  [
    'an annotation change stamps',
    update((o) => (o.metadata!.annotations!.note = 'changed')),
    { note: 'changed', ...stamped },
    'stamped',
  ],
  [
    'an annotation change together with forged audit values stamps the real values',
    update((o) => (o.metadata!.annotations = { note: 'changed', [USER]: 'forged', [TIME]: 'yesterday' })),
    { note: 'changed', ...stamped },
    'stamped',
  ],
  [
    'a status-only change leaves them',
    update((o) => (o.status = { phase: 'Failed' })),
    { note: 'hello', ...oldAudit },
    'unchanged',
  ],
  [
    'a finalizer-only change leaves them',
    update((o) => (o.metadata!.finalizers = ['automation.astronetes.io/cleanup'])),
    { note: 'hello', ...oldAudit },
    'unchanged',
  ],
  [
    'ownerReferences and managedFields changes leave them',
    update((o) => {
      o.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'x' }];
      o.metadata!.managedFields = [];
      o.metadata!.resourceVersion = '42';
    }),
    { note: 'hello', ...oldAudit },
    'unchanged',
  ],
  [
    'a re-apply with stale audit values and no other change leaves them (restored)',
    update((o) => (o.metadata!.annotations = { note: 'hello', ...oldAudit, [TIME]: '2020-01-01T00:00:00Z' })),
    { note: 'hello', ...oldAudit },
    'restored',
  ],
  [
    'a forged username on a no-change update is put back',
    update((o) => (o.metadata!.annotations![USER] = 'system:admin')),
    { note: 'hello', ...oldAudit },
    'restored',
  ],
  [
    'audit annotations deleted on a no-change update are put back',
    update((o) => (o.metadata!.annotations = { note: 'hello' })),
    { note: 'hello', ...oldAudit },
    'restored',
  ],
  [
    'forged audit annotations on an object that never had them are removed',
    update(
      (o) => (o.metadata!.annotations = { [USER]: 'system:admin' }),
      ((o) => (delete o.metadata!.annotations, o))(liveSync()),
    ),
    {},
    'restored',
  ],
  [
    'an absent annotations map gets the whole map on CREATE',
    {
      uid: 'req-1',
      operation: 'CREATE',
      userInfo: alice,
      object: { kind: 'Bucket', metadata: { name: 'b', namespace: 'dr' }, spec: {} },
    },
    stamped,
    'stamped',
  ],
  [
    'an empty annotations map and an absent one are the same (no change)',
    update((o) => (o.metadata!.annotations = {}), ((o) => (delete o.metadata!.annotations, o))(liveSync())),
    {},
    'unchanged',
  ],
  [
    'a status subresource request is skipped even with a spec difference',
    { ...update((o) => ((o.spec as { suspend: boolean }).suspend = true)), subResource: 'status' },
    { ...withoutAudit, ...oldAudit },
    'skipped',
  ],
  [
    'DELETE is skipped',
    { uid: 'req-1', operation: 'DELETE', userInfo: alice, object: null, oldObject: liveSync() },
    undefined,
    'skipped',
  ],
];

describe('decideAudit', () => {
  it.each(cases)('%s', (_name, request, expected, outcome) => {
    const decision = decideAudit(request, { now });
    expect(decision.outcome).toBe(outcome);
    expect(decision.response).toMatchObject({ uid: 'req-1', allowed: true });
    if (request.object) expect(annotationsAfter(request, decision) ?? {}).toEqual(expected ?? {});
    if (decision.patch.length === 0) {
      expect(decision.response.patch).toBeUndefined();
      expect(decision.response.patchType).toBeUndefined();
    } else {
      expect(decision.response.patchType).toBe('JSONPatch');
    }
  });

  it.each<[string, AdmissionObject, Operation[]]>([
    [
      'adds the whole map when metadata.annotations is absent',
      { kind: 'Task', metadata: { name: 't' } },
      [{ op: 'add', path: '/metadata/annotations', value: stamped }],
    ],
    [
      'escapes "/" in annotation keys as ~1',
      { kind: 'Task', metadata: { name: 't', annotations: { a: 'b' } } },
      [
        {
          op: 'add',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-time',
          value: stamped[TIME],
        },
        {
          op: 'add',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-user-uid',
          value: alice.uid,
        },
        {
          op: 'add',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-username',
          value: alice.username,
        },
      ],
    ],
    [
      'replaces existing values in place',
      { kind: 'Task', metadata: { name: 't', annotations: { ...oldAudit } } },
      [
        {
          op: 'replace',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-username',
          value: alice.username,
        },
        {
          op: 'replace',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-user-uid',
          value: alice.uid,
        },
        {
          op: 'replace',
          path: '/metadata/annotations/audit.astronetes.io~1last-update-time',
          value: stamped[TIME],
        },
      ],
    ],
  ])('%s', (_name, object, patch) => {
    const decision = decideAudit({ uid: 'u', operation: 'CREATE', userInfo: alice, object }, { now });
    expect(decision.patch).toEqual(expect.arrayContaining(patch));
    expect(decision.patch).toHaveLength(patch.length);
    expect(JSON.parse(Buffer.from(decision.response.patch!, 'base64').toString('utf8'))).toEqual(
      decision.patch,
    );
  });

  it('uses the real clock by default, in RFC 3339 UTC', () => {
    const decision = decideAudit({
      uid: 'u',
      operation: 'CREATE',
      userInfo: alice,
      object: { metadata: {} },
    });
    const value = decision.patch[0] as { value: Record<string, string> };
    expect(value.value[TIME]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  });
});

describe('auditUserUid', () => {
  it.each([
    ['the uid when the authenticator gives one', { username: 'x', uid: 'abc' }, 'abc'],
    [
      'a version 5 UUID of the username otherwise',
      { username: 'admin' },
      expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    ],
    ['never blank, even without a username', {}, expect.stringMatching(/^[0-9a-f-]{36}$/)],
  ])('%s', (_name, userInfo, expected) => {
    expect(auditUserUid(userInfo)).toEqual(expected);
  });

  it('is the RFC 9562 UUIDv5 of the username (the value Python uuid.uuid5 gives), pinned forever', () => {
    expect(auditUserUid({ username: 'admin' })).toBe('19d6ab73-2cf8-5eef-a865-8da15c00495c');
  });

  it('is stable per username and differs between usernames', () => {
    expect(auditUserUid({ username: 'admin', uid: '' })).toBe(auditUserUid({ username: 'admin' }));
    expect(auditUserUid({ username: 'admin' })).not.toBe(auditUserUid({ username: 'admin2' }));
  });
});

describe('reviewAudit', () => {
  it('answers with the same apiVersion and the request uid', () => {
    const { review } = reviewAudit(
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
          operation: 'CREATE',
          object: { metadata: {} },
        },
      },
      { now },
    );
    expect(review).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' },
    });
    expect(review.request).toBeUndefined();
  });
});
