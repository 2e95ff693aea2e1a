/**
 * Kubernetes helpers of the benchmark: the object set (names, 1 KiB ConfigMaps), creating and
 * emptying namespaces, and a watch on the destination that records when each copy (and each
 * stamp) first becomes visible.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { reuseConnections } from '../../src/kube/connections.js';
import { pool, retry } from './util.js';

/** Loads a kubeconfig file. */
export function kubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  // The same keep-alive connections the orchestrator uses, so the raw-client baseline is the
  // practical limit rather than a client that pays a TLS handshake per request.
  return reuseConnections(kc);
}

/** The benchmark's object set: `objects` ConfigMaps spread round-robin over `namespaces`. */
export interface ObjectSet {
  namespaces: string[];
  /** Object k lives in namespaces[k % n] with name cm-<floor(k / n)>. */
  objects: { namespace: string; name: string }[];
}

/** Builds the object set over namespaces `<prefix>-<i>`. */
export function objectSet(prefix: string, namespaces: number, objects: number): ObjectSet {
  const width = String(namespaces - 1).length;
  const nsNames = Array.from({ length: namespaces }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`);
  const nameWidth = String(Math.ceil(objects / namespaces) - 1).length;
  return {
    namespaces: nsNames,
    objects: Array.from({ length: objects }, (_, k) => ({
      namespace: nsNames[k % namespaces],
      name: `cm-${String(Math.floor(k / namespaces)).padStart(nameWidth, '0')}`,
    })),
  };
}

/** A ConfigMap of about 1 KiB: a 1,024-character payload. */
export function configMapBody(name: string, payloadBytes: number): V1ConfigMap {
  return {
    metadata: { name },
    data: {
      payload: randomBytes(Math.ceil(payloadBytes / 2))
        .toString('hex')
        .slice(0, payloadBytes),
    },
  };
}

/** Creates namespaces (409 is fine), `concurrency` at a time. */
export async function createNamespaces(
  core: CoreV1Api,
  names: string[],
  concurrency: number,
  labels?: Record<string, string>,
  signal?: AbortSignal,
): Promise<void> {
  await pool(
    names,
    concurrency,
    async (name) => {
      await retry(() => core.createNamespace({ body: { metadata: { name, labels } } }), {
        ok: [409],
        signal,
      });
    },
    signal,
  );
}

/** Deletes every ConfigMap of `namespaces` and then the namespaces; best effort, bounded. */
export async function deleteNamespaces(
  core: CoreV1Api,
  namespaces: string[],
  concurrency = 8,
): Promise<string[]> {
  const problems: string[] = [];
  await pool(namespaces, concurrency, async (namespace) => {
    try {
      await retry(() => core.deleteCollectionNamespacedConfigMap({ namespace }), { ok: [404], attempts: 3 });
      await retry(() => core.deleteNamespace({ name: namespace }), { ok: [404, 409], attempts: 3 });
    } catch (err) {
      problems.push(`${namespace}: ${(err as Error).message}`);
    }
  }).catch(() => undefined);
  return problems;
}

/** Counts ConfigMaps matching `labelSelector` in all namespaces, page by page. */
export async function countConfigMaps(core: CoreV1Api, labelSelector: string): Promise<number> {
  let count = 0;
  let cont: string | undefined;
  do {
    const page = await core.listConfigMapForAllNamespaces({ labelSelector, limit: 500, _continue: cont });
    count += page.items.length;
    cont = page.metadata?._continue;
  } while (cont);
  return count;
}

/**
 * Watches ConfigMaps in all namespaces of one cluster with a label selector, from the moment of
 * {@link DestinationWatch.start}. Records when each `namespace/name` first appears, and hands
 * every event to `onEvent` with its arrival time. Resumes from the last resourceVersion when the
 * stream ends; lists again (synthetic ADDED events) only when that version is gone.
 */
export class DestinationWatch {
  readonly firstSeen = new Map<string, number>();
  restarts = 0;
  private rv = '';
  private abort?: AbortController;
  private stopped = false;
  onEvent?: (type: string, key: string, obj: V1ConfigMap, at: number) => void;

  constructor(
    private readonly kc: KubeConfig,
    private readonly labelSelector: string,
    private readonly maxRestarts = 50,
  ) {}

  /** Lists (to learn the current resourceVersion) and opens the watch; resolves once it is open. */
  async start(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const list = await core.listConfigMapForAllNamespaces({ labelSelector: this.labelSelector, limit: 1 });
    this.rv = list.metadata?.resourceVersion ?? '';
    await this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let ended = false;
    const reopen = () => {
      if (ended || this.stopped) return;
      ended = true;
      if (++this.restarts > this.maxRestarts) return;
      setTimeout(() => void this.open().catch(() => reopen()), 500);
    };
    this.abort = await new Watch(this.kc).watch(
      '/api/v1/configmaps',
      { labelSelector: this.labelSelector, resourceVersion: this.rv, allowWatchBookmarks: true },
      (type: string, obj: V1ConfigMap & { code?: number }) => {
        if (type === 'ERROR') {
          this.rv = ''; // 410 Gone: start again from the current state
          return;
        }
        this.rv = obj.metadata?.resourceVersion ?? this.rv;
        if (type === 'BOOKMARK') return;
        const at = Date.now();
        const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
        if (type !== 'DELETED' && !this.firstSeen.has(key)) this.firstSeen.set(key, at);
        this.onEvent?.(type, key, obj, at);
      },
      () => reopen(),
    );
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}
