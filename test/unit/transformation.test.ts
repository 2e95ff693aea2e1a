/** The pure parts of kubernetes-objects-transformation: what a patch writes, and bucket keys. */
import {
  PATCHED_BY_ANNOTATION,
  planPatch,
} from '../../src/plugins/kubernetes-objects-transformation/execute.js';
import { objectOfKey } from '../../src/plugins/kubernetes-objects-transformation/restore.js';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '42', labels: { app: 'web' } },
  spec: { replicas: 0 },
};

describe('planPatch', () => {
  it('writes the patched object with the resourceVersion it was read at and the TaskRun mark', () => {
    const plan = planPatch(deployment, [{ op: 'replace', path: '/spec/replicas', value: 3 }], {}, 'uid-1');
    expect(plan).toEqual({
      ok: true,
      diff: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
      write: {
        ...deployment,
        metadata: { ...deployment.metadata, annotations: { [PATCHED_BY_ANNOTATION]: 'uid-1' } },
        spec: { replicas: 3 },
      },
    });
    expect(deployment.spec.replicas).toBe(0); // the object read is not changed
  });

  it('writes nothing when the patch changes nothing', () => {
    expect(planPatch(deployment, [{ op: 'replace', path: '/spec/replicas', value: 0 }], {}, 'u')).toEqual({
      ok: true,
    });
  });

  it('names the operation that does not apply', () => {
    const plan = planPatch(deployment, [{ op: 'replace', path: '/labels/test', value: 'ok' }], {}, 'u');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.error).toMatch(/operation 0: .*\/labels\/test/);
  });

  it('skipIfNotFoundOnDelete makes a remove of a missing path a no-op', () => {
    const ops = [{ op: 'remove' as const, path: '/metadata/labels/missing' }];
    expect(planPatch(deployment, ops, {}, 'u').ok).toBe(false);
    expect(planPatch(deployment, ops, { skipIfNotFoundOnDelete: true }, 'u')).toEqual({ ok: true });
  });
});

describe('objectOfKey', () => {
  it.each([
    ['ns/ls/apps-v1-deployments/shop.web', { namespace: 'shop', name: 'web' }],
    ['ns/ls/core-v1-configmaps/shop.app.config', { namespace: 'shop', name: 'app.config' }],
    ['ns/ls/rbac.authorization.k8s.io-v1-clusterroles/_cluster.admin', { name: 'admin' }],
  ])('%s holds %j', (key, object) => expect(objectOfKey(key)).toEqual(object));
});
