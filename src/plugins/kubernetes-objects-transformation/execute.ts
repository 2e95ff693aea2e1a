/**
 * The run of a `kubernetes-objects-transformation` Task (seed 5.1.3.5, 6.1.4): for each
 * `resources[]` entry, the JSON patch applied to every matching object of the cluster the Task
 * lives in (`run.home`), each object reported on its own. A patch that does not apply to one
 * object fails that object and the run goes on; the run ends Failed when any object failed.
 *
 * - Selection: the entry's identifier (group/version/resource) and its `selector`; a Task that a
 *   LiveSynchronization wrote selects the copies it made by their owner label.
 * - Idempotent: each patched object is annotated with the TaskRun's uid in the same write, so an
 *   attempt retried after a lost worker skips what the first one patched (an `add` to an array is
 *   never applied twice). The object is written whole with the resourceVersion it was read at, so
 *   a concurrent change is a conflict, and the patch is applied again to the new version.
 * - Dry run: nothing is written; the report lists the JSON patch each object would get, in
 *   `status.report` (the first objects) and whole in the ConfigMap `<taskrun>-dry-run`.
 * - `fromOriginal`: the entry's objects are restored from the LiveSynchronization's bucket
 *   originals, then patched (see restore.ts).
 */
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { readObjectLogged, resolveTypeLogged } from '../../kube/logged.js';
import { isConflict, isNotFound, kubeErrorText } from '../../kube/errors.js';
import { listAllPages } from '../../kube/list.js';
import { pool } from '../../pool.js';
import { fitName } from '../../kube/names.js';
import { formatLabelSelector } from '../../kube/selectors.js';
import { applyUserPatch, type KubeObject } from '../kubernetes-objects-to-kubernetes/transform.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { TransformationConfig } from './index.js';
import { restoreEntry, type RestoreContext } from './restore.js';

/** Annotation on each object a TaskRun patched: the TaskRun's uid. */
export const PATCHED_BY_ANNOTATION = 'automation.astronetes.io/patched-by-taskrun';

/** Failure type of a run in which some objects could not be patched. */
export const TRANSFORMATION_INCOMPLETE = 'TransformationIncomplete';

/** Objects patched at once. */
const CONCURRENCY = 16;
/** Objects named in `status.report` per entry (the ConfigMap of a dry run has them all). */
const REPORTED = 50;
const ATTEMPTS = 3;

/** What happened to one object. */
export interface ObjectResult {
  object: string;
  result: 'patched' | 'unchanged' | 'failed' | 'would-patch' | 'restored' | 'would-restore';
  error?: string;
  /** The user's patch (patch mode), or the change against the object in the cluster (restore). */
  patch?: Operation[];
  /** The bucket key a restored object came from. */
  from?: string;
}

/** The counts and objects of one entry. */
export interface EntryReport {
  resource: string;
  matched: number;
  patched: number;
  restored: number;
  unchanged: number;
  failed: number;
  /** Milliseconds this entry took: its share of the recovery time. */
  durationMs: number;
  error?: string;
  objects: ObjectResult[];
}

/** Adds one object's result to its entry. */
function count(report: EntryReport, r: ObjectResult): void {
  if (r.result === 'would-patch' || r.result === 'patched') report.patched++;
  else if (r.result === 'would-restore' || r.result === 'restored') report.restored++;
  else report[r.result]++;
  report.objects.push(r);
}

/** Loads the entry's bucket and restores from it; a missing field or bucket fails the entry. */
async function restoreFromBucket(
  run: PluginRun<TransformationConfig>,
  fromOriginal: NonNullable<TransformationConfig['resources'][number]['fromOriginal']>,
  field: string,
  ctx: Omit<RestoreContext, 'bucket' | 'liveSync'>,
): Promise<ObjectResult[]> {
  if (!fromOriginal.bucketName) throw new Error(`${field}.bucketName: required to restore from the bucket`);
  if (!fromOriginal.liveSynchronization)
    throw new Error(`${field}.liveSynchronization: required (namespace/name whose originals to restore)`);
  const [namespace, name] = fromOriginal.liveSynchronization.split('/');
  const bucket = await run.assets.bucket(run.ref.namespace, fromOriginal.bucketName);
  if (!bucket.ok) throw new Error(`${field}.bucketName: ${bucket.message}`);
  try {
    return await restoreEntry({
      ...ctx,
      bucket: { client: bucket.value.client, name: bucket.value.name, asset: bucket.value.asset },
      liveSync: { namespace, name },
      quarantine: fromOriginal.quarantine,
    });
  } finally {
    bucket.value.client.destroy();
  }
}

