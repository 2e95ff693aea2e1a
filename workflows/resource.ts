/**
 * Pieces every resource workflow shares: its input, the `spec` signal the bridge sends on a spec
 * change, the status it reports, and condition bookkeeping. Deterministic: no I/O here.
 */
import { defineQuery, defineSignal, workflowInfo } from '@temporalio/workflow';
import type { ResourceRef } from '../src/api/kinds.js';
import type { CommonStatus, Condition } from '../src/api/types.js';
import { SPEC_SIGNAL, STATUS_QUERY, type SpecUpdate } from '../src/api/contract.js';

/** What the bridge starts a resource workflow with. */
export interface ResourceInput<S = unknown> {
  ref: ResourceRef;
  generation: number;
  spec: S;
}

export type { SpecUpdate } from '../src/api/contract.js';

/** Signal the bridge sends (with signalWithStart) when `metadata.generation` changes. */
export const specSignal = defineSignal<[SpecUpdate]>(SPEC_SIGNAL);

/** Query: the status the workflow last reported, for `temporal workflow query --type status`. */
export const statusQuery = defineQuery<CommonStatus>(STATUS_QUERY);

/**
 * Sets `type` in `conditions` the way Kubernetes does: `lastTransitionTime` changes only when the
 * status changes. Returns a new array, and whether anything changed.
 */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
): { conditions: Condition[]; changed: boolean } {
  const old = conditions.find((c) => c.type === next.type);
  if (
    old &&
    old.status === next.status &&
    old.reason === next.reason &&
    old.message === next.message &&
    old.observedGeneration === next.observedGeneration
  ) {
    return { conditions, changed: false };
  }
  const lastTransitionTime =
    old && old.status === next.status
      ? old.lastTransitionTime
      : new Date(Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const updated: Condition = { ...next, lastTransitionTime };
  return { conditions: [...conditions.filter((c) => c.type !== next.type), updated], changed: true };
}

/** The workflow id, as the bridge derived it. */
export function currentWorkflowId(): string {
  return workflowInfo().workflowId;
}
