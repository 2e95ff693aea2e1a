/**
 * The nine custom resource kinds, their API groups and plural names: one table that the bridge,
 * the workflows' status reporting and the tests share. Pure data, safe to import from workflows.
 */

/** API group of the asset kinds. */
export const ASSETS_GROUP = 'assets.astronetes.io';
/** API group of the automation kinds. */
export const AUTOMATION_GROUP = 'automation.astronetes.io';
/** The one version both groups serve. */
export const API_VERSION = 'v1alpha1';

/** How a kind's workflow lives: for as long as the object exists, or once to a final phase. */
export type Lifecycle = 'long-running' | 'run-once';

/** Static facts about one kind. */
export interface KindInfo {
  kind: Kind;
  group: string;
  plural: string;
  lifecycle: Lifecycle;
}

export const KINDS = {
  KubernetesCluster: { group: ASSETS_GROUP, plural: 'kubernetesclusters', lifecycle: 'long-running' },
  Bucket: { group: ASSETS_GROUP, plural: 'buckets', lifecycle: 'long-running' },
  Database: { group: ASSETS_GROUP, plural: 'databases', lifecycle: 'long-running' },
  LiveSynchronization: { group: AUTOMATION_GROUP, plural: 'livesynchronizations', lifecycle: 'long-running' },
  Synchronization: { group: AUTOMATION_GROUP, plural: 'synchronizations', lifecycle: 'run-once' },
  SynchronizationPlan: { group: AUTOMATION_GROUP, plural: 'synchronizationplans', lifecycle: 'long-running' },
  Backup: { group: AUTOMATION_GROUP, plural: 'backups', lifecycle: 'run-once' },
  Task: { group: AUTOMATION_GROUP, plural: 'tasks', lifecycle: 'long-running' },
  TaskRun: { group: AUTOMATION_GROUP, plural: 'taskruns', lifecycle: 'run-once' },
} as const satisfies Record<string, Omit<KindInfo, 'kind'>>;

/** One of the nine kinds. */
export type Kind = keyof typeof KINDS;

/** Every kind, in a stable order. */
export const ALL_KINDS = Object.keys(KINDS) as Kind[];

/** The facts of `kind`. */
export function kindInfo(kind: Kind): KindInfo {
  return { kind, ...KINDS[kind] };
}

/** `group/version` of a kind, as in `apiVersion`. */
export function apiVersionOf(kind: Kind): string {
  return `${KINDS[kind].group}/${API_VERSION}`;
}

/** Names one object of one of our kinds. */
export interface ResourceRef {
  kind: Kind;
  namespace: string;
  name: string;
  uid: string;
}
