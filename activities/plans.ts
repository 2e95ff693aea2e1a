/**
 * Activities of SynchronizationPlan: keep a Temporal Schedule in step with the plan (cron,
 * concurrency policy, starting deadline, suspend), and at each firing create a Synchronization
 * from the plan's template, record `lastScheduleTime` and prune finished Synchronizations beyond
 * the history limits, as a CronJob does with its Jobs.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
} from '@temporalio/client';
import { API_VERSION, apiVersionOf, kindInfo, type ResourceRef } from '../src/api/kinds.js';
import type { Resource, SynchronizationPlanSpec } from '../src/api/types.js';
import type { Logger } from '../src/logger.js';
import {
  RESOURCE_KIND,
  RESOURCE_NAME,
  RESOURCE_NAMESPACE,
  RESOURCE_UID,
} from '../src/api/search-attributes.js';
import { getCustomObject, patchStatus } from '../src/kube/objects.js';
import { fitName, MAX_NAME, shortHash } from '../src/kube/names.js';
import { isNotFound, isConflict } from '../src/kube/errors.js';
import { PLAN_FIRING_WORKFLOW_TYPE } from '../src/api/contract.js';
import type { Metrics } from '../src/metrics/metrics.js';

/** What {@link createPlanActivities} needs. */
export interface PlanActivityDeps {
  management: KubeConfig;
  log: Logger;
  /** The Temporal client and the task queue scheduled workflows run on. */
  temporal: { client: Client; taskQueue: string };
  /** The orchestrator's metrics (the plan's last success timestamp). */
  metrics: Metrics;
}

/** Label on each Synchronization a plan creates, naming the plan (hashed when too long for a label). */
export const PLAN_LABEL = 'automation.astronetes.io/synchronization-plan';

/** Label on each Synchronization a plan creates: the plan's uid, which always fits a label value. */
export const PLAN_UID_LABEL = 'automation.astronetes.io/synchronization-plan-uid';

const OVERLAP: Record<NonNullable<SynchronizationPlanSpec['concurrencyPolicy']>, ScheduleOverlapPolicy> = {
  Allow: ScheduleOverlapPolicy.ALLOW_ALL,
  Forbid: ScheduleOverlapPolicy.SKIP,
  // CANCEL_OTHER lets the running firing delete its Synchronization before the new one starts.
  Replace: ScheduleOverlapPolicy.CANCEL_OTHER,
};

