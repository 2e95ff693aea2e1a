/**
 * The contract between the `replicate` activity and the LiveSynchronization workflow about the
 * health of resource entries: the activity sends conditions when they change (rarely), the
 * workflow is the one that writes them to status. Pure; safe in workflows.
 */

import type { RunCondition } from '../../api/contract.js';

/** A resource entry that cannot replicate, or has objects that wait for a change. */
export interface EntryProblem {
  /** Index in `spec.config.replication.resources`. */
  index: number;
  /** `group/version/resource` of the entry. */
  resource: string;
  message: string;
  /** True when the entry replicates nothing at all (its type cannot be listed). */
  whole: boolean;
}

/**
 * The conditions of a LiveSynchronization's replication: `Degraded` (True, naming every entry
 * with a problem, or False) and, when no entry replicates at all, `Ready=False`.
 */
export function replicationConditions(entries: number, problems: EntryProblem[]): RunCondition[] {
  if (problems.length === 0) {
    return [
      {
        type: 'Degraded',
        status: 'False',
        reason: 'AllEntriesReplicating',
        message: 'every resource entry replicates',
      },
    ];
  }
  const sorted = [...problems].sort((a, b) => a.index - b.index);
  const message = sorted
    .map((p) => `spec.config.replication.resources[${p.index}] (${p.resource}): ${p.message}`)
    .join('; ');
  const dead = new Set(sorted.filter((p) => p.whole).map((p) => p.index));
  const conditions: RunCondition[] = [
    { type: 'Degraded', status: 'True', reason: 'EntriesFailing', message },
  ];
  if (dead.size >= entries) {
    conditions.push({
      type: 'Ready',
      status: 'False',
      reason: 'ReplicationFailing',
      message: `no resource entry replicates: ${message}`,
    });
  }
  return conditions;
}
