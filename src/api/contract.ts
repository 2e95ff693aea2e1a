/**
 * The contract between the CRD bridge, the activities and the workflows: which workflow type
 * serves each kind, the workflow id of an object, and the names of the signals and queries they
 * exchange. One place, so that no side spells them on its own. Pure; safe in workflows.
 */
import type { Kind, ResourceRef } from './kinds.js';

/** The workflow type that serves each kind. */
export const WORKFLOW_TYPE: Record<Kind, string> = {
  KubernetesCluster: 'assetWorkflow',
  Bucket: 'assetWorkflow',
  Database: 'assetWorkflow',
  LiveSynchronization: 'liveSynchronizationWorkflow',
  Synchronization: 'synchronizationWorkflow',
  SynchronizationPlan: 'synchronizationPlanWorkflow',
  Backup: 'backupWorkflow',
  Task: 'taskWorkflow',
  TaskRun: 'taskRunWorkflow',
};

/** The workflow a SynchronizationPlan's Schedule starts at each firing. */
export const PLAN_FIRING_WORKFLOW_TYPE = 'synchronizationPlanFiringWorkflow';

/** The workflow id of one object: kind, namespace, name and uid (a re-created object gets a fresh one). */
export function workflowIdOf(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}/${ref.uid}`;
}

/** Signal the bridge sends (with signalWithStart) when `metadata.generation` changes: a {@link SpecUpdate}. */
export const SPEC_SIGNAL = 'spec';

/** A new generation of the spec; the workflow ignores generations it has already seen. */
export interface SpecUpdate<S = unknown> {
  generation: number;
  spec: S;
}

/** Query: the status the workflow last reported (`temporal workflow query --type status`). */
export const STATUS_QUERY = 'status';

/** Signal a long-running run sends to its own workflow when the conditions it observes change. */
export const RUN_CONDITIONS_SIGNAL = 'runConditions';

/** A condition a run observes (the workflow adds observedGeneration and transition times). */
export interface RunCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** Payload of {@link RUN_CONDITIONS_SIGNAL}: for one spec generation, the conditions the run observes. */
export interface RunConditions {
  generation: number;
  /** A `Ready` entry overrides the evaluation's Ready; other types are set as they are. */
  conditions: RunCondition[];
}
