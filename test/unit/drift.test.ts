import { createHash } from 'node:crypto';
import {
  addDrift,
  compareCopy,
  driftMessage,
  etagMatches,
  isClean,
  noDrift,
  originalBody,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/drift.js';

const desired = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'a', namespace: 'ns', labels: { app: 'x' } },
  data: { one: '1', two: '2' },
};

describe('compareCopy', () => {
  it('accepts a copy that holds everything we write, with what the destination adds itself', () => {
    const actual = {
      ...desired,
      metadata: { ...desired.metadata, uid: 'u', resourceVersion: '9', labels: { app: 'x', added: 'y' } },
    };
    expect(compareCopy(desired, actual)).toBeUndefined();
  });

  it('names the first field a hand edit changed', () => {
    const actual = { ...desired, data: { one: '1', two: 'edited' } };
    expect(compareCopy(desired, actual)).toEqual({ path: '/data/two', extraKeys: [] });
  });

  it('names a field a hand edit removed', () => {
    const actual = { ...desired, metadata: { name: 'a', namespace: 'ns' } };
    expect(compareCopy(desired, actual)?.path).toBe('/metadata/labels');
  });

  it('reports data keys the source has not, for the revert to remove', () => {
    const actual = { ...desired, data: { ...desired.data, 'x/y': 'added' } };
    expect(compareCopy(desired, actual)).toEqual({
      path: '/data/x~1y',
      extraKeys: [{ field: 'data', key: 'x/y' }],
    });
  });

  it('compares arrays element by element, and their length', () => {
    const want = { ...desired, spec: { ports: [{ port: 80 }, { port: 443 }] } };
    expect(
      compareCopy(want, { ...want, spec: { ports: [{ port: 80, protocol: 'TCP' }, { port: 443 }] } }),
    ).toBeUndefined();
    expect(compareCopy(want, { ...want, spec: { ports: [{ port: 80 }] } })?.path).toBe('/spec/ports');
    expect(compareCopy(want, { ...want, spec: { ports: [{ port: 80 }, { port: 8443 }] } })?.path).toBe(
      '/spec/ports/1/port',
    );
  });

  it('compares a Date with the same time written as text', () => {
    const at = '2026-11-28T09:00:00Z';
    const want = { ...desired, spec: { at } };
    expect(compareCopy(want, { ...want, spec: { at: new Date(at) } })).toBeUndefined();
    expect(compareCopy(want, { ...want, spec: { at: new Date('2026-11-28T09:00:01Z') } })?.path).toBe(
      '/spec/at',
    );
  });
});

describe('etagMatches', () => {
  const body = originalBody(desired);
  const md5 = createHash('md5').update(body).digest('hex');

  it('compares a plain MD5 ETag (quoted, as S3 gives it) with the body', () => {
    expect(etagMatches(`"${md5}"`, body)).toBe(true);
    expect(etagMatches(`"${md5}"`, originalBody({ ...desired, data: { one: '1' } }))).toBe(false);
  });

  it('cannot say for a multipart or encrypted ETag', () => {
    expect(etagMatches(`"${md5}-2"`, body)).toBeUndefined();
    expect(etagMatches(undefined, body)).toBeUndefined();
  });
});

describe('drift counts and message', () => {
  it('adds, tells clean from not, and names the first objects with the rest counted', () => {
    const a = { ...noDrift(), missing: 2 };
    const b = { ...noDrift(), stale: 1 };
    const sum = addDrift(a, b);
    expect(sum).toMatchObject({ missing: 2, stale: 1, extra: 0 });
    expect(isClean(noDrift())).toBe(true);
    expect(isClean(sum)).toBe(false);
    expect(driftMessage('v1/configmaps', sum, [{ key: 'ns/a', kind: 'stale', path: '/data/two' }])).toBe(
      'v1/configmaps: 2 missing, 1 stale; ns/a (stale at /data/two), and 2 more',
    );
  });
});
