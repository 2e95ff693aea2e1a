/**
 * What an operator allows custom-image Tasks to do (docs/security.md): the namespaces their Pods
 * may run in, the ClusterRoles a Task may name, and which of those are bound cluster-wide rather
 * than in the Task's namespace. Everything is denied by default. Pure.
 */

/** The operator's custom-image limits (`--custom-image-*` flags). */
export interface CustomImagePolicy {
  /** Namespaces where custom-image Pods may run; `*` for every namespace; empty: none. */
  namespaces: string[];
  /** ClusterRoles a Task's `clusterRole` may name; `*` for any; empty: none. */
  clusterRoles: string[];
  /** Of the allowed ClusterRoles, those bound with a ClusterRoleBinding; the rest get a RoleBinding in the Task's namespace. */
  clusterWideRoles: string[];
}

/** Nothing allowed: the default. */
export const DENY_ALL: CustomImagePolicy = { namespaces: [], clusterRoles: [], clusterWideRoles: [] };

const allows = (list: string[], value: string) => list.includes('*') || list.includes(value);

/** Why a run in `namespace` with `clusterRole` is refused, or undefined when it is allowed. */
export function refusal(
  policy: CustomImagePolicy,
  namespace: string,
  clusterRole: string | undefined,
): { path: string; message: string } | undefined {
  if (!allows(policy.namespaces, namespace))
    return {
      path: 'spec.plugin',
      message: `custom-image Pods may not run in namespace ${namespace}: the operator allows ${
        policy.namespaces.length ? policy.namespaces.join(', ') : 'no namespace'
      } (--custom-image-namespaces)`,
    };
  if (clusterRole !== undefined && !allows(policy.clusterRoles, clusterRole))
    return {
      path: 'spec.config.clusterRole',
      message: `ClusterRole ${clusterRole} is not one the operator allows custom-image Tasks to use (${
        policy.clusterRoles.length ? policy.clusterRoles.join(', ') : 'none'
      }; --custom-image-cluster-roles)`,
    };
  return undefined;
}

/** How `clusterRole` is bound to the run's ServiceAccount. */
export function bindingKind(
  policy: CustomImagePolicy,
  clusterRole: string,
): 'RoleBinding' | 'ClusterRoleBinding' {
  return allows(policy.clusterWideRoles, clusterRole) ? 'ClusterRoleBinding' : 'RoleBinding';
}

/** Parses a comma-separated flag value into a list (`*` stays `*`). */
export function parseList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
