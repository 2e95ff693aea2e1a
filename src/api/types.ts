/**
 * TypeScript types of the nine custom resources, in one place: the bridge, the workflows and
 * the activities all use these. Field names follow the Astronetes API reference (seed section 7);
 * plugin `config` blocks are typed by each plugin's own schema (src/plugins/).
 */
import type { Kind } from './kinds.js';

/** The part of ObjectMeta we read. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
}

/** A condition by Kubernetes conventions (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Phases of run-once kinds (Synchronization, Backup, TaskRun). */
export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Status fields every kind may carry; each kind adds its own. */
export interface CommonStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  workflowId?: string;
  phase?: Phase;
  startTime?: string;
  completionTime?: string;
  duration?: string;
  message?: string;
  lastScheduleTime?: string;
  [extra: string]: unknown;
}

/** A Kubernetes restart policy, as on Synchronization, Backup and Task. */
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** KubernetesCluster spec: the Secret whose key `kubeconfig.yaml` holds the kubeconfig. */
export interface KubernetesClusterSpec {
  secretName: string;
}

/** Bucket spec: exactly one provider block. The Secret holds `accessKeyID` and `secretAccessKey`. */
export interface BucketSpec {
  generic?: { name: string; endpoint: string; useSSL?: boolean; secretName: string; region?: string };
  gcpCloudStorage?: { name: string; secretName: string };
  awsS3?: { name: string; region: string; secretName: string };
}

/** Database spec. Credentials (`user`, `password`) live in a Secret of the Database's own name. */
export interface DatabaseSpec {
  zookeeper?: {
    client?: { servers: string[] };
    admin?: { protocol: string; host: string; port: string; secretName?: string };
  };
}

/** LiveSynchronization, Synchronization, Backup and Task share this shape. */
export interface PluginSpec {
  plugin: string;
  config: unknown;
  suspend?: boolean;
  restartPolicy?: RestartPolicy;
  /** Restarts allowed with `restartPolicy: OnFailure` (Synchronization, Backup; an addition to the seed's API). */
  backoffLimit?: number;
}

/** SynchronizationPlan spec: CronJob-like. */
export interface SynchronizationPlanSpec {
  schedule: string;
  startingDeadlineSeconds?: number;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  suspend?: boolean;
  template?: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: Partial<PluginSpec>;
  };
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
}

/** TaskRun spec: the Task (same namespace) to execute. */
export interface TaskRunSpec {
  taskName: string;
  /** Change nothing; report what would change (an addition to the seed's API). */
  dryRun?: boolean;
  /** Overrides the Task's `restartPolicy` for this run (an addition to the seed's API). */
  restartPolicy?: RestartPolicy;
  /** Overrides the Task's `backoffLimit` for this run (an addition to the seed's API). */
  backoffLimit?: number;
}

/** The spec type of each kind. */
export interface SpecOf {
  KubernetesCluster: KubernetesClusterSpec;
  Bucket: BucketSpec;
  Database: DatabaseSpec;
  LiveSynchronization: PluginSpec;
  Synchronization: PluginSpec;
  SynchronizationPlan: SynchronizationPlanSpec;
  Backup: PluginSpec;
  Task: PluginSpec;
  TaskRun: TaskRunSpec;
}

/** One custom resource of kind K, as read from the API server. */
export interface Resource<K extends Kind = Kind> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: SpecOf[K];
  status?: CommonStatus;
}
