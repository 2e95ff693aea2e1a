/**
 * The baselines of the initial sync, each copying the same source ConfigMaps into its own fresh
 * set of destination namespaces:
 *
 * - raw client: a minimal copier on @kubernetes/client-node, list each source namespace, create
 *   the destination namespaces, then `createNamespacedConfigMap` at the replicator's concurrency,
 *   with the same keep-alive connections. With `markedFor` it writes the very objects the
 *   replicator writes (cleaned, owner label and annotations); without, bare copies. The
 *   practical limit of the destination API server on this machine.
 * - raw server-side apply (informational): the same, but writing with server-side apply as the
 *   replicator does, to show what the write verb alone costs.
 * - kubectl: what a user does by hand, one namespace after the other:
 *   `kubectl get configmaps -o json -n NS | <strip server fields, set namespace> | kubectl apply -f -`.
 */
import { spawn } from 'node:child_process';
import {
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import {
  toDestination,
  type KubeObject,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { createNamespaces } from './kube.js';
import { errText, pool } from './util.js';

/** Result of one baseline run. */
export interface BaselineResult {
  name: string;
  /** Wall-clock ms of the whole copy. */
  ms: number;
  objects: number;
  errors: number;
  firstError?: string;
  /** Where the time went, ms. */
  phases: Record<string, number>;
  concurrency?: number;
  /** CPU seconds of the benchmark process while it ran (its watch included), to set beside the orchestrator's. */
  clientCpuSeconds?: number;
}

async function listSource(
  source: CoreV1Api,
  namespaces: string[],
  concurrency: number,
  signal: AbortSignal,
): Promise<Map<string, V1ConfigMap[]>> {
  const byNs = new Map<string, V1ConfigMap[]>();
  await pool(
    namespaces,
    concurrency,
    async (namespace) => {
      const items: V1ConfigMap[] = [];
      let cont: string | undefined;
      do {
        const page = await source.listNamespacedConfigMap({ namespace, limit: 500, _continue: cont });
        items.push(...page.items);
        cont = page.metadata?._continue;
      } while (cont);
      byNs.set(namespace, items);
    },
    signal,
  );
  return byNs;
}

/**
 * Copies with the raw client: `mode` create (POST) or apply (server-side apply, force, like the
 * replicator). `rename` maps a source namespace to its destination namespace.
 */
export async function rawCopy(opts: {
  mode: 'create' | 'apply';
  source: KubeConfig;
  destination: KubeConfig;
  sourceNamespaces: string[];
  rename: (ns: string) => string;
  concurrency: number;
  signal: AbortSignal;
  /**
   * Write the very objects the replicator writes for this LiveSynchronization (cleaned and marked
   * by `toDestination`: owner label and annotations); without it, bare copies (name, labels, data).
   */
  markedFor?: { namespace: string; name: string };
}): Promise<BaselineResult> {
  const src = opts.source.makeApiClient(CoreV1Api);
  const dstCore = opts.destination.makeApiClient(CoreV1Api);
  const dstObjects = KubernetesObjectApi.makeApiClient(opts.destination);
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const byNs = await listSource(src, opts.sourceNamespaces, opts.concurrency, opts.signal);
  const t1 = Date.now();
  await createNamespaces(
    dstCore,
    opts.sourceNamespaces.map(opts.rename),
    opts.concurrency,
    undefined,
    opts.signal,
  );
  const t2 = Date.now();
  const shape = (ns: string, cm: V1ConfigMap) => {
    if (!opts.markedFor) {
      return {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: cm.metadata!.name!,
          namespace: opts.rename(ns),
          ...(cm.metadata?.labels ? { labels: cm.metadata.labels } : {}),
        },
        data: cm.data,
      };
    }
    const out = toDestination({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' } as KubeObject, opts.markedFor);
    if (!out.ok) throw new Error(out.error);
    const o = out.object as V1ConfigMap & { metadata: { name: string; namespace: string } };
    o.metadata.namespace = opts.rename(ns);
    return o;
  };
  const work = [...byNs].flatMap(([ns, items]) => items.map((cm) => shape(ns, cm)));
  let errors = 0;
  let firstError: string | undefined;
  await pool(
    work,
    opts.concurrency,
    async (body) => {
      try {
        if (opts.mode === 'create')
          await dstCore.createNamespacedConfigMap({ namespace: body.metadata.namespace, body });
        else
          await dstObjects.patch(
            body,
            undefined,
            undefined,
            'bench-raw-apply',
            true,
            PatchStrategy.ServerSideApply,
          );
      } catch (err) {
        errors++;
        firstError ??= errText(err);
      }
    },
    opts.signal,
  );
  const t3 = Date.now();
  const cpu = process.cpuUsage(cpu0);
  return {
    name: `raw client (${opts.mode === 'create' ? 'create' : 'server-side apply'}${opts.markedFor ? ', marked' : ', bare copies'})`,
    ms: t3 - t0,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    objects: work.length,
    errors,
    firstError,
    concurrency: opts.concurrency,
    phases: { listSource: t1 - t0, createNamespaces: t2 - t1, writeObjects: t3 - t2 },
  };
}

/** Runs a command, feeding `input`; resolves with stdout, rejects on a non-zero exit or timeout. */
function run(cmd: string, args: string[], input: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else
        reject(
          new Error(
            `${cmd} ${args.slice(2).join(' ')} exited ${code ?? signal}: ${Buffer.concat(err).toString('utf8').trim().split('\n')[0]}`,
          ),
        );
    });
    if (input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

const SERVER_FIELDS = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'managedFields',
  'generation',
  'selfLink',
];

/**
 * What a user's `jq` step does: drop server-assigned metadata and point every item at the new
 * namespace; the namespace itself goes first in the list so `kubectl apply` creates it.
 */
export function forApply(listJson: string, namespace: string): { text: string; objects: number } {
  const list = JSON.parse(listJson) as { items: { metadata: Record<string, unknown> }[] };
  const items = list.items.map((item) => {
    const metadata: Record<string, unknown> = { ...item.metadata, namespace };
    for (const f of SERVER_FIELDS) delete metadata[f];
    const annotations = metadata.annotations as Record<string, string> | undefined;
    if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
    return { ...item, metadata };
  });
  return {
    text: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, ...items],
    }),
    objects: items.length,
  };
}

