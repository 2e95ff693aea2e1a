/**
 * `replicate`: the long-running, heartbeating activity of a LiveSynchronization. It runs one
 * TypeReplicator per resource type, serving every entry of that type (list, watch, filter, patch,
 * write, upload, prune), for one resync period and then returns, so the workflow decides the
 * cadence: each new run lists both sides again (additive and subtractive resync). High-rate watch
 * events never reach workflow history; the heartbeat carries the counters, and every start
 * converges from a fresh list. When the entries' health changes (a type not served, objects that
 * wait for a change), it signals the workflow, which reports `Degraded` and `Ready`.
 */
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { apiVersionOf, type ResourceRef } from '../src/api/kinds.js';
import type { AssetLoader } from '../src/assets/load.js';
import type { Resource } from '../src/api/types.js';
import { RUN_CONDITIONS_SIGNAL, type RunConditions } from '../src/api/contract.js';
import type { Logger } from '../src/logger.js';
import type { KubernetesObjectsToKubernetesConfig } from '../src/plugins/kubernetes-objects-to-kubernetes/index.js';
import { loadReplicationTargets } from '../src/plugins/kubernetes-objects-to-kubernetes/targets.js';
import { recoveryTask } from '../src/plugins/kubernetes-objects-to-kubernetes/recovery-task.js';
import {
  ReplicationRun,
  type ReplicationReport,
} from '../src/plugins/kubernetes-objects-to-kubernetes/run.js';
import type { Comparison } from '../src/plugins/kubernetes-objects-to-kubernetes/engine.js';
import { COMPARE_ANNOTATION } from '../src/plugins/kubernetes-objects-to-kubernetes/drift.js';
import { recordEvent } from '../src/kube/events.js';
import { isOwnedBy } from '../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { LagWindow } from '../src/plugins/kubernetes-objects-to-kubernetes/rpo.js';
import { configHash, readCheckpoint } from '../src/plugins/kubernetes-objects-to-kubernetes/checkpoint.js';
import { getCustomObject, patchStatus, serverSideApply } from '../src/kube/objects.js';
import { isNotFound, isConflict } from '../src/kube/errors.js';
import { FailureType } from '../src/api/errors.js';
import { observabilitySettings } from '../src/metrics/labels.js';
import { liveSyncRecorder } from '../src/metrics/livesync.js';
import type { Metrics } from '../src/metrics/metrics.js';
import { lastUpdateOf } from '../src/webhook/audit.js';

/** What {@link createReplicationActivities} needs. */
export interface ReplicationActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** Reads assets and their Secrets (with the kubeconfig policy). */
  assets: AssetLoader;
  /** To signal the workflow when the entries' health changes. */
  temporal: { client: Client };
  /** The orchestrator's metrics (livesync_* series). */
  metrics: Metrics;
  /** Aborted when the process starts stopping: the replication hands over (see ActivityDeps). */
  stopping?: AbortSignal;
  /** Names this process in Kubernetes Events (drift found). */
  instance?: string;
  /** A retried attempt resumes from the previous one's checkpoint (default true; `--replication-checkpoint`). */
  replicationCheckpoint?: boolean;
}

