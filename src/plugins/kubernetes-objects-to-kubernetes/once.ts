/**
 * The one-shot `kubernetes-objects-to-kubernetes` Synchronization: the LiveSynchronization
 * machinery (same filters, patches, bucket originals and prune) run once, to convergence, then
 * stopped. It is also what the `run-synchronization` Task creates.
 *
 * Whose copies: a Synchronization a SynchronizationPlan fired owns its copies as the plan (every
 * firing updates and prunes the same copies); any other Synchronization owns them itself. The
 * owner name is `_synchronization.<name>`, which no LiveSynchronization can have, so their copies
 * and bucket prefixes never mix.
 */
import { lastUpdateOf, type LastUpdate } from '../../webhook/audit.js';
import { ApplicationFailure } from '@temporalio/common';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { KubernetesObjectsToKubernetesConfig } from './index.js';
import { ReplicationRun, type ReplicationReport } from './run.js';
import { loadReplicationTargets } from './targets.js';

/** A run that makes no progress for this long, with writes still pending, ends Failed. */
const STALL_MS = 5 * 60_000;

/** Failure type of a Synchronization that ended with objects not copied. */
export const INCOMPLETE = 'SynchronizationIncomplete';

/**
 * The owner of a Synchronization's copies (its plan's name when a plan fired it, else its own),
 * and the Synchronization's audit annotations (the seed's `lastUpdate` log field).
 */
async function ownerOf(
  run: PluginRun,
): Promise<{ owner: { namespace: string; name: string }; lastUpdate?: LastUpdate }> {
  const self = await run.assets.getResource('Synchronization', run.ref.namespace, run.ref.name);
  const plan = self?.metadata.ownerReferences?.find((o) => o.kind === 'SynchronizationPlan' && o.controller);
  return {
    owner: { namespace: run.ref.namespace, name: `_synchronization.${plan?.name ?? run.ref.name}` },
    lastUpdate: lastUpdateOf(self?.metadata.annotations),
  };
}

/** Totals over every entry. */
export function totals(report: ReplicationReport): Record<string, number> {
  const sum = (f: 'inSync' | 'pending' | 'failed') => report.resources.reduce((n, r) => n + (r?.[f] ?? 0), 0);
  return {
    entries: report.resources.length,
    inSync: sum('inSync'),
    pending: sum('pending'),
    failed: sum('failed'),
  };
}

/** Runs the replication once, to convergence. */
export async function synchronizeOnce(
  run: PluginRun<KubernetesObjectsToKubernetesConfig>,
): Promise<PluginOutcome> {
  const { config, log, signal } = run;
  const { owner, lastUpdate } = await ownerOf(run);
  const targets = await loadReplicationTargets(run.assets, run.ref.namespace, config, owner);
  const replication = new ReplicationRun({ owner, config, ...targets, log, lastUpdate });
  // Convergence ends the run; so do cancellation (the Synchronization was deleted) and a stall.
  let stalled = false;
  let giveUp!: () => void;
  const interrupted = new Promise<void>((resolve) => (giveUp = resolve));
  signal.addEventListener('abort', () => giveUp(), { once: true });
  let last = '';
  let lastChange = Date.now();
  const watch = setInterval(() => {
    const counts = totals(replication.snapshot());
    run.progress(counts);
    const text = JSON.stringify(counts);
    if (text !== last) [last, lastChange] = [text, Date.now()];
    else if (counts.pending > 0 && Date.now() - lastChange > STALL_MS) {
      stalled = true;
      giveUp();
    }
  }, 1000);
  try {
    await replication.start();
    await replication.converged(interrupted);
    await replication.stop();
    const report = replication.snapshot();
    const counts = totals(report);
    run.progress(counts);
    if (signal.aborted)
      throw ApplicationFailure.nonRetryable('cancelled: the Synchronization was deleted', 'Cancelled');
    const problems = report.resources
      .map((r, i) =>
        r?.lastError
          ? `spec.config.replication.resources[${i}] (${r.group || 'core'}/${r.version}/${r.resource}): ${r.lastError}`
          : undefined,
      )
      .filter((p): p is string => p !== undefined);
    if (counts.failed > 0 || counts.pending > 0 || problems.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `${counts.inSync} objects copied, ${counts.failed} failed, ${counts.pending} not written` +
          (stalled ? ` (no progress for ${STALL_MS / 60_000} minutes)` : '') +
          (problems.length ? `: ${problems.slice(0, 5).join('; ')}` : ''),
        INCOMPLETE,
      );
    }
    return {
      message: `${counts.inSync} objects in sync over ${counts.entries} resource entries`,
      progress: counts,
    };
  } finally {
    clearInterval(watch);
    await replication.stop();
    targets.close();
  }
}
