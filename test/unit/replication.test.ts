import {
  backupPrefix,
  liveSyncPrefix,
  objectKey,
  objectPath,
  parseObjectKey,
  quarantinePrefix,
} from '../../src/bucket/layout.js';
import { formatLabelSelector } from '../../src/kube/selectors.js';
import {
  applyUserPatch,
  cleanForDestination,
  isNewerVersion,
  isOwnedBy,
  OWNER_LABEL,
  ownerLabelValue,
  toDestination,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';

const owner = { namespace: 'dr-config', name: 'pre' };

describe('bucket layout', () => {
  it.each([
    [
      { group: 'apps', version: 'v1', resource: 'deployments' },
      { namespace: 'test-namespace-one', name: 'helloworld' },
      'dr-config/pre/apps-v1-deployments/test-namespace-one.helloworld',
    ],
    [
      { group: '', version: 'v1', resource: 'configmaps' },
      { namespace: 'team-a', name: 'settings.v2' },
      'dr-config/pre/core-v1-configmaps/team-a.settings.v2',
    ],
    [
      { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles' },
      { name: 'admin' },
      'dr-config/pre/rbac.authorization.k8s.io-v1-clusterroles/_cluster.admin',
    ],
  ])('%j %j → %s, and back', (gvr, obj, key) => {
    expect(objectKey(owner, gvr, obj)).toBe(key);
    expect(key.startsWith(liveSyncPrefix(owner))).toBe(true);
    expect(parseObjectKey(key)).toMatchObject({
      liveSync: owner,
      namespace: (obj as { namespace?: string }).namespace,
      name: obj.name,
    });
  });

  it('gives Backups and quarantine prefixes no namespace can start, with the same object paths', () => {
    const path = objectPath(
      { group: 'apps', version: 'v1', resource: 'deployments' },
      { namespace: 'a', name: 'w' },
    );
    expect(path).toBe('apps-v1-deployments/a.w');
    const backup = backupPrefix({ namespace: 'dr-config', name: 'nightly' }, '20261127T210000Z');
    expect(backup).toBe('_backups/dr-config/nightly/20261127T210000Z/');
    const quarantine = quarantinePrefix(owner, '20261127T210000Z');
    expect(quarantine).toBe('_quarantine/dr-config/pre/20261127T210000Z/');
    // Not mistaken for a LiveSynchronization's key.
    expect(parseObjectKey(`${backup}${path}`)).toBeUndefined();
  });
});

describe('formatLabelSelector', () => {
  it.each([
    [undefined, undefined],
    [{}, undefined],
    [{ matchLabels: { env: 'pre', 'disaster-recovery': 'enabled' } }, 'disaster-recovery=enabled,env=pre'],
    [
      {
        matchExpressions: [
          { key: 'tier', operator: 'In' as const, values: ['web', 'api'] },
          { key: 'legacy', operator: 'DoesNotExist' as const },
        ],
      },
      'tier in (api,web),!legacy',
    ],
    [
      {
        matchExpressions: [
          { key: 'a', operator: 'NotIn' as const, values: ['x'] },
          { key: 'b', operator: 'Exists' as const },
        ],
      },
      'a notin (x),b',
    ],
  ])('%j → %s', (selector, text) => expect(formatLabelSelector(selector)).toBe(text));
});

describe('cleaning, patching, marking', () => {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'pre',
      uid: 'u1',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
      managedFields: [{}],
      ownerReferences: [{ uid: 'x' }],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' },
    },
    spec: {
      clusterIP: '10.0.0.7',
      clusterIPs: ['10.0.0.7'],
      ports: [{ port: 80, nodePort: 30080 }],
      selector: { app: 'web' },
    },
    status: { loadBalancer: {} },
  };

  it('removes what the destination owns or what would dangle, and keeps the rest', () => {
    const clean = cleanForDestination(service);
    expect(clean).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'pre', annotations: { keep: 'me' } },
      spec: { ports: [{ port: 80 }], selector: { app: 'web' } },
    });
    expect(service.spec.clusterIP).toBe('10.0.0.7'); // the source object is untouched
  });

  it('marks ownership with a label valid for very long names, and the source version', () => {
    const longOwner = { namespace: 'n'.repeat(63), name: 'l'.repeat(253) };
    const out = toDestination(service, longOwner);
    if (!out.ok) throw new Error(out.error);
    const meta = out.object.metadata as typeof service.metadata & { labels: Record<string, string> };
    expect(meta.labels[OWNER_LABEL]).toMatch(/^ls-[0-9a-f]{40}$/);
    expect(meta.labels[OWNER_LABEL].length).toBeLessThanOrEqual(63);
    expect(meta.annotations).toMatchObject({
      'replication.astronetes.io/source-resource-version': '42',
    });
    expect(isOwnedBy(out.object, longOwner)).toBe(true);
    expect(isOwnedBy(out.object, owner)).toBe(false);
    expect(ownerLabelValue(owner)).not.toBe(ownerLabelValue({ namespace: 'dr-config', name: 'pro' }));
  });

  it('applies the seed transformation (replicas 0) and reports a patch that does not apply', () => {
    const deployment = {
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas: 3, strategy: { type: 'Recreate' } },
    };
    const ok = applyUserPatch(deployment, [
      { op: 'replace', path: '/spec/replicas', value: 0 },
      { op: 'remove', path: '/spec/strategy' },
    ]);
    expect(ok).toEqual({
      ok: true,
      object: { kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 0 } },
    });
    const bad = applyUserPatch(deployment, [{ op: 'replace', path: '/labels/test', value: 'ok' }]);
    expect(bad.ok).toBe(false);
    expect((bad as { error: string }).error).toMatch(/operation 0.*\/labels\/test/);
    // The failing operation is named by its own index, not the first one's.
    const second = applyUserPatch(deployment, [
      { op: 'replace', path: '/spec/replicas', value: 2 },
      { op: 'add', path: '/spec/template/env/-', value: 'x' },
    ]);
    expect((second as { error: string }).error).toMatch(/operation 1: .*\/spec\/template\/env\/-/);
  });

  it('skips a remove of a missing path with skipIfNotFoundOnDelete, and fails without it', () => {
    const obj = { kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 3 } };
    const ops = [{ op: 'remove' as const, path: '/spec/strategy' }];
    expect(applyUserPatch(obj, ops, { skipIfNotFoundOnDelete: true })).toEqual({ ok: true, object: obj });
    expect(applyUserPatch(obj, ops).ok).toBe(false);
  });
});

describe('isNewerVersion', () => {
  it.each([
    ['10', undefined, true],
    ['10', '9', true],
    ['9', '10', false],
    ['10', '10', false],
    ['100000000000000000001', '100000000000000000000', true],
  ])('%s over %s → %s', (incoming, written, newer) => expect(isNewerVersion(incoming, written)).toBe(newer));
});