/** Builds the replication activities. */
export function createReplicationActivities(deps: ReplicationActivityDeps) {
  const { assets } = deps;
  const custom = deps.management.makeApiClient(CustomObjectsApi);
  const core = deps.management.makeApiClient(CoreV1Api);
  /**
   * Each LiveSynchronization's lag window (by uid), kept across its runs in this process, so that
   * `status.replication.lag` covers the last 10 minutes whatever the resync period. Bounded: one
   * window (at most 20,000 samples) per LiveSynchronization this worker replicated.
   */
  const lagWindows = new Map<string, LagWindow>();

  /** The recovery Task's coordinates: the LiveSynchronization's own namespace and name. */
  function recoveryTaskRef(ref: ResourceRef) {
    return {
      apiVersion: apiVersionOf('Task'),
      kind: 'Task',
      metadata: { name: ref.name, namespace: ref.namespace },
    };
  }

  async function destinationClient(ref: ResourceRef, config: KubernetesObjectsToKubernetesConfig) {
    const destination = await assets.kubernetesCluster(ref.namespace, config.destinationName);
    if (!destination.ok)
      throw ApplicationFailure.retryable(
        `spec.config.destinationName: ${destination.message}`,
        FailureType.AssetNotReady,
      );
    return destination.value;
  }

  return {
    /**
     * Creates or updates the recovery Task (plugin kubernetes-objects-transformation) in the
     * destination cluster from `recoveryProcess` (seed 5.1.3.5): same namespace and name as the
     * LiveSynchronization, marked as owned by it. Removes it when no resource has a recovery process.
     */
    async upsertRecoveryTask(input: {
      ref: ResourceRef;
      config: KubernetesObjectsToKubernetesConfig;
    }): Promise<string> {
      const kc = await destinationClient(input.ref, input.config);
      const objects = KubernetesObjectApi.makeApiClient(kc);
      const task = recoveryTask(input.ref, input.config);
      const header = recoveryTaskRef(input.ref);
      if (!task) {
        await objects.delete(header).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
        return 'no recovery process';
      }
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: input.ref.namespace } } }).catch((err) => {
        if (!isConflict(err)) throw err;
      });
      const existing = await objects.read(header).catch(() => undefined);
      const owner = { namespace: input.ref.namespace, name: input.ref.name };
      if (existing && !isOwnedBy(existing as never, owner)) {
        throw ApplicationFailure.nonRetryable(
          `Task ${input.ref.namespace}/${input.ref.name} exists in the destination and is not managed by this LiveSynchronization`,
          FailureType.RecoveryTaskConflict,
        );
      }
      await serverSideApply(objects, task as never);
      return `Task ${input.ref.namespace}/${input.ref.name} in the destination cluster`;
    },

    /** Deletes the recovery Task with its LiveSynchronization (a missing one is fine). */
    async deleteRecoveryTask(input: {
      ref: ResourceRef;
      config: KubernetesObjectsToKubernetesConfig;
    }): Promise<void> {
      const kc = await destinationClient(input.ref, input.config);
      const objects = KubernetesObjectApi.makeApiClient(kc);
      const header = recoveryTaskRef(input.ref);
      const existing = await objects.read(header).catch(() => undefined);
      if (
        existing &&
        isOwnedBy(existing as never, { namespace: input.ref.namespace, name: input.ref.name })
      ) {
        await objects.delete(header).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
      }
    },

    /**
     * Replicates for `runForMs` (the resync period), then returns its report. Cancellation (spec
     * change, suspend, deletion) stops every watch and write before it returns.
     */
    async replicate(input: {
      ref: ResourceRef;
      /** The spec generation this run replicates; a newer one (suspend, edit, delete) stops writes at once. */
      generation: number;
      config: KubernetesObjectsToKubernetesConfig;
      runForMs: number;
    }): Promise<ReplicationReport> {
      const ctx = Context.current();
      if (deps.stopping?.aborted) throw stoppingFailure();
      const { ref, config } = input;
      const owner = { namespace: ref.namespace, name: ref.name };
      const log = deps.log.child({
        liveSynchronization: owner,
        process: { id: 'replicator', attempt: ctx.info.attempt },
      });
      // Who last changed the LiveSynchronization (its audit annotations): the seed's `lastUpdate`.
      // Read beside the targets: one round trip less before the first write.
      const [targets, self] = await Promise.all([
        loadReplicationTargets(assets, ref.namespace, config, owner),
        getCustomObject(custom, 'LiveSynchronization', ref.namespace, ref.name).catch(() => undefined),
      ]);
      // observability.enabled: series per object namespace; .interval: how often the gauges are recounted.
      const observability = observabilitySettings(config.observability);
      const recorder = liveSyncRecorder(deps.metrics, owner, observability);
      // A comparison that found drift is an Event on the LiveSynchronization, naming the first objects.
      const onComparison = (comparison: Comparison) => {
        if (comparison.clean) return;
        void recordEvent(
          core,
          ref,
          { type: 'Warning', reason: 'DriftDetected', message: comparison.message },
          deps.instance ?? 'resiliency-orchestrator',
          log,
        );
      };
      // The start comparison answers a request made before it.
      let comparisonRequest = self?.metadata.annotations?.[COMPARE_ANNOTATION];
      let lagWindow = lagWindows.get(ref.uid);
      if (!lagWindow) lagWindows.set(ref.uid, (lagWindow = new LagWindow()));
      // The last time the replication had converged (this attempt's predecessor's heartbeat, or
      // status): a change stamped later and not written yet is measured from its stamp.
      const previous = [
        ctx.info.heartbeatDetails as ReplicationReport | undefined,
        (self?.status as { replication?: ReplicationReport } | undefined)?.replication,
      ];
      const before = previous[0]?.lastResyncTime ?? previous[1]?.lastResyncTime;
      const quarantined = previous[0]?.quarantine ?? previous[1]?.quarantine;
      const changesSince = before ? Date.parse(before) : Date.now();
      const run = new ReplicationRun({
        owner,
        config,
        source: targets.source,
        destination: targets.destination,
        bucket: targets.bucket,
        log,
        lastUpdate: lastUpdateOf(self?.metadata.annotations),
        observe: (gvr, event) => recorder.event(gvr, event),
        onComparison,
        // The comparisons before this run: a resumed attempt compares nothing, and keeps them.
        lastComparisonTime: previous[0]?.lastComparisonTime ?? previous[1]?.lastComparisonTime,
        lastCleanComparisonTime: previous[0]?.lastCleanComparisonTime ?? previous[1]?.lastCleanComparisonTime,
        comparisonRequest,
        lagWindow,
        changesSince: Number.isFinite(changesSince) ? changesSince : Date.now(),
        quarantined: quarantined && {
          objects: quarantined.objects ?? 0,
          lastTime: quarantined.lastTime,
          lastPrefix: quarantined.lastPrefix,
        },
      });
      let lastCounts = 0;
      const recount = () => {
        recorder.objectCounts(run.countsByNamespace());
        lastCounts = Date.now();
      };
      const superseded = async (r: ResourceRef, generation: number): Promise<boolean> => {
        let current: Resource | undefined;
        try {
          current = await getCustomObject(custom, 'LiveSynchronization', r.namespace, r.name);
        } catch {
          return false; // unreachable now: keep replicating, ask again in a second
        }
        // A new value of the compare annotation: compare now (in the background; heartbeats go on).
        const request = current?.metadata.annotations?.[COMPARE_ANNOTATION];
        if (request && request !== comparisonRequest) {
          comparisonRequest = request;
          log.info({ request }, 'comparison of source, destination and bucket asked for');
          run
            .compareNow(request)
            .catch((err: unknown) =>
              log.warn(
                { err: (err as Error).message },
                'comparison asked for failed; the next resync compares again',
              ),
            );
        }
        return (
          !current ||
          current.metadata.uid !== r.uid ||
          (current.metadata.generation ?? 1) !== generation ||
          Boolean(current.metadata.deletionTimestamp)
        );
      };
      // Heartbeat details: the counters and the checkpoint a retried attempt resumes from. A
      // snapshot counts every object (cost grows with the object count), and the SDK sends details
      // at most every 0.8 x heartbeatTimeout (8 s), so the one-second beats reuse one up to
      // DETAILS_MAX_AGE_MS old (an older checkpoint only replays a little more).
      let details: (ReplicationReport & { checkpoint: unknown }) | undefined;
      let detailsAt = 0;
      const beatDetails = () => {
        if (!details || Date.now() - detailsAt >= DETAILS_MAX_AGE_MS) {
          details = { ...run.snapshot(), checkpoint: run.checkpoint(input.generation) };
          detailsAt = Date.now();
        }
        return details;
      };
      let lastWritten = '';
      const writeStatus = async () => {
        const current = run.snapshot();
        details = { ...current, checkpoint: run.checkpoint(input.generation) };
        detailsAt = Date.now();
        const text = JSON.stringify(current);
        ctx.heartbeat(beatDetails());
        if (text === lastWritten) return;
        lastWritten = text;
        await patchStatus(custom, ref, { replication: current }).catch((err) =>
          log.warn({ err: (err as Error).message }, 'status update failed'),
        );
      };

      let lastHealth = '';
      const signalHealth = async () => {
        const conditions = run.conditions();
        const text = JSON.stringify(conditions);
        const execution = ctx.info.workflowExecution;
        if (text === lastHealth || !execution) return;
        const payload: RunConditions = { generation: input.generation, conditions };
        try {
          await deps.temporal.client.workflow
            .getHandle(execution.workflowId, execution.runId)
            .signal(RUN_CONDITIONS_SIGNAL, payload);
          lastHealth = text;
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not report entry health to the workflow');
        }
      };

      const started = Date.now();
      let finished = false;
      try {
        // Listing and writing many objects outlasts the heartbeat timeout: keep heartbeating, or
        // Temporal would time this attempt out and start a second one beside it.
        const beat = setInterval(() => ctx.heartbeat(beatDetails()), 1000);
        try {
          // A retry (crash, kill -9, hand-over) resumes from the last heartbeat's checkpoint; the
          // first attempt of a resync period lists everything (the additive and subtractive resync).
          const resumeFrom =
            ctx.info.attempt > 1 && deps.replicationCheckpoint !== false
              ? readCheckpoint(ctx.info.heartbeatDetails, {
                  generation: input.generation,
                  config: configHash(config),
                })
              : undefined;
          if (resumeFrom?.ok) await run.resume(resumeFrom.checkpoint);
          else {
            if (resumeFrom) log.info({ reason: resumeFrom.reason }, 'not resuming from checkpoint; listing');
            await run.start();
          }
          await signalHealth();
          if (await run.converged(ctx.cancelled)) recorder.resynced(new Date());
          recount();
        } finally {
          clearInterval(beat);
        }
        let lastStatus = 0;
        while (Date.now() - started < input.runForMs) {
          if (deps.stopping?.aborted) {
            // The process is stopping: write the status once more, leave the last checkpoint in a
            // heartbeat, and fail this attempt so that Temporal retries it (on another replica) now.
            await run.stop();
            await writeStatus();
            ctx.heartbeat(beatDetails());
            log.info('worker stopping: replication handed back to Temporal for another replica');
            throw stoppingFailure();
          }
          // Cancellation reaches an activity only through a throttled heartbeat; reading our own
          // object every second stops the writes as soon as the spec changes or it is deleted.
          if (await superseded(ref, input.generation)) {
            log.info('spec changed or resource deleted: writes stopped, waiting for cancellation');
            await run.stop();
            recorder.forget();
            for (;;) {
              ctx.heartbeat(beatDetails());
              await ctx.sleep(1000);
            }
          }
          if (Date.now() - lastStatus >= 2000) {
            await writeStatus();
            await signalHealth();
            lastStatus = Date.now();
          } else {
            ctx.heartbeat(beatDetails());
          }
          if (Date.now() - lastCounts >= observability.intervalMs) recount();
          await ctx.sleep(Math.min(1000, Math.max(1, input.runForMs - (Date.now() - started))));
        }
        await run.stop();
        await writeStatus();
        recount();
        finished = true;
        return run.snapshot();
      } finally {
        // Cancelled (spec changed, suspended, deleted) or failed: its gauges go; the next run sets them.
        if (!finished) recorder.forget();
        await run.stop();
        targets.close();
      }
    },
  };
}

/** How old the heartbeat details of a `replicate` beat may be (see `beatDetails`). */
const DETAILS_MAX_AGE_MS = 5000;

/** The failure of a replication attempt whose process is stopping: retried at once, on another replica. */
function stoppingFailure(): ApplicationFailure {
  return ApplicationFailure.retryable(
    'the worker is stopping; the replication continues on another replica',
    'WorkerStopping',
  );
}
