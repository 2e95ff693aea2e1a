/** The operator's custom-image limits: denied by default, namespaces and roles by list, binding kind. */
import { loadConfig, ConfigError } from '../../src/config.js';
import { bindingKind, DENY_ALL, refusal } from '../../src/plugins/custom-image/policy.js';

describe('custom-image policy', () => {
  it('refuses everything by default, naming the flag', () => {
    expect(refusal(DENY_ALL, 'dr', undefined)).toEqual({
      path: 'spec.plugin',
      message:
        'custom-image Pods may not run in namespace dr: the operator allows no namespace (--custom-image-namespaces)',
    });
  });

  it.each([
    [{ namespaces: ['dr'], clusterRoles: [], clusterWideRoles: [] }, 'dr', undefined, undefined],
    [{ namespaces: ['*'], clusterRoles: [], clusterWideRoles: [] }, 'any', undefined, undefined],
    [{ namespaces: ['dr'], clusterRoles: [], clusterWideRoles: [] }, 'other', undefined, 'spec.plugin'],
    [{ namespaces: ['dr'], clusterRoles: ['view'], clusterWideRoles: [] }, 'dr', 'view', undefined],
    [
      { namespaces: ['dr'], clusterRoles: ['view'], clusterWideRoles: [] },
      'dr',
      'cluster-admin',
      'spec.config.clusterRole',
    ],
    [{ namespaces: ['dr'], clusterRoles: ['*'], clusterWideRoles: [] }, 'dr', 'cluster-admin', undefined],
  ])('%p in %p with %p → %p', (policy, ns, role, path) => {
    expect(refusal(policy, ns, role)?.path).toBe(path);
  });

  it('binds in the namespace unless the role is listed as cluster-wide', () => {
    const policy = { namespaces: ['*'], clusterRoles: ['*'], clusterWideRoles: ['cluster-admin'] };
    expect(bindingKind(policy, 'view')).toBe('RoleBinding');
    expect(bindingKind(policy, 'cluster-admin')).toBe('ClusterRoleBinding');
  });

  it('reads the flags and variables, and refuses a cluster-wide role that is not allowed', () => {
    const c = loadConfig(['--custom-image-namespaces', 'dr, ops', '--custom-image-cluster-roles', 'view'], {
      CUSTOM_IMAGE_CLUSTER_WIDE_ROLES: 'view',
    });
    expect(c.customImage).toEqual({
      namespaces: ['dr', 'ops'],
      clusterRoles: ['view'],
      clusterWideRoles: ['view'],
    });
    expect(loadConfig([], {}).customImage).toEqual(DENY_ALL);
    expect(() => loadConfig(['--custom-image-cluster-wide-roles', 'cluster-admin'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--custom-image-cluster-wide-roles', 'cluster-admin'], {})).toThrow(
      /cluster-admin not in --custom-image-cluster-roles/,
    );
  });
});
