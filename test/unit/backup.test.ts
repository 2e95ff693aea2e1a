/** Pure parts of Backup and restore: layout, manifest, what is taken, restore order and objects, counts. */
import { backupPrefix, runName, znodeChunkPath } from '../../src/bucket/layout.js';
import { MANIFEST_FORMAT, parseManifest, sha256 } from '../../src/bucket/manifest.js';
import { checkRestoreSource } from '../../src/plugins/backup-common.js';
import { planRestore, toRestore } from '../../src/plugins/bucket-to-kubernetes-objects/restore.js';
import { RestoreTally } from '../../src/plugins/bucket-to-kubernetes-objects/tally.js';
import {
  parseResourceFolder,
  restoreRank,
  typesToBackUp,
} from '../../src/plugins/kubernetes-objects-to-bucket/selection.js';
import { validatePluginSpec } from '../../src/plugins/index.js';

describe('backup layout', () => {
  it.each([
    [undefined, '_backups/dr/nightly/20261127T210000Z/'],
    ['', '_backups/dr/nightly/20261127T210000Z/'],
    ['k8s', 'k8s/_backups/dr/nightly/20261127T210000Z/'],
    ['/a/b/', 'a/b/_backups/dr/nightly/20261127T210000Z/'],
  ])('basePath %p gives %p', (basePath, prefix) => {
    expect(backupPrefix({ namespace: 'dr', name: 'nightly' }, '20261127T210000Z', basePath)).toBe(prefix);
  });

  it('names runs by their start time and chunks by number', () => {
    expect(runName(new Date('2026-11-27T21:00:00.123Z'))).toBe('20261127T210000Z');
    expect(znodeChunkPath(7)).toBe('znodes/000007.ndjson');
  });
});

describe('parseManifest', () => {
  const good = {
    format: MANIFEST_FORMAT,
    state: 'Complete',
    entries: [{ path: 'core-v1-configmaps/a.b', sha256: sha256('x'), bytes: 1, items: 1 }],
  };
  it('accepts a manifest of this format', () => {
    expect(parseManifest(JSON.stringify(good)).ok).toBe(true);
  });
  it.each([
    ['{', /not JSON/],
    ['[]', /format is undefined/],
    [JSON.stringify({ ...good, format: 'other/v9' }), /format is "other\/v9"/],
    [
      JSON.stringify({ ...good, entries: [{ path: 'x', sha256: 'nope' }] }),
      /entries\[0\]: needs a path and a sha256/,
    ],
    [JSON.stringify({ ...good, state: 'Done' }), /state: "Done"/],
  ])('refuses %p', (text, problem) => {
    const parsed = parseManifest(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toMatch(problem);
  });
});

describe('what a Kubernetes backup takes', () => {
  const t = (group: string, resource: string, namespaced = true, verbs = ['list', 'get', 'create']) => ({
    group,
    version: 'v1',
    resource,
    namespaced,
    verbs,
  });
  it('takes namespaced types it can list and create, not events, endpoints, leases or cluster-scoped types', () => {
    const chosen = typesToBackUp([
      t('', 'configmaps'),
      t('apps', 'deployments'),
      t('', 'events'),
      t('events.k8s.io', 'events'),
      t('', 'endpoints'),
      t('discovery.k8s.io', 'endpointslices'),
      t('coordination.k8s.io', 'leases'),
      t('', 'nodes', false),
      t('authorization.k8s.io', 'localsubjectaccessreviews', true, ['create']),
      t('example.com', 'widgets'),
    ]);
    expect(chosen.map((c) => `${c.group}/${c.resource}`)).toEqual([
      '/configmaps',
      'apps/deployments',
      'example.com/widgets',
    ]);
  });

  it.each([
    ['core-v1-configmaps', { group: '', version: 'v1', resource: 'configmaps' }],
    ['apps-v1-deployments', { group: 'apps', version: 'v1', resource: 'deployments' }],
    [
      'cert-manager.io-v1-certificate-requests',
      { group: 'cert-manager.io', version: 'v1', resource: 'certificate-requests' },
    ],
    ['example.com-v1beta2-widgets', { group: 'example.com', version: 'v1beta2', resource: 'widgets' }],
  ])('folder %p splits back into its type', (folder, gvr) => {
    expect(parseResourceFolder(folder)).toEqual(gvr);
  });

  it('restores CRDs, then namespaces, then config, then workloads, then other types, custom resources last', () => {
    const rank = (group: string, resource: string, custom = false) =>
      restoreRank({ group, resource }, custom);
    const order = [
      rank('apiextensions.k8s.io', 'customresourcedefinitions'),
      rank('', 'namespaces'),
      rank('', 'configmaps'),
      rank('apps', 'deployments'),
      rank('policy', 'poddisruptionbudgets'),
      rank('example.com', 'widgets', true),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(new Set(order).size).toBe(order.length);
  });
});

describe('planRestore', () => {
  const e = (path: string) => ({ path, sha256: sha256(path), bytes: 1, items: 1 });
  const entries = [
    e('example.com-v1-widgets/a.w'),
    e('apps-v1-deployments/a.web'),
    e('apps-v1-deployments/b.web'),
    e('core-v1-namespaces/_cluster.a'),
    e('core-v1-namespaces/_cluster.b'),
    e('apiextensions.k8s.io-v1-customresourcedefinitions/_cluster.widgets.example.com'),
    e('core-v1-configmaps/a.settings'),
  ];
  it('keeps the chosen namespaces (and their Namespace objects) in dependency order', () => {
    const plan = planRestore(entries, new Set(['a']));
    expect(plan.map((g) => [g.folder, g.entries.map((x) => x.path.split('/')[1])])).toEqual([
      ['apiextensions.k8s.io-v1-customresourcedefinitions', ['_cluster.widgets.example.com']],
      ['core-v1-namespaces', ['_cluster.a']],
      ['core-v1-configmaps', ['a.settings']],
      ['apps-v1-deployments', ['a.web']],
      ['example.com-v1-widgets', ['a.w']],
    ]);
  });
});

describe('toRestore', () => {
  it('cleans what the old cluster assigned and moves the object to its mapped namespace', () => {
    const out = toRestore(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'a', uid: 'u', resourceVersion: '9', labels: { app: 'web' } },
        spec: { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1'], ports: [{ port: 80 }] },
        status: { loadBalancer: {} },
      },
      { a: 'a2' },
    );
    expect(out).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'a2', labels: { app: 'web' } },
      spec: { ports: [{ port: 80 }] },
    });
  });

  it('renames a Namespace object and a RoleBinding subject with it', () => {
    const ns = toRestore(
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'a', labels: { 'kubernetes.io/metadata.name': 'a', team: 'x' } },
      },
      { a: 'a2' },
    );
    expect(ns.metadata).toEqual({ name: 'a2', labels: { team: 'x' } });
    const rb = toRestore(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'r', namespace: 'a' },
        subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'a' }],
      } as never,
      { a: 'a2' },
    ) as unknown as { subjects: { namespace: string }[] };
    expect(rb.subjects[0].namespace).toBe('a2');
  });
});