/** The object as JSON has it: the client turns timestamps into Dates, which a diff would report. */
function plain(obj: unknown): KubeObject {
  return JSON.parse(JSON.stringify(obj)) as KubeObject;
}

function nameOf(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
}

/**
 * What to write to `obj`: the object with the user's patch applied and the TaskRun mark added
 * (written whole, with the resourceVersion it was read at, so a concurrent change is a conflict),
 * and the user's patch as a diff for the report. No `write` when the patch changes nothing.
 */
export function planPatch(
  obj: KubeObject,
  ops: Parameters<typeof applyUserPatch>[1],
  options: { skipIfNotFoundOnDelete?: boolean },
  taskRunUid: string,
): { ok: true; diff?: Operation[]; write?: KubeObject } | { ok: false; error: string } {
  const patched = applyUserPatch(JSON.parse(JSON.stringify(obj)) as KubeObject, ops, options);
  if (!patched.ok) return patched;
  const diff = jsonpatch.compare(obj, patched.object);
  if (diff.length === 0) return { ok: true };
  const write = patched.object;
  write.metadata = {
    ...write.metadata,
    resourceVersion: obj.metadata?.resourceVersion,
    annotations: { ...write.metadata?.annotations, [PATCHED_BY_ANNOTATION]: taskRunUid },
  };
  return { ok: true, diff, write };
}

