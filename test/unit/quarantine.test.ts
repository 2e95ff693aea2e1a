import {
  expiredQuarantineFolders,
  newestQuarantined,
  quarantineKey,
  quarantineRoot,
  runName,
  runTime,
} from '../../src/bucket/layout.js';
import type { Resource } from '../../src/api/types.js';
import { formatProblems } from '../../src/plugins/index.js';
import { validateResource } from '../../src/validate.js';

const ls = { namespace: 'dr-config', name: 'pre' };
const deployments = { group: 'apps', version: 'v1', resource: 'deployments' };

describe('the quarantine layout', () => {
  it('keys an object under its prune time, then the same path as the originals', () => {
    expect(quarantineKey(ls, '20261128T083500Z', deployments, { namespace: 'a', name: 'web' })).toBe(
      '_quarantine/dr-config/pre/20261128T083500Z/apps-v1-deployments/a.web',
    );
    expect(
      quarantineKey(
        ls,
        '20261128T083500Z',
        { group: '', version: 'v1', resource: 'namespaces' },
        { name: 'x' },
      ),
    ).toBe('_quarantine/dr-config/pre/20261128T083500Z/core-v1-namespaces/_cluster.x');
  });

  it('reads a folder time back', () => {
    const at = new Date('2026-11-28T08:35:07.250Z');
    expect(runTime(runName(at))).toBe(Date.parse('2026-11-28T08:35:07Z'));
    expect(runTime('not-a-time')).toBeUndefined();
  });

  it('expires the folders older than the retention, never a folder that is not a time', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    const folders = ['20261121T115959Z', '20261121T120001Z', '20261128T115000Z', 'stray'];
    expect(expiredQuarantineFolders(folders, now, 7 * 24 * 3600_000)).toEqual(['20261121T115959Z']);
    expect(expiredQuarantineFolders(folders, now, 1000)).toEqual([
      '20261121T115959Z',
      '20261121T120001Z',
      '20261128T115000Z',
    ]);
  });

  it('restores the newest copy of each object of the type, from the folders the prefix names', () => {
    const root = quarantineRoot(ls);
    const keys = [
      `${root}20261127T100000Z/apps-v1-deployments/a.web`,
      `${root}20261128T090000Z/apps-v1-deployments/a.web`,
      `${root}20261128T080000Z/apps-v1-deployments/a.api`,
      `${root}20261128T080000Z/core-v1-configmaps/a.web`,
      `${root}20261129T000000Z/apps-v1-deployments/a.db`,
    ];
    expect(newestQuarantined(keys, root, deployments, '20261128').sort()).toEqual([
      `${root}20261128T080000Z/apps-v1-deployments/a.api`,
      `${root}20261128T090000Z/apps-v1-deployments/a.web`,
    ]);
    expect(newestQuarantined(keys, root, deployments, '').sort()).toEqual([
      `${root}20261128T080000Z/apps-v1-deployments/a.api`,
      `${root}20261128T090000Z/apps-v1-deployments/a.web`,
      `${root}20261129T000000Z/apps-v1-deployments/a.db`,
    ]);
  });
});

describe('the quarantine settings', () => {
  const liveSync = (quarantine: unknown): Pick<Resource, 'kind' | 'spec'> => ({
    kind: 'LiveSynchronization',
    spec: {
      plugin: 'kubernetes-objects-to-kubernetes',
      config: {
        sourceName: 's',
        destinationName: 'd',
        replication: { quarantine, resources: [{ version: 'v1', resource: 'configmaps' }] },
      },
    } as never,
  });
  const task = (fromOriginal: unknown): Pick<Resource, 'kind' | 'spec'> => ({
    kind: 'Task',
    spec: {
      plugin: 'kubernetes-objects-transformation',
      config: { resources: [{ identifier: { version: 'v1', resource: 'configmaps' }, fromOriginal }] },
    } as never,
  });

  it.each([[{ retention: '168h' }], [{ retention: '30s' }], [{}]])('accepts the retention %j', (q) => {
    expect(formatProblems(validateResource(liveSync(q)).problems)).toBe('');
  });

  it('refuses a retention that is not a duration, naming the field', () => {
    expect(formatProblems(validateResource(liveSync({ retention: 'a week' })).problems)).toMatch(
      /spec\.config\.replication\.quarantine\.retention: "a week" is not a duration/,
    );
  });

  it.each(['', '2026', '20261128T0835', '20261128T083500Z'])('accepts the quarantine prefix "%s"', (q) => {
    const fromOriginal = { bucketName: 'b', liveSynchronization: 'dr/live', quarantine: q };
    expect(formatProblems(validateResource(task(fromOriginal)).problems)).toBe('');
  });

  it('refuses a quarantine prefix that is not the start of a time, naming the field', () => {
    const fromOriginal = { bucketName: 'b', liveSynchronization: 'dr/live', quarantine: 'yesterday' };
    expect(formatProblems(validateResource(task(fromOriginal)).problems)).toMatch(
      /spec\.config\.resources\[0\]\.fromOriginal\.quarantine: "yesterday" is not the start of a quarantine folder's time/,
    );
  });
});