/** The Schedule id of a plan: its workflow id, so the UI shows them side by side. */
export function scheduleIdOf(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}/${ref.uid}`;
}

/**
 * The name of the Synchronization of one firing: `<plan>-<minutes since epoch>-<firing>`, as a
 * CronJob names its Jobs plus five characters of the firing's own id, so that two firings in the
 * same minute (a seconds field in the cron, a manual trigger) get two Synchronizations. At most
 * 63 characters: a long plan name is cut and hashed.
 */
export function synchronizationNameFor(plan: string, firedAtMs: number, firingId: string): string {
  const suffix = `${Math.floor(firedAtMs / 60_000)}-${shortHash(firingId).slice(0, 5)}`;
  return `${fitName(plan, MAX_NAME - suffix.length - 1)}-${suffix}`;
}

/** Builds the plan activities. */
export function createPlanActivities(deps: PlanActivityDeps) {
  const custom = deps.management.makeApiClient(CustomObjectsApi);
  const { group, plural } = kindInfo('Synchronization');
  const schedules = deps.temporal.client.schedule;

  async function listOwned(ref: ResourceRef): Promise<Resource<'Synchronization'>[]> {
    const list = (await custom.listNamespacedCustomObject({
      group,
      version: API_VERSION,
      namespace: ref.namespace,
      plural,
      labelSelector: `${PLAN_UID_LABEL}=${ref.uid}`,
    })) as { items: Resource<'Synchronization'>[] };
    return list.items.filter((s) => s.metadata.ownerReferences?.some((o) => o.uid === ref.uid));
  }

  /**
   * The Schedule's own counts: firings taken, firings missed because they came later than
   * `startingDeadlineSeconds` (the catch-up window: the worker or Temporal was down), and firings
   * skipped because the previous one still ran (`concurrencyPolicy: Forbid`).
   */
  async function firingCounts(plan: ResourceRef): Promise<Record<string, number>> {
    try {
      const { info } = await schedules.getHandle(scheduleIdOf(plan)).describe();
      return {
        firings: info.numActionsTaken,
        missedFirings: info.numActionsMissedCatchupWindow,
        skippedFirings: info.numActionsSkippedOverlap,
      };
    } catch (err) {
      deps.log.warn(
        { err: (err as Error).message, plan: `${plan.namespace}/${plan.name}` },
        'schedule not described',
      );
      return {};
    }
  }

  /**
   * Writes `status.active` (the plan's unfinished Synchronizations), the firing counts, and
   * `lastSuccessfulTime`: the newest completion of a Succeeded one, never older than the last
   * written (history pruning may already have deleted the Synchronization it came from). `listed`:
   * the plan's Synchronizations when the caller has just listed them.
   */
  async function writeActive(plan: ResourceRef, listed?: Resource<'Synchronization'>[]): Promise<void> {
    const [owned, current] = await Promise.all([
      listed ?? listOwned(plan),
      getCustomObject(custom, 'SynchronizationPlan', plan.namespace, plan.name),
    ]);
    if (!current || current.metadata.uid !== plan.uid) return;
    const active = owned
      .filter((s) => s.status?.phase !== 'Succeeded' && s.status?.phase !== 'Failed')
      .map((s) => ({ name: s.metadata.name, uid: s.metadata.uid }));
    const lastSuccessfulTime = [
      current.status?.lastSuccessfulTime as string | undefined,
      ...owned.filter((s) => s.status?.phase === 'Succeeded').map((s) => s.status?.completionTime),
    ]
      .filter((t): t is string => typeof t === 'string')
      .sort()
      .at(-1);
    if (lastSuccessfulTime)
      deps.metrics.runs.planLastSuccess.set(
        { namespace: plan.namespace, plan: plan.name },
        Date.parse(lastSuccessfulTime) / 1000,
      );
    await patchStatus(custom, plan, {
      active,
      ...(lastSuccessfulTime && { lastSuccessfulTime }),
      ...(await firingCounts(plan)),
    }).catch((err) => {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    });
  }

  return {
    /** Creates or updates the plan's Schedule; pauses it while the plan is suspended. */
    async upsertPlanSchedule(input: { ref: ResourceRef; spec: SynchronizationPlanSpec }): Promise<string> {
      const { ref, spec } = input;
      const scheduleId = scheduleIdOf(ref);
      const action: ScheduleOptionsAction = {
        type: 'startWorkflow',
        workflowType: PLAN_FIRING_WORKFLOW_TYPE,
        args: [{ plan: ref }],
        taskQueue: deps.temporal.taskQueue,
        workflowId: `${scheduleId}/firing`,
        typedSearchAttributes: [
          { key: RESOURCE_KIND, value: ref.kind },
          { key: RESOURCE_NAMESPACE, value: ref.namespace },
          { key: RESOURCE_NAME, value: ref.name },
          { key: RESOURCE_UID, value: ref.uid },
        ],
      };
      const policies = {
        overlap: OVERLAP[spec.concurrencyPolicy ?? 'Allow'],
        catchupWindow:
          spec.startingDeadlineSeconds !== undefined
            ? `${Math.max(10, spec.startingDeadlineSeconds)}s`
            : '1 year',
      };
      const note = spec.suspend
        ? 'suspended: spec.suspend is true'
        : `SynchronizationPlan ${ref.namespace}/${ref.name}`;
      const handle = schedules.getHandle(scheduleId);
      try {
        await handle.update((prev) => ({
          ...prev,
          spec: { cronExpressions: [spec.schedule] },
          action,
          policies: { ...prev.policies, ...policies },
          state: { ...prev.state, paused: Boolean(spec.suspend), note },
        }));
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
        await schedules.create({
          scheduleId,
          spec: { cronExpressions: [spec.schedule] },
          action,
          policies,
          state: { paused: Boolean(spec.suspend), note },
          memo: { resource: `SynchronizationPlan ${ref.namespace}/${ref.name}` },
        });
      }
      return scheduleId;
    },

    /** Deletes the plan's Schedule; a missing one is fine (idempotent clean-up). */
    async deletePlanSchedule(input: { ref: ResourceRef }): Promise<void> {
      try {
        await schedules.getHandle(scheduleIdOf(input.ref)).delete();
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
      deps.metrics.runs.planLastSuccess.remove({ namespace: input.ref.namespace, plan: input.ref.name });
    },

    /**
     * One firing: creates the Synchronization from the plan's current template (idempotent: the
     * name derives from the firing minute), records `lastScheduleTime` and prunes history.
     * Returns the Synchronization's name, or undefined when the plan is gone.
     */
    async fireSynchronizationPlan(input: {
      plan: ResourceRef;
      firedAtMs: number;
      /** Unique to the firing (its workflow run id): two firings never share a Synchronization. */
      firingId: string;
    }): Promise<string | undefined> {
      const { plan } = input;
      const current = await getCustomObject(custom, 'SynchronizationPlan', plan.namespace, plan.name);
      if (!current) return undefined;
      if (current.metadata.uid !== plan.uid || current.metadata.deletionTimestamp) return undefined;
      const spec = current.spec;
      const name = synchronizationNameFor(plan.name, input.firedAtMs, input.firingId);
      const body = {
        apiVersion: apiVersionOf('Synchronization'),
        kind: 'Synchronization',
        metadata: {
          name,
          namespace: plan.namespace,
          labels: {
            ...spec.template?.metadata?.labels,
            [PLAN_LABEL]: fitName(plan.name),
            [PLAN_UID_LABEL]: plan.uid,
          },
          annotations: {
            ...spec.template?.metadata?.annotations,
            'automation.astronetes.io/scheduled-at': new Date(input.firedAtMs).toISOString(),
          },
          ownerReferences: [
            {
              apiVersion: current.apiVersion,
              kind: 'SynchronizationPlan',
              name: plan.name,
              uid: plan.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: spec.template?.spec ?? {},
      };
      try {
        await custom.createNamespacedCustomObject({
          group,
          version: API_VERSION,
          namespace: plan.namespace,
          plural,
          body,
        });
      } catch (err) {
        if (!isConflict(err)) throw err; // already created by an earlier attempt
      }
      await patchStatus(custom, plan, {
        lastScheduleTime: new Date(input.firedAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
      const listed = await listOwned(plan);
      await writeActive(plan, listed);
      // History limits, as a CronJob keeps its Jobs: newest first, finished ones beyond the limits go.
      const owned = [...listed].sort((a, b) =>
        (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
      );
      const keep = {
        Succeeded: spec.successfulJobsHistoryLimit ?? 2,
        Failed: spec.failedJobsHistoryLimit ?? 2,
      };
      const seen = { Succeeded: 0, Failed: 0 };
      for (const s of owned) {
        const phase = s.status?.phase;
        if (phase !== 'Succeeded' && phase !== 'Failed') continue;
        seen[phase]++;
        if (seen[phase] > keep[phase]) {
          await custom
            .deleteNamespacedCustomObject({
              group,
              version: API_VERSION,
              namespace: plan.namespace,
              plural,
              name: s.metadata.name,
            })
            .catch((err) => {
              if (!isNotFound(err)) throw err;
            });
          deps.log.info(
            { plan: `${plan.namespace}/${plan.name}`, synchronization: s.metadata.name, phase },
            'pruned finished synchronization',
          );
        }
      }
      return name;
    },

    /** After a firing's Synchronization ends: `status.active`, `lastSuccessfulTime` and the counts. */
    async recordPlanFiring(input: { plan: ResourceRef }): Promise<void> {
      await writeActive(input.plan);
    },

    /** The phase of a Synchronization, or 'Gone' when it no longer exists. */
    async synchronizationPhase(input: { namespace: string; name: string }): Promise<string> {
      const s = await getCustomObject(custom, 'Synchronization', input.namespace, input.name);
      return s ? (s.status?.phase ?? 'Pending') : 'Gone';
    },

    /** Deletes a Synchronization (Replace policy: the running firing makes way for the next). */
    async deleteSynchronization(input: { namespace: string; name: string }): Promise<void> {
      await custom
        .deleteNamespacedCustomObject({ group, version: API_VERSION, plural, ...input })
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
    },
  };
}

/** The plan activities, as workflows see them. */
export type PlanActivities = ReturnType<typeof createPlanActivities>;
