/**
 * The entries of a LiveSynchronization grouped by type, and which entry owns an object: the pure
 * logic behind "entries of one type never prune each other's copies" (seed sample 6.1.3).
 */
import { replicationConditions } from '../../src/plugins/kubernetes-objects-to-kubernetes/conditions.js';
import type { ReplicatedResource } from '../../src/plugins/kubernetes-objects-to-kubernetes/index.js';
import {
  groupByType,
  passesNameFilter,
  selectEntry,
  transformationId,
  type SourceState,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/entries.js';

const deployments = (env: string, patch = 0): ReplicatedResource => ({
  group: 'apps',
  version: 'v1',
  resource: 'deployments',
  transformation: { patch: [{ op: 'replace', path: '/spec/replicas', value: patch }] },
  filters: { namespaceSelector: { matchLabels: { env } } },
});
const services = (env: string): ReplicatedResource => ({
  group: '',
  version: 'v1',
  resource: 'services',
  filters: { namespaceSelector: { matchLabels: { env } } },
});

describe('groupByType', () => {
  it('serves the two deployments entries and the two services entries of sample 6.1.3 by one engine each', () => {
    const groups = groupByType([
      deployments('pre'),
      deployments('pre-second'),
      services('pre'),
      services('pre-second'),
    ]);
    expect(groups.map((g) => [g.gvr, g.rules.map((r) => r.index)])).toEqual([
      [{ group: 'apps', version: 'v1', resource: 'deployments' }, [0, 1]],
      [{ group: '', version: 'v1', resource: 'services' }, [2, 3]],
    ]);
    expect(groups[0].rules[1].namespaceSelector).toBe('env=pre-second');
  });

  it('treats an absent group as the core group', () => {
    const groups = groupByType([
      { version: 'v1', resource: 'configmaps' },
      { group: '', version: 'v1', resource: 'configmaps' },
    ]);
    expect(groups).toHaveLength(1);
    expect(groups[0].rules.map((r) => r.index)).toEqual([0, 1]);
  });
});

describe('selectEntry', () => {
  const rules = groupByType([
    deployments('pre'),
    {
      ...deployments('pre-second', 2),
      filters: { ...deployments('pre-second').filters, nameSelector: { excludeRegex: ['-tmp$'] } },
    },
    {
      group: 'apps',
      version: 'v1',
      resource: 'deployments',
      filters: { selector: { matchLabels: { tier: 'db' } } },
    },
  ])[0].rules;
  const namespaces: Record<string, string[]> = { 'env=pre': ['a'], 'env=pre-second': ['b'] };
  const labelled = new Set(['c/db']); // objects the `tier=db` selector sees
  const state: SourceState<string> = {
    object: (selector, key) => (selector === undefined || labelled.has(key) ? key : undefined),
    namespaceMatches: (selector, ns) => namespaces[selector]?.includes(ns) ?? false,
  };

  it.each([
    ['a/web', 0],
    ['b/web', 1],
    ['b/web-tmp', undefined], // excluded by the second entry's name filter; no other entry selects it
    ['c/db', 2],
    ['c/web', undefined], // no entry: its copy is pruned
  ])('%s → entry %s', (key, index) => {
    expect(selectEntry(rules, key, state)?.rule.index).toBe(index);
  });

  it('gives an object selected by two entries to the first, whatever their order in the namespace', () => {
    namespaces['env=pre-second'].push('a');
    try {
      expect(selectEntry(rules, 'a/web', state)?.rule.index).toBe(0);
    } finally {
      namespaces['env=pre-second'].pop();
    }
  });

  it('never selects a cluster-scoped object for an entry with a namespaceSelector', () => {
    expect(selectEntry(rules.slice(0, 2), '/web', state)).toBeUndefined();
  });
});

describe('passesNameFilter', () => {
  const [rule] = groupByType([
    {
      version: 'v1',
      resource: 'configmaps',
      filters: { nameSelector: { regex: ['^config'], excludeRegex: ['\\.test$'] } },
    },
  ])[0].rules;
  it.each([
    ['config-a', true],
    ['config.test', false],
    ['other', false],
  ])('%s → %s', (name, passes) => expect(passesNameFilter(rule, name)).toBe(passes));
});

describe('transformationId', () => {
  it('is empty without a patch, stable for one patch and different for another', () => {
    expect(transformationId(services('pre'))).toBe('');
    expect(transformationId(deployments('pre'))).toBe(transformationId(deployments('other')));
    expect(transformationId(deployments('pre', 0))).not.toBe(transformationId(deployments('pre', 1)));
    expect(transformationId(deployments('pre'))).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('replicationConditions', () => {
  it('says Degraded=False when every entry replicates', () => {
    expect(replicationConditions(2, [])).toEqual([
      {
        type: 'Degraded',
        status: 'False',
        reason: 'AllEntriesReplicating',
        message: 'every resource entry replicates',
      },
    ]);
  });

  it('names each failing entry, and keeps Ready while some entries replicate', () => {
    const conditions = replicationConditions(2, [
      { index: 0, resource: 'example.com/v1/widgets', message: 'not served', whole: true },
    ]);
    expect(conditions).toEqual([
      {
        type: 'Degraded',
        status: 'True',
        reason: 'EntriesFailing',
        message: 'spec.config.replication.resources[0] (example.com/v1/widgets): not served',
      },
    ]);
  });

  it('says Ready=False when no entry replicates at all', () => {
    const conditions = replicationConditions(1, [
      { index: 0, resource: 'example.com/v1/widgets', message: 'not served', whole: true },
    ]);
    expect(conditions.find((c) => c.type === 'Ready')).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'ReplicationFailing',
      message:
        'no resource entry replicates: spec.config.replication.resources[0] (example.com/v1/widgets): not served',
    });
  });

  it('keeps Ready when an entry only has objects waiting for a change', () => {
    const conditions = replicationConditions(1, [
      { index: 0, resource: 'v1/configmaps', message: 'x', whole: false },
    ]);
    expect(conditions.map((c) => c.type)).toEqual(['Degraded']);
  });
});