export async function transformObjects(run: PluginRun<TransformationConfig>): Promise<PluginOutcome> {
  const { config, ref, log, signal, dryRun } = run;
  const api = KubernetesObjectApi.makeApiClient(run.home);
  const reports: EntryReport[] = [];
  const started = Date.now();
  const publish = () => {
    const totals = { matched: 0, patched: 0, restored: 0, unchanged: 0, failed: 0 };
    for (const r of reports)
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r[k];
    run.progress(totals);
    run.report({
      dryRun,
      resources: reports.map((r) => ({
        ...r,
        objects: r.objects.filter((o) => o.result !== 'unchanged').slice(0, REPORTED),
      })),
    });
    return totals;
  };

  for (const [i, entry] of config.resources.entries()) {
    const gvr = {
      group: entry.identifier.group ?? '',
      version: entry.identifier.version,
      resource: (entry.identifier.resource ?? entry.identifier.resources)!,
    };
    const report: EntryReport = {
      resource: `${gvr.group || 'core'}/${gvr.version}/${gvr.resource}`,
      matched: 0,
      patched: 0,
      restored: 0,
      unchanged: 0,
      failed: 0,
      durationMs: 0,
      objects: [],
    };
    reports.push(report);
    const entryStarted = Date.now();
    const base = `spec.config.resources[${i}]`;
    try {
      const entryLog = log.child({
        resource: { apiGroup: gvr.group, apiVersion: gvr.version, resource: gvr.resource },
      });
      const type = await resolveTypeLogged(run.home, gvr, 'this cluster', entryLog).catch((err: Error) => {
        throw new Error(`${base}.identifier: ${err.message}`);
      });
      const labelSelector = formatLabelSelector(entry.selector);
      entryLog.info({ labelSelector }, 'listing objects in cluster');
      const { items } = await listAllPages<KubeObject>(api, type, labelSelector).catch((err: unknown) => {
        entryLog.error({ labelSelector, err: kubeErrorText(err) }, 'error listing objects in cluster');
        throw err;
      });
      if (items.length) entryLog.info({ labelSelector, count: items.length }, 'listed objects in cluster');
      else entryLog.info({ labelSelector }, 'list objects not found in cluster');
      report.matched = items.length;
      const ops = entry.patch?.operations;
      const options = { skipIfNotFoundOnDelete: entry.patchOptions?.skipIfNotFoundOnDelete };
      // `quarantine` alone restores from the quarantine; `enabled: false` turns either off.
      if (entry.fromOriginal?.enabled ?? entry.fromOriginal?.quarantine !== undefined) {
        const results = await restoreFromBucket(run, entry.fromOriginal, `${base}.fromOriginal`, {
          api,
          log: entryLog,
          gvr,
          type,
          selected: items,
          patch: ops,
          skipIfNotFoundOnDelete: options.skipIfNotFoundOnDelete,
          dryRun,
          onRestored: (object, key) =>
            log.info({ object, resource: report.resource, bucketObject: { path: key } }, 'object restored'),
        });
        report.matched = results.length;
        for (const r of results) count(report, r);
        report.durationMs = Date.now() - entryStarted;
        publish();
        continue;
      }
      const one = async (first: KubeObject): Promise<ObjectResult> => {
        const object = nameOf(first);
        // List items carry no apiVersion and kind; a write needs them.
        let current: KubeObject = { apiVersion: type.apiVersion, kind: type.kind, ...plain(first) };
        for (let attempt = 1; ; attempt++) {
          if (current.metadata?.annotations?.[PATCHED_BY_ANNOTATION] === ref.uid)
            return { object, result: 'patched' }; // an earlier attempt of this run did it
          const planned = planPatch(current, ops, options, ref.uid);
          if (!planned.ok) return { object, result: 'failed', error: planned.error };
          if (!planned.write) return { object, result: 'unchanged' };
          if (dryRun) return { object, result: 'would-patch', patch: planned.diff };
          try {
            await api.replace(planned.write as KubernetesObject);
            log.info({ object, resource: report.resource, patch: planned.diff }, 'object patched');
            return { object, result: 'patched', patch: planned.diff };
          } catch (err) {
            if (isNotFound(err)) return { object, result: 'unchanged', error: 'deleted meanwhile' };
            // 409: the object changed since it was read; read it again and patch that version.
            if (!isConflict(err) || attempt >= ATTEMPTS)
              return { object, result: 'failed', error: kubeErrorText(err) };
            const reread = await readObjectLogged<KubeObject>(api, current, entryLog);
            if (!reread) return { object, result: 'unchanged', error: 'deleted meanwhile' };
            current = plain(reread);
          }
        }
      };
      let done = 0;
      await pool(
        items,
        CONCURRENCY,
        async (item) => {
          const r = await one(item);
          count(report, r);
          if (r.result === 'failed')
            log.warn({ object: r.object, resource: report.resource, err: r.error }, 'object not patched');
          if (++done % CONCURRENCY === 0) {
            run.heartbeat();
            publish();
          }
        },
        signal,
      ).catch((err: unknown) => {
        if (!signal.aborted) throw err;
      });
    } catch (err) {
      report.error = (err as Error).message;
      report.failed++;
      log.error({ resource: report.resource, err: report.error }, 'resource not transformed');
    }
    report.durationMs = Date.now() - entryStarted;
    if (signal.aborted) break;
  }
  const totals = publish();
  if (signal.aborted)
    throw ApplicationFailure.nonRetryable('cancelled: the TaskRun was deleted', 'Cancelled');
  if (dryRun) await writeDryRunReport(run, reports);
  const verb = dryRun ? 'would patch' : 'patched';
  const restored = totals.restored ? `, ${dryRun ? 'would restore' : 'restored'} ${totals.restored}` : '';
  const summary =
    `${verb} ${totals.patched} of ${totals.matched} objects${restored}, ${totals.unchanged} unchanged, ${totals.failed} failed` +
    ` in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (totals.failed > 0) {
    const examples = reports
      .flatMap((r, i) => [
        ...(r.error ? [r.error] : []),
        ...r.objects
          .filter((o) => o.result === 'failed')
          .map((o) => `spec.config.resources[${i}] ${o.object}: ${o.error}`),
      ])
      .slice(0, 5);
    throw ApplicationFailure.nonRetryable(`${summary}: ${examples.join('; ')}`, TRANSFORMATION_INCOMPLETE);
  }
  return { message: summary, progress: totals };
}

/** The whole dry-run report, in the ConfigMap `<taskrun>-dry-run` of the TaskRun's namespace. */
async function writeDryRunReport(run: PluginRun, reports: EntryReport[]): Promise<void> {
  const core = run.home.makeApiClient(CoreV1Api);
  const name = fitName(`${run.ref.name}-dry-run`);
  const text = JSON.stringify({ taskRun: run.ref.name, resources: reports }, null, 2);
  const body = {
    metadata: {
      name,
      namespace: run.ref.namespace,
      labels: { 'automation.astronetes.io/taskrun': fitName(run.ref.name) },
      ownerReferences: [
        {
          apiVersion: 'automation.astronetes.io/v1alpha1',
          kind: 'TaskRun',
          name: run.ref.name,
          uid: run.ref.uid,
        },
      ],
    },
    // A ConfigMap holds at most 1 MiB; a larger report is cut, and says so.
    data: {
      'report.json': text.length > 900_000 ? `${text.slice(0, 900_000)}\n... cut at 900000 characters` : text,
    },
  };
  try {
    await core.createNamespacedConfigMap({ namespace: run.ref.namespace, body });
  } catch (err) {
    if (!isConflict(err)) throw err;
    await core.replaceNamespacedConfigMap({ namespace: run.ref.namespace, name, body });
  }
}
