/**
 * Synchronization and SynchronizationPlan through the bridge on the real stack:
 * - a one-shot kubernetes-objects-to-kubernetes Synchronization copies what its filters select,
 *   patched, with bucket originals, and a second run prunes what left the source;
 * - restartPolicy OnFailure restarts with backoff up to backoffLimit, shown in status;
 * - deleting a running Synchronization stops it and lets it go;
 * - a plan's concurrencyPolicy Allow, Forbid and Replace, history limits, two firings in the
 *   same minute, and a plan name longer than a label value.
 */
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { API_VERSION } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { createLogger } from '../../src/logger.js';
import { startOrchestrator, type Orchestrator } from '../../src/orchestrator.js';
import { PLAN_UID_LABEL } from '../../activities/plans.js';
import { orchestratorKubeConfig } from './rbac.js';
import {
  clusterClients,
  createBucketAsset,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  getResource,
  managementClients,
  quietWorkflowBundle,
  synchronizationHelpers,
} from './resources.js';
import { sourceCluster, stackEnv, uniqueName } from './stack-env.js';
import { oneShotCopyScenario } from './one-shot-copy.scenario.js';
import { control } from '../../tools/stack/stack.js';

const env = stackEnv();
const { custom } = managementClients();
const mgmt = clusterClients(env.MANAGEMENT_KUBECONFIG);

const ns = uniqueName('syncs');
const { create, remove, finished } = synchronizationHelpers(custom, ns);
let orchestrator: Orchestrator;

/** A config whose only entry names a type the source does not serve: it always fails. */
const FAILING = {
  sourceName: 'source',
  destinationName: 'destination',
  replication: { resources: [{ group: 'example.com', version: 'v1', resource: 'widgets' }] },
};

/** A config that selects nothing: it succeeds at once. */
const EMPTY = {
  sourceName: 'source',
  destinationName: 'destination',
  replication: {
    resources: [
      {
        version: 'v1',
        resource: 'configmaps',
        filters: { namespaceSelector: { matchLabels: { 'sync-test': 'nothing-has-this' } } },
      },
    ],
  },
};

async function planSynchronizations(plan: Resource): Promise<Resource[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: 'automation.astronetes.io',
    version: API_VERSION,
    namespace: ns,
    plural: 'synchronizations',
    labelSelector: `${PLAN_UID_LABEL}=${plan.metadata.uid}`,
  })) as { items: Resource[] };
  return list.items;
}

/** Waits until the plan's `status[field]` (a firing count) is at least `n`; returns the plan. */
function planCountAtLeast(name: string, field: string, n: number, timeoutMs: number): Promise<Resource> {
  return eventually(
    `${field} >= ${n} in the status of plan ${name}`,
    async () => {
      const plan = await getResource(custom, 'SynchronizationPlan', ns, name);
      return ((plan?.status?.[field] as number | undefined) ?? 0) >= n ? plan : undefined;
    },
    timeoutMs,
  );
}

function scheduleOf(plan: Resource) {
  return orchestrator.client.schedule.getHandle(
    `SynchronizationPlan/${ns}/${plan.metadata.name}/${plan.metadata.uid}`,
  );
}

oneShotCopyScenario(sourceCluster('source'));

beforeAll(async () => {
  await mgmt.core.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt.core, ns);
  await createBucketAsset(custom, mgmt.core, ns);
  orchestrator = await startOrchestrator({
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: uniqueName('syncs'),
    },
    management: await orchestratorKubeConfig(),
    log: createLogger({ level: 'silent' }),
    instance: 'synchronizations-test',
    namespaces: [ns],
    recheckSeconds: 2,
    workerOverrides: { workflowBundle: await quietWorkflowBundle() },
  });
});

