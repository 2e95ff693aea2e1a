/**
 * What a Kubernetes backup takes, and in which order a restore puts it back: pure, so the lists
 * below are unit-tested and documented in one place (docs/backup.md).
 */
import type { GVR } from '../../bucket/layout.js';

/** Namespaces a backup without `namespaces` leaves out: the cluster's own. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

/**
 * Namespaced types never backed up, as `<group>/<resource>` (`core` for the core group): what the
 * cluster regenerates (events, endpoints, endpoint slices, leases) or computes (metrics).
 */
export const EXCLUDED_TYPES: readonly string[] = [
  'core/events',
  'events.k8s.io/events',
  'core/endpoints',
  'discovery.k8s.io/endpointslices',
  'coordination.k8s.io/leases',
  'metrics.k8s.io/pods',
];

/** `<group>/<resource>`, `core` for the core group. */
export function typeId(t: { group: string; resource: string }): string {
  return `${t.group || 'core'}/${t.resource}`;
}

/** The namespaced types a backup lists: readable, creatable at restore, and not excluded. */
export function typesToBackUp<T extends GVR & { namespaced: boolean; verbs: string[] }>(
  types: readonly T[],
): T[] {
  return types.filter(
    (t) =>
      t.namespaced &&
      ['list', 'get', 'create'].every((v) => t.verbs.includes(v)) &&
      !EXCLUDED_TYPES.includes(typeId(t)),
  );
}

/** The name of the CustomResourceDefinition of a custom resource type: `<plural>.<group>`. */
export function crdName(t: { group: string; resource: string }): string {
  return `${t.resource}.${t.group}`;
}

/** The GVRs of the two cluster-scoped types a backup takes along with its namespaces. */
export const NAMESPACES: GVR = { group: '', version: 'v1', resource: 'namespaces' };
export const CRDS: GVR = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  resource: 'customresourcedefinitions',
};

/**
 * Restore order, Velero's habit: what others depend on first. CRDs, then namespaces, then these
 * types in this order, then every other built-in type, then custom resources (their CRDs exist by
 * then).
 */
export const RESTORE_PRIORITY: readonly string[] = [
  'apiextensions.k8s.io/customresourcedefinitions',
  'core/namespaces',
  'core/serviceaccounts',
  'core/configmaps',
  'core/secrets',
  'core/limitranges',
  'core/resourcequotas',
  'core/persistentvolumeclaims',
  'rbac.authorization.k8s.io/roles',
  'rbac.authorization.k8s.io/rolebindings',
  'core/services',
  'apps/deployments',
  'apps/statefulsets',
  'apps/daemonsets',
  'apps/replicasets',
  'core/pods',
  'batch/jobs',
  'batch/cronjobs',
];

/** Sort key of a type for the restore order; `custom` is true for a type whose CRD is in the backup. */
export function restoreRank(t: { group: string; resource: string }, custom: boolean): number {
  const at = RESTORE_PRIORITY.indexOf(typeId(t));
  if (at >= 0) return at;
  return custom ? RESTORE_PRIORITY.length + 1 : RESTORE_PRIORITY.length;
}

/** The folder `<group>-<version>-<resource>` back to its parts (the group may contain dashes, not the version). */
export function parseResourceFolder(folder: string): GVR | undefined {
  const m = /^(.+?)-(v\d+(?:(?:alpha|beta)\d+)?)-([a-z0-9.-]+)$/.exec(folder);
  if (!m) return undefined;
  return { group: m[1] === 'core' ? '' : m[1], version: m[2], resource: m[3] };
}
