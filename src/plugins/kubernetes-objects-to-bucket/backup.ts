/**
 * The run of a `kubernetes-objects-to-bucket` Backup: every object of the chosen namespaces, each
 * type of the cluster's preferred versions (selection.ts says which), written whole (status and
 * metadata included; a restore cleans them) under the run's prefix, one file per object, with the
 * Namespace objects and the CRDs of the custom resources found. Each file's checksum goes into the
 * manifest; runBackup (backup-common.ts) makes the run Complete, Partial or resumed.
 */
import {
  CoreV1Api,
  KubernetesObjectApi,
  VersionApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import type { BackupWriter } from '../../bucket/backup-store.js';
import { objectPath, resourceFolder, type GVR } from '../../bucket/layout.js';
import { discoverTypes, type DiscoveredType } from '../../kube/discovery.js';
import { isNotFound, kubeErrorText, statusOf } from '../../kube/errors.js';
import { listAllPages } from '../../kube/list.js';
import { pool } from '../../pool.js';
import { runBackup } from '../backup-common.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { KubernetesBackupConfig } from './index.js';
import { CRDS, crdName, NAMESPACES, SYSTEM_NAMESPACES, typesToBackUp } from './selection.js';

/** Objects written to the bucket at once. */
const CONCURRENCY = 16;

const FIELD = 'spec.config.source.kubernetesCluster';

/** The namespaces to back up: the config's (each must exist), or all but the system ones. */
async function chooseNamespaces(kc: KubeConfig, wanted: string[] | undefined): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  if (!wanted?.length) {
    const all = await core.listNamespace();
    return all.items.map((n) => n.metadata!.name!).filter((n) => !SYSTEM_NAMESPACES.includes(n));
  }
  const missing: string[] = [];
  await Promise.all(
    wanted.map(async (name, i) => {
      try {
        await core.readNamespace({ name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        missing.push(`${FIELD}.namespaces[${i}]: namespace ${name} does not exist in the cluster`);
      }
    }),
  );
  if (missing.length)
    throw ApplicationFailure.nonRetryable(missing.sort().join('; '), FailureType.NamespaceNotFound);
  return [...new Set(wanted)];
}

/** The objects of one type in `namespaces`: one list over the cluster, or one per namespace when that is forbidden. */
async function listType(
  api: KubernetesObjectApi,
  type: DiscoveredType,
  namespaces: Set<string>,
): Promise<KubernetesObject[]> {
  try {
    const { items } = await listAllPages(api, type);
    return items.filter((o) => namespaces.has(o.metadata?.namespace ?? ''));
  } catch (err) {
    if (statusOf(err) !== 403) throw err;
  }
  const out: KubernetesObject[] = [];
  for (const ns of namespaces) {
    let cont: string | undefined;
    do {
      const page = await api.list(
        type.apiVersion,
        type.kind,
        ns,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        500,
        cont,
      );
      out.push(...page.items);
      cont = page.metadata?._continue;
    } while (cont);
  }
  return out;
}

/** Backs up the config's namespaces of its KubernetesCluster into its Bucket. */
export async function backUpKubernetesObjects(
  run: PluginRun<KubernetesBackupConfig>,
): Promise<PluginOutcome> {
  const { config, ref, signal } = run;
  const source = config.source.kubernetesCluster;
  const cluster = await run.assets.kubernetesCluster(ref.namespace, source.name);
  if (!cluster.ok)
    throw ApplicationFailure.nonRetryable(`${FIELD}.name: ${cluster.message}`, FailureType.AssetNotReady);
  const kc = cluster.value;
  let serverVersion: string;
  try {
    serverVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `${FIELD}.name: KubernetesCluster ${ref.namespace}/${source.name} is unreachable: ${kubeErrorText(err)}`,
      FailureType.AssetNotReady,
    );
  }
  const namespaces = await chooseNamespaces(kc, source.namespaces);
  const sourceLog = run.log.child({ sourceCluster: { name: source.name, namespace: ref.namespace } });
  sourceLog.info('reading server groups and resources');
  const { types, unavailable } = await discoverTypes(kc).catch((err: unknown) => {
    sourceLog.error({ err: kubeErrorText(err) }, 'error reading server groups and resources');
    throw err;
  });
  sourceLog.info({ types: types.length, unavailable }, 'server group and resources read from cluster');
  if (unavailable.length)
    run.log.warn({ unavailable }, 'API groups not served: their objects are not in the backup');
  const api = KubernetesObjectApi.makeApiClient(kc);
  const crdOf = new Set<string>();
  const counts = { objects: 0, bytes: 0, types: 0 };

  const body = async (writer: BackupWriter) => {
    const write = async (gvr: GVR, obj: KubernetesObject, apiVersion: string, kind: string) => {
      const text = JSON.stringify({ ...obj, apiVersion, kind });
      await writer.put(
        objectPath(gvr, { namespace: obj.metadata?.namespace, name: obj.metadata!.name! }),
        text,
        resourceFolder(gvr),
      );
      counts.objects++;
      counts.bytes += Buffer.byteLength(text);
      if (counts.objects % 250 === 0) run.progress({ ...counts });
    };
    const selected = new Set(namespaces);
    const crds = new Set(
      (
        await listAllPages(api, { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' })
      ).items.map((c) => c.metadata!.name!),
    );
    for (const type of typesToBackUp(types)) {
      if (signal.aborted) throw new CancelledFailure('the Backup was deleted');
      let items: KubernetesObject[];
      try {
        items = await listType(api, type, selected);
      } catch (err) {
        throw new Error(`listing ${resourceFolder(type)} in ${source.name}: ${kubeErrorText(err)}`, {
          cause: err,
        });
      }
      if (items.length === 0) continue;
      counts.types++;
      if (type.group && crds.has(crdName(type))) crdOf.add(crdName(type));
      await pool(items, CONCURRENCY, (obj) => write(type, obj, type.apiVersion, type.kind), signal);
      run.progress({ objects: counts.objects, bytes: counts.bytes, types: counts.types });
    }
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of namespaces) {
      const ns = await core.readNamespace({ name });
      await write(NAMESPACES, ns as KubernetesObject, 'v1', 'Namespace');
    }
    for (const name of crdOf) {
      const crd = await api.read({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name },
      });
      await write(CRDS, crd, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition');
    }
    run.progress({ objects: counts.objects, bytes: counts.bytes, types: counts.types });
  };

  return runBackup(run, {
    plugin: 'kubernetes-objects-to-bucket',
    destination: config.destination,
    source: { kind: 'KubernetesCluster', name: source.name, serverVersion, namespaces },
    body,
    describe: (m) =>
      `backed up ${m.totals.items} objects (${m.totals.bytes} bytes) of ${Object.keys(m.counts).length} types in ${namespaces.length} namespaces of ${source.name} (${serverVersion})`,
  });
}