afterAll(async () => {
  await deleteAllOurs(custom, ns, 120_000);
  await orchestrator?.shutdown();
  await mgmt.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('restartPolicy and deletion', () => {
  it('OnFailure restarts with backoff up to backoffLimit, counted in status, then fails naming the cause', async () => {
    await create('Synchronization', 'retries', {
      plugin: 'kubernetes-objects-to-kubernetes',
      restartPolicy: 'OnFailure',
      backoffLimit: 1,
      config: FAILING,
    });
    const done = await finished('retries', 90_000);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status).toMatchObject({ restarts: 1, restartLimit: 1 });
    expect(done.status?.message).toMatch(/example\.com\/v1.*\(after 1 of 1 restarts\)/);
    const events = await mgmt.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=retries`,
    });
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Started', 'BackOff', 'SynchronizationIncomplete']),
    );
  }, 120_000);

  it('Never (the default) runs once', async () => {
    await create('Synchronization', 'once', { plugin: 'kubernetes-objects-to-kubernetes', config: FAILING });
    const done = await finished('once');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.restarts).toBeUndefined();
    expect(done.status?.message).not.toMatch(/restarts/);
  });

  it('deleting a running Synchronization stops its workflow and lets the object go', async () => {
    const created = await create('Synchronization', 'deleted', {
      plugin: 'kubernetes-objects-to-kubernetes',
      restartPolicy: 'OnFailure',
      backoffLimit: 5,
      config: FAILING,
    });
    const running = await eventually('the Synchronization to back off', async () => {
      const r = await getResource(custom, 'Synchronization', ns, 'deleted');
      return r?.status?.phase === 'Running' && (r.status.restarts as number) >= 1 ? r : undefined;
    });
    expect(running.metadata.uid).toBe(created.metadata.uid);
    await remove('Synchronization', 'deleted');
    const closed = await orchestrator.client.workflow.getHandle(running.status!.workflowId!).describe();
    expect(closed.status.name).toBe('CANCELLED');
  }, 90_000);
});

describe('run-synchronization Task', () => {
  const finishedRun = (name: string) =>
    eventually(
      `TaskRun ${name} to finish`,
      async () => {
        const r = await getResource(custom, 'TaskRun', ns, name);
        return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
      },
      60_000,
    );

  it('a TaskRun creates the Synchronization from the template, owned by it, and takes on its phase', async () => {
    await create('Task', 'sync-task', {
      plugin: 'run-synchronization',
      config: {
        template: {
          metadata: { labels: { team: 'dr' }, annotations: { note: 'from a task' } },
          spec: { plugin: 'kubernetes-to-kubernetes', config: EMPTY }, // the seed's spelling
        },
      },
    });
    const task = await eventually('the Task Ready', async () => {
      const r = await getResource(custom, 'Task', ns, 'sync-task');
      return r?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? r : undefined;
    });
    expect(JSON.stringify(task.status?.warnings)).toMatch(
      /spec\.config\.template\.spec\.plugin.*kubernetes-to-kubernetes.*accepted as kubernetes-objects-to-kubernetes/,
    );
    const taskRun = await create('TaskRun', 'run-sync', { taskName: 'sync-task' });
    const done = await finishedRun('run-sync');
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.message).toMatch(/^Synchronization run-sync succeeded: 0 objects in sync/);
    const sync = (await getResource(custom, 'Synchronization', ns, 'run-sync'))!;
    expect(sync.spec).toMatchObject({ plugin: 'kubernetes-objects-to-kubernetes' });
    expect(sync.metadata.labels).toMatchObject({
      team: 'dr',
      'automation.astronetes.io/taskrun': 'run-sync',
    });
    expect(sync.metadata.annotations).toMatchObject({ note: 'from a task' });
    expect(sync.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'TaskRun', uid: taskRun.metadata.uid });
    expect(sync.status?.phase).toBe('Succeeded');
  }, 90_000);

  it("fails with the Synchronization's own message when it fails", async () => {
    await create('Task', 'failing-task', {
      plugin: 'run-synchronization',
      config: { template: { spec: { plugin: 'kubernetes-objects-to-kubernetes', config: FAILING } } },
    });
    await create('TaskRun', 'run-failing', { taskName: 'failing-task' });
    const done = await finishedRun('run-failing');
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('SynchronizationFailed');
    expect(done.status?.message).toMatch(/^Synchronization run-failing failed: .*example\.com\/v1/);
  }, 90_000);

  it("a restart of the TaskRun (its Task's restartPolicy) makes the failed Synchronization again", async () => {
    await create('Task', 'retried-task', {
      plugin: 'run-synchronization',
      restartPolicy: 'OnFailure',
      backoffLimit: 1,
      config: { template: { spec: { plugin: 'kubernetes-objects-to-kubernetes', config: FAILING } } },
    });
    await create('TaskRun', 'run-retried', { taskName: 'retried-task' });
    const first = await eventually('the first Synchronization to fail', async () => {
      const s = await getResource(custom, 'Synchronization', ns, 'run-retried');
      return s?.status?.phase === 'Failed' ? s : undefined;
    });
    const done = await eventually(
      'TaskRun run-retried to fail after its restart',
      async () => {
        const r = await getResource(custom, 'TaskRun', ns, 'run-retried');
        return r?.status?.phase === 'Failed' ? r : undefined;
      },
      90_000,
    );
    expect(done.status).toMatchObject({ restarts: 1, restartLimit: 1 });
    expect(done.status?.message).toMatch(/^Synchronization run-retried failed: .*\(after 1 of 1 restarts\)$/);
    const second = (await getResource(custom, 'Synchronization', ns, 'run-retried'))!;
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    expect(second.status?.phase).toBe('Failed');
  }, 150_000);

  it('deleting a running TaskRun deletes the Synchronization it started', async () => {
    await create('Task', 'slow-task', {
      plugin: 'run-synchronization',
      config: {
        template: {
          spec: {
            plugin: 'kubernetes-objects-to-kubernetes',
            restartPolicy: 'OnFailure',
            backoffLimit: 5,
            config: FAILING,
          },
        },
      },
    });
    await create('TaskRun', 'run-slow', { taskName: 'slow-task' });
    await eventually('the Synchronization backing off', async () => {
      const s = await getResource(custom, 'Synchronization', ns, 'run-slow');
      return (s?.status?.restarts as number) >= 1;
    });
    await remove('TaskRun', 'run-slow');
    await eventually(
      'the Synchronization to go with its TaskRun',
      async () => (await getResource(custom, 'Synchronization', ns, 'run-slow')) === undefined,
    );
  }, 90_000);
});

describe('SynchronizationPlan', () => {
  it('Allow: firings overlap, two in the same minute get two Synchronizations', async () => {
    const plan = await create('SynchronizationPlan', 'allow', {
      schedule: '@every 3s',
      concurrencyPolicy: 'Allow',
      template: {
        spec: {
          plugin: 'kubernetes-objects-to-kubernetes',
          restartPolicy: 'OnFailure',
          backoffLimit: 3,
          config: FAILING,
        },
      },
    });
    const running = await eventually(
      'two Synchronizations running at once',
      async () => {
        const items = (await planSynchronizations(plan)).filter((s) => s.status?.phase !== 'Failed');
        return items.length >= 2 ? items : undefined;
      },
      60_000,
    );
    const names = running.map((s) => s.metadata.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^allow-\d+-[0-9a-f]{5}$/);
    await remove('SynchronizationPlan', 'allow');
  }, 90_000);

  it('Forbid: no firing starts while one runs; skipped firings are counted', async () => {
    const plan = await create('SynchronizationPlan', 'forbid', {
      schedule: '@every 2s',
      concurrencyPolicy: 'Forbid',
      template: {
        spec: {
          plugin: 'kubernetes-objects-to-kubernetes',
          restartPolicy: 'OnFailure',
          backoffLimit: 1,
          config: FAILING,
        },
      },
    });
    const described = await eventually('the schedule', () =>
      scheduleOf(plan)
        .describe()
        .catch(() => undefined),
    );
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    const [first] = await eventually('the first firing', async () => {
      const items = await planSynchronizations(plan);
      return items.length > 0 ? items : undefined;
    });
    // While the first runs (about 12 s: a failure, a 10 s backoff, a failure), nothing else starts.
    for (;;) {
      const items = await planSynchronizations(plan);
      const current = items.find((s) => s.metadata.name === first.metadata.name);
      if (current?.status?.phase === 'Failed') break;
      expect(items.map((s) => s.metadata.name)).toEqual([first.metadata.name]);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const counted = await planCountAtLeast('forbid', 'skippedFirings', 2, 30_000);
    expect(counted.status?.firings as number).toBeGreaterThanOrEqual(1);
    await remove('SynchronizationPlan', 'forbid');
  }, 120_000);

  it('Replace: a new firing deletes the running Synchronization', async () => {
    const plan = await create('SynchronizationPlan', 'replace', {
      schedule: '@every 6s',
      concurrencyPolicy: 'Replace',
      template: {
        spec: {
          plugin: 'kubernetes-objects-to-kubernetes',
          restartPolicy: 'OnFailure',
          backoffLimit: 5,
          config: FAILING,
        },
      },
    });
    const [first] = await eventually('the first firing', async () => {
      const items = await planSynchronizations(plan);
      return items.length > 0 ? items : undefined;
    });
    await eventually(
      'the first Synchronization replaced by a newer one',
      async () => {
        const items = await planSynchronizations(plan);
        return items.length === 1 && items[0].metadata.name !== first.metadata.name;
      },
      60_000,
    );
    expect(await getResource(custom, 'Synchronization', ns, first.metadata.name)).toBeUndefined();
    await remove('SynchronizationPlan', 'replace');
  }, 90_000);

  it.each([
    ['successfulJobsHistoryLimit', EMPTY, 'Succeeded'],
    ['failedJobsHistoryLimit', FAILING, 'Failed'],
  ])(
    '%s keeps only the newest finished Synchronizations',
    async (limit, config, phase) => {
      const name = `history-${phase.toLowerCase()}`;
      const plan = await create('SynchronizationPlan', name, {
        schedule: '@every 2s',
        [limit]: 1,
        template: { spec: { plugin: 'kubernetes-objects-to-kubernetes', config } },
      });
      const seen = new Set<string>();
      await eventually(
        'four firings, the oldest pruned',
        async () => {
          const items = await planSynchronizations(plan);
          for (const s of items) seen.add(s.metadata.name);
          const ended = items.filter((s) => s.status?.phase === phase);
          // At most the limit, plus the newest one that finished since the last firing pruned.
          expect(ended.length).toBeLessThanOrEqual(2);
          return seen.size >= 4 && items.length < seen.size;
        },
        60_000,
      );
      if (phase === 'Succeeded') {
        const r = await getResource(custom, 'SynchronizationPlan', ns, name);
        expect(r?.status?.lastSuccessfulTime).toEqual(expect.any(String));
      }
      await remove('SynchronizationPlan', name);
    },
    90_000,
  );

  it('a plan name longer than a label value still fires, with a name and labels that fit', async () => {
    const long = `plan-${'x'.repeat(70)}`;
    const plan = await create('SynchronizationPlan', long, {
      schedule: '0 0 1 1 *',
      template: {
        metadata: { labels: { team: 'dr' } },
        spec: { plugin: 'kubernetes-objects-to-kubernetes', config: EMPTY },
      },
    });
    await eventually('the plan scheduled', async () => {
      const r = await getResource(custom, 'SynchronizationPlan', ns, long);
      return r?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    await scheduleOf(plan).trigger();
    const [sync] = await eventually('a Synchronization from the long-named plan', async () => {
      const items = await planSynchronizations(plan);
      return items.length > 0 ? items : undefined;
    });
    expect(sync.metadata.name.length).toBeLessThanOrEqual(63);
    expect(sync.metadata.labels).toMatchObject({ team: 'dr', [PLAN_UID_LABEL]: plan.metadata.uid });
    expect(sync.metadata.labels!['automation.astronetes.io/synchronization-plan'].length).toBeLessThanOrEqual(
      63,
    );
    expect((await finished(sync.metadata.name)).status?.phase).toBe('Succeeded');
    await remove('SynchronizationPlan', long);
  }, 60_000);

  // Last: it stops the Temporal server.
  it('startingDeadlineSeconds: firings that could not start in time (Temporal down) are counted as missed', async () => {
    await create('SynchronizationPlan', 'deadline', {
      schedule: '@every 4s',
      startingDeadlineSeconds: 10,
      template: { spec: { plugin: 'kubernetes-objects-to-kubernetes', config: EMPTY } },
    });
    await eventually('a first firing', async () => {
      const r = await getResource(custom, 'SynchronizationPlan', ns, 'deadline');
      return r?.status?.lastScheduleTime;
    });
    const quiet = { print: () => undefined };
    await control('stop', 'temporal', quiet);
    await new Promise((r) => setTimeout(r, 30_000)); // about seven firing times, most beyond the deadline
    await control('start', 'temporal', quiet);
    const r = await planCountAtLeast('deadline', 'missedFirings', 1, 120_000);
    expect(r.status?.missedFirings as number).toBeLessThanOrEqual(8);
    await remove('SynchronizationPlan', 'deadline');
  }, 240_000);
});