describe('RestoreTally', () => {
  it('counts per type and overall, and names the first failure', () => {
    const t = new RestoreTally();
    t.add('core-v1-configmaps', { object: 'a/x', result: 'created' });
    t.add('core-v1-configmaps', { object: 'a/y', result: 'skipped', reason: 'exists' });
    t.add('apps-v1-deployments', { object: 'a/web', result: 'failed', error: 'checksum' });
    expect(t.totals()).toEqual({ created: 1, updated: 0, skipped: 1, failed: 1 });
    expect(t.firstFailure()).toBe('a/web: checksum');
    expect(t.report('Backup b', 'dst')).toMatchObject({
      types: { 'core-v1-configmaps': { created: 1, skipped: 1 }, 'apps-v1-deployments': { failed: 1 } },
      failed: [{ object: 'a/web', error: 'checksum' }],
    });
  });
});

describe('restore config', () => {
  it('needs exactly one source', () => {
    expect(checkRestoreSource({})[0].message).toMatch(/set one of backup/);
    expect(
      checkRestoreSource({ backup: { name: 'b' }, bucket: { name: 'x', path: 'p' } })[0].message,
    ).toMatch(/only one/);
    expect(checkRestoreSource({ backup: { name: 'b' } })).toEqual([]);
  });

  it('names the field of a bad config', () => {
    const v = validatePluginSpec('Synchronization', {
      plugin: 'bucket-to-kubernetes-objects',
      config: {
        source: { backup: { name: 'b' } },
        destination: { kubernetesCluster: { name: 'd' } },
        existingResourcePolicy: 'overwrite',
        namespaceMapping: { a: 'x', b: 'x' },
      },
    });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.problems).toEqual([
      { path: 'spec.config.existingResourcePolicy', message: 'must be one of none, update' },
    ]);
    const twice = validatePluginSpec('Synchronization', {
      plugin: 'bucket-to-kubernetes-objects',
      config: {
        source: { backup: { name: 'b' } },
        destination: { kubernetesCluster: { name: 'd' } },
        namespaceMapping: { a: 'x', b: 'x' },
      },
    });
    expect(!twice.ok && twice.problems).toEqual([
      { path: 'spec.config.namespaceMapping', message: 'two namespaces are mapped to x' },
    ]);
  });

  it('a Backup names its plugin per source kind', () => {
    const v = validatePluginSpec('Backup', {
      plugin: 'kubernetes-objects-to-bucket',
      config: {
        source: { kubernetesCluster: { name: 'c', namespaces: ['Bad_NS'] } },
        destination: { bucket: { name: 'b' } },
      },
    });
    expect(!v.ok && v.problems[0].path).toBe('spec.config.source.kubernetesCluster.namespaces[0]');
  });
});
