/**
 * The run of a `bucket-to-kubernetes-objects` Synchronization: restores a Complete
 * `kubernetes-objects-to-bucket` backup into a cluster. Types go back in dependency order (CRDs,
 * namespaces, service accounts, config, workloads, then custom resources); each object is read
 * and checked against its checksum, cleaned as replication cleans a copy (uid, resourceVersion,
 * status, owner references, cluster IPs), moved to its mapped namespace, and created. An object
 * that exists is skipped unless `existingResourcePolicy: update`; an object a controller owns is
 * skipped (its owner is restored and its controller makes it again). Every object is reported:
 * created, updated, skipped or failed; the run goes on past a failed one and ends
 * `RestoreIncomplete` naming the first. Idempotent, so an attempt retried after a lost worker
 * just skips what the first created.
 */
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import { BackupReadError } from '../../bucket/backup-store.js';
import type { ManifestEntry } from '../../bucket/manifest.js';
import { isNotFound, kubeErrorText, statusOf } from '../../kube/errors.js';
import { pool } from '../../pool.js';
import { openRestoreSource } from '../backup-common.js';
import { cleanForDestination, type KubeObject } from '../kubernetes-objects-to-kubernetes/transform.js';
import { crdName, parseResourceFolder, restoreRank } from '../kubernetes-objects-to-bucket/selection.js';
import { objectOfKey } from '../kubernetes-objects-transformation/restore.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { KubernetesRestoreConfig } from './index.js';
import { mapNamespace, type RestoreResult, RestoreTally } from './tally.js';

/** Objects created at once. */
const CONCURRENCY = 16;
/** How long a restored CRD may take to be served. */
const CRD_ESTABLISHED_MS = 30_000;

const CRD_FOLDER = 'apiextensions.k8s.io-v1-customresourcedefinitions';
const NAMESPACE_FOLDER = 'core-v1-namespaces';

/** One folder of the backup with its entries. */
interface Group {
  folder: string;
  entries: ManifestEntry[];
  rank: number;
}

/** The backup's entries by folder, restricted to `namespaces`, in restore order. */
export function planRestore(entries: readonly ManifestEntry[], namespaces: ReadonlySet<string>): Group[] {
  const byFolder = new Map<string, ManifestEntry[]>();
  for (const e of entries) {
    const slash = e.path.indexOf('/');
    const folder = e.path.slice(0, slash);
    const { namespace, name } = objectOfKey(e.path);
    const keep = namespace
      ? namespaces.has(namespace)
      : folder === NAMESPACE_FOLDER
        ? namespaces.has(name)
        : true;
    if (!keep) continue;
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), e]);
  }
  const crds = new Set((byFolder.get(CRD_FOLDER) ?? []).map((e) => objectOfKey(e.path).name));
  return [...byFolder.entries()]
    .map(([folder, list]) => {
      const gvr = parseResourceFolder(folder);
      const rank = gvr
        ? restoreRank(gvr, Boolean(gvr.group) && crds.has(crdName(gvr)))
        : Number.MAX_SAFE_INTEGER;
      return { folder, entries: list, rank };
    })
    .sort((a, b) => a.rank - b.rank || (a.folder < b.folder ? -1 : 1));
}

/** Waits until the CRD `name` is Established, so its custom resources can be created. */
async function waitEstablished(
  api: KubernetesObjectApi,
  name: string,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + CRD_ESTABLISHED_MS;
  while (Date.now() < deadline && !signal.aborted) {
    const crd = (await api
      .read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name } })
      .catch(() => undefined)) as
      { status?: { conditions?: { type: string; status: string }[] } } | undefined;
    if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** Restores the backup the config names into its destination cluster. */