/** The by-hand copy with kubectl, one namespace after the other, as a shell loop would. */
export async function kubectlCopy(opts: {
  kubectl: string;
  sourceKubeconfig: string;
  destinationKubeconfig: string;
  sourceNamespaces: string[];
  rename: (ns: string) => string;
  signal: AbortSignal;
}): Promise<BaselineResult> {
  let get = 0;
  let transform = 0;
  let apply = 0;
  let objects = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = Date.now();
  for (const ns of opts.sourceNamespaces) {
    opts.signal.throwIfAborted();
    try {
      const a = Date.now();
      const json = await run(
        opts.kubectl,
        ['--kubeconfig', opts.sourceKubeconfig, 'get', 'configmaps', '-n', ns, '-o', 'json'],
        undefined,
        120_000,
      );
      const b = Date.now();
      const out = forApply(json, opts.rename(ns));
      const c = Date.now();
      await run(
        opts.kubectl,
        ['--kubeconfig', opts.destinationKubeconfig, 'apply', '-f', '-'],
        out.text,
        300_000,
      );
      const d = Date.now();
      get += b - a;
      transform += c - b;
      apply += d - c;
      objects += out.objects;
    } catch (err) {
      errors++;
      firstError ??= errText(err);
    }
  }
  return {
    name: 'kubectl get -o json | kubectl apply -f -',
    ms: Date.now() - t0,
    objects,
    errors,
    firstError,
    phases: { kubectlGet: get, transform, kubectlApply: apply },
  };
}