export async function restoreKubernetesObjects(
  run: PluginRun<KubernetesRestoreConfig>,
): Promise<PluginOutcome> {
  const { config, ref, signal, log } = run;
  const { reader, describe } = await openRestoreSource(run, config.source, {
    backup: 'kubernetes-objects-to-bucket',
    restore: 'bucket-to-kubernetes-objects',
  });
  const destName = config.destination.kubernetesCluster.name;
  const cluster = await run.assets.kubernetesCluster(ref.namespace, destName);
  if (!cluster.ok)
    throw ApplicationFailure.nonRetryable(
      `spec.config.destination.kubernetesCluster.name: ${cluster.message}`,
      FailureType.AssetNotReady,
    );
  const held = reader.manifest.source.namespaces ?? [];
  const wanted = config.namespaces ?? held;
  const problems = wanted.flatMap((ns, i) =>
    held.includes(ns)
      ? []
      : [
          `spec.config.namespaces[${i}]: ${describe} holds no namespace ${ns} (it holds ${held.join(', ') || 'none'})`,
        ],
  );
  for (const from of Object.keys(config.namespaceMapping ?? {}))
    if (!wanted.includes(from))
      problems.push(
        `spec.config.namespaceMapping.${from}: ${from} is not a namespace this restore takes (${wanted.join(', ')})`,
      );
  if (problems.length) throw ApplicationFailure.nonRetryable(problems.join('; '), 'InvalidSpec');

  const api = KubernetesObjectApi.makeApiClient(cluster.value);
  const update = config.existingResourcePolicy === 'update';
  const tally = new RestoreTally();
  const groups = planRestore(reader.manifest.entries, new Set(wanted));
  const total = groups.reduce((n, g) => n + g.entries.length, 0);
  const done = new Set<string>((run.checkpoint as { done?: string[] } | undefined)?.done ?? []);

  const restoreOne = async (folder: string, entry: ManifestEntry): Promise<RestoreResult> => {
    const { namespace, name } = objectOfKey(entry.path);
    const object = `${folder} ${namespace ? `${mapNamespace(namespace, config.namespaceMapping)}/` : ''}${name}`;
    let original: KubeObject;
    try {
      original = JSON.parse((await reader.read(entry)).toString('utf8')) as KubeObject;
    } catch (err) {
      const why =
        err instanceof BackupReadError ? err.message : `not a JSON object: ${(err as Error).message}`;
      return { object, result: 'failed', error: why };
    }
    const owner = (
      original.metadata?.ownerReferences as { kind: string; name: string; controller?: boolean }[] | undefined
    )?.find((o) => o.controller);
    if (owner)
      return {
        object,
        result: 'skipped',
        reason: `owned by ${owner.kind} ${owner.name}, whose controller makes it again`,
      };
    const desired = toRestore(original, config.namespaceMapping);
    try {
      await api.create(desired as KubernetesObject);
      if (folder === CRD_FOLDER && !(await waitEstablished(api, name, signal)))
        return {
          object,
          result: 'failed',
          error: `created, but not Established within ${CRD_ESTABLISHED_MS / 1000} s`,
        };
      return { object, result: 'created' };
    } catch (err) {
      if (statusOf(err) !== 409) return { object, result: 'failed', error: kubeErrorText(err) };
    }
    if (!update) return { object, result: 'skipped', reason: 'exists' };
    try {
      const existing = await api.read(desired as never);
      await api.replace({
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
      } as KubernetesObject);
      return { object, result: 'updated' };
    } catch (err) {
      const why = isNotFound(err) ? 'deleted while it was restored; run again' : kubeErrorText(err);
      return { object, result: 'failed', error: why };
    }
  };

  for (const group of groups) {
    if (signal.aborted) throw new CancelledFailure('the Synchronization was deleted');
    const todo = group.entries.filter((e) => !done.has(e.path));
    await pool(
      todo,
      CONCURRENCY,
      async (entry) => {
        const result = await restoreOne(group.folder, entry);
        tally.add(group.folder, result);
        if (result.result === 'failed')
          log.warn({ object: result.object, error: result.error }, 'object not restored');
        else if (result.result !== 'skipped')
          log.debug({ object: result.object, result: result.result }, 'object restored');
      },
      signal,
    );
    for (const e of group.entries) done.add(e.path);
    // Whole folders are the checkpoint: a retried attempt starts at the first unfinished one.
    run.heartbeat({ done: [...done] });
    run.progress({ ...tally.totals(), total });
    run.report(tally.report(describe, destName));
  }
  run.progress({ ...tally.totals(), total });
  run.report(tally.report(describe, destName));
  const t = tally.totals();
  const summary = `restored ${describe} into ${destName}: ${t.created} created, ${t.updated} updated, ${t.skipped} skipped, ${t.failed} failed`;
  if (t.failed > 0)
    throw ApplicationFailure.nonRetryable(
      `${summary}; first: ${tally.firstFailure()}`,
      FailureType.RestoreIncomplete,
    );
  return { message: summary, progress: { ...t, total } };
}

/** The object to create: cleaned, in its mapped namespace. */
export function toRestore(original: KubeObject, mapping: Record<string, string> | undefined): KubeObject {
  const obj = cleanForDestination(original);
  const meta = (obj.metadata ??= {});
  if (meta.namespace) meta.namespace = mapNamespace(meta.namespace, mapping);
  if (obj.kind === 'Namespace' && meta.name) {
    const to = mapNamespace(meta.name, mapping);
    if (to !== meta.name) {
      meta.name = to;
      if (meta.labels) delete meta.labels['kubernetes.io/metadata.name'];
    }
  }
  if (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') {
    for (const s of (obj as { subjects?: { namespace?: string }[] }).subjects ?? [])
      if (s.namespace) s.namespace = mapNamespace(s.namespace, mapping);
  }
  return obj;
}
