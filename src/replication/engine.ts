/**
 * The replication engine of one LiveSynchronization resource entry (one group/version/resource
 * with its filters and transformation): list the source, watch it, and make the destination
 * match, object by object, through a keyed queue (per object, the latest source state wins and
 * two writes of one object never overlap). Every start lists both sides and converges (additive
 * and subtractive), so a crash, an expired watch or an outage heals without waiting for a resync.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KeyedQueue } from '../bridge/queue.js';
import { kubeErrorText } from '../clients/kube.js';
import type { Logger } from '../logger.js';
import type { ReplicatedResource } from '../plugins/kubernetes-objects-to-kubernetes.js';
import { objectKey, type GVR } from './layout.js';
import { formatLabelSelector } from './selectors.js';
import {
  isNewerVersion,
  isOwnedBy,
  OWNER_ANNOTATION,
  SOURCE_VERSION_ANNOTATION,
  toDestination,
  type KubeObject,
} from './transform.js';

/** Counters of one resource entry, as status reports them. */
export interface ResourceStats {
  group: string;
  version: string;
  resource: string;
  inSync: number;
  pending: number;
  failed: number;
  /** The last problem, named: an unserved type, a patch that does not apply, a missing namespace. */
  lastError?: string;
  lastEventTime?: string;
}

/** Options of {@link ResourceReplicator}. */
export interface ReplicatorOptions {
  owner: { namespace: string; name: string };
  entry: ReplicatedResource;
  source: KubeConfig;
  destination: KubeConfig;
  bucket?: { client: S3Client; name: string; liveSync: { namespace: string; name: string } };
  forceNamespaceCreation: boolean;
  concurrency: number;
  log: Logger;
  /** The KubernetesCluster objects, for the seed's `sourceCluster`/`destinationCluster` log fields. */
  clusters?: {
    source: { name: string; namespace: string };
    destination: { name: string; namespace: string };
  };
  /** Called with each write's lag (ms from the source event to the destination write). */
  onLag?: (ms: number) => void;
}

interface Discovered {
  kind: string;
  namespaced: boolean;
  apiVersion: string;
}

const FIELD_MANAGER = 'resiliency-orchestrator';

/** Every object of a type (all pages of 500), and the list's resourceVersion to watch from. */
async function listAllPages(
  api: KubernetesObjectApi,
  d: Discovered,
  labelSelector?: string,
): Promise<{ items: KubeObject[]; resourceVersion: string }> {
  const items: KubeObject[] = [];
  let resourceVersion = '';
  let cont: string | undefined;
  do {
    const page: KubernetesListObject<KubernetesObject> = await api.list(
      d.apiVersion,
      d.kind,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
      500,
      cont,
    );
    items.push(...(page.items as KubeObject[]));
    cont = page.metadata?._continue;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (cont);
  return { items, resourceVersion };
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** Replicates one resource entry until {@link ResourceReplicator.stop}. */
export class ResourceReplicator {
  readonly gvr: GVR;
  private readonly src: KubernetesObjectApi;
  private readonly dst: KubernetesObjectApi;
  private readonly queue: KeyedQueue;
  /** Source objects that pass the label and name filters, by `namespace/name`. */
  private readonly desired = new Map<string, KubeObject>();
  /** When the latest change of a key was seen, for the lag figure. */
  private readonly seenAt = new Map<string, number>();
  /** Source resourceVersion each destination copy was written from. */
  private readonly written = new Map<string, string>();
  private readonly failed = new Map<string, string>();
  /** Destination objects of this type that this LiveSynchronization does not own, and who does. */
  private readonly foreign = new Map<string, string>();
  /** Namespaces matching namespaceSelector (undefined: no namespace filter). */
  private namespaces?: Set<string>;
  private readonly knownDestinationNamespaces = new Set<string>();
  private readonly namespaceChecks = new Map<string, Promise<boolean>>();
  private discovered?: Discovered;
  private readonly aborts: AbortController[] = [];
  private stopped = false;
  private lastError?: string;
  private lastEventTime?: string;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  private readonly log: Logger;

  constructor(private readonly opts: ReplicatorOptions) {
    const { group = '', version, resource } = opts.entry;
    this.gvr = { group, version, resource };
    this.src = KubernetesObjectApi.makeApiClient(opts.source);
    this.dst = KubernetesObjectApi.makeApiClient(opts.destination);
    this.include = (opts.entry.filters?.nameSelector?.regex ?? []).map((r) => new RegExp(r));
    this.exclude = (opts.entry.filters?.nameSelector?.excludeRegex ?? []).map((r) => new RegExp(r));
    this.log = opts.log.child({
      resource: { apiGroup: group, apiVersion: version, resource },
      sourceCluster: opts.clusters?.source,
      destinationCluster: opts.clusters?.destination,
    });
    this.queue = new KeyedQueue({
      concurrency: opts.concurrency,
      reconcile: (key) => this.reconcile(key),
      onError: (key, err, attempt) => {
        this.failed.set(key, kubeErrorText(err));
        this.log.warn({ key, attempt, err: kubeErrorText(err) }, 'write failed; retrying with backoff');
      },
    });
  }

  /** Counters for status. */
  stats(): ResourceStats {
    return {
      ...this.gvr,
      inSync: [...this.written.keys()].filter((k) => this.inScope(k) && !this.failed.has(k)).length,
      pending: this.queue.depth,
      failed: this.failed.size,
      lastError: this.lastError ?? [...this.failed.values()].at(-1),
      lastEventTime: this.lastEventTime,
    };
  }

  /** Resolves when every queued write is done (the initial sync, or a burst). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Discovers the type, lists both sides and converges, then keeps watching. Resolves once the
   * first list is queued; throws a named error when the source does not serve the type.
   */
  async start(): Promise<void> {
    const [discovered] = await Promise.all([
      this.discover(),
      this.opts.entry.filters?.namespaceSelector ? this.watchNamespaces() : undefined,
    ]);
    this.discovered = discovered;
    await this.relist();
  }

  /** Stops watching and writing; running writes finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
    this.queue.stop();
    await this.queue.idle();
  }

  private async discover(): Promise<Discovered> {
    const { group, version, resource } = this.gvr;
    const apiVersion = group ? `${group}/${version}` : version;
    this.log.info('reading resources for group version');
    let list: { resources: { name: string; kind: string; namespaced: boolean }[] };
    try {
      list = group
        ? await this.opts.source.makeApiClient(CustomObjectsApi).getAPIResources({ group, version })
        : await this.opts.source.makeApiClient(CoreV1Api).getAPIResources();
    } catch (err) {
      this.lastError = `${apiVersion} is not served by the source cluster: ${kubeErrorText(err)}`;
      this.log.error({ err: kubeErrorText(err) }, 'error reading resources for group version');
      throw new Error(this.lastError, { cause: err });
    }
    const found = list.resources.find((r) => r.name === resource);
    if (!found) {
      this.lastError = `resource ${resource}.${apiVersion} is not served by the source cluster`;
      this.log.warn('resource group version not found');
      throw new Error(this.lastError);
    }
    this.log.info({ kind: found.kind }, 'group resource version found');
    return { kind: found.kind, namespaced: found.namespaced, apiVersion };
  }

  private passesNameFilter(name: string): boolean {
    if (this.include.length && !this.include.some((r) => r.test(name))) return false;
    return !this.exclude.some((r) => r.test(name));
  }

  private inScope(key: string): boolean {
    if (!this.desired.has(key)) return false;
    if (!this.namespaces) return true;
    return this.namespaces.has(key.slice(0, key.indexOf('/')));
  }

  private path(): string {
    const { group, version, resource } = this.gvr;
    return group ? `/apis/${group}/${version}/${resource}` : `/api/${version}/${resource}`;
  }

  /** Lists the source and every destination object of the type, and queues every key. */
  private async relist(): Promise<void> {
    if (this.stopped) return;
    const d = this.discovered!;
    const labelSelector = formatLabelSelector(this.opts.entry.filters?.selector);
    this.log.info('listing objects in cluster');
    const fresh = new Map<string, KubeObject>();
    // Both sides at once: the first write waits for both lists.
    const [sourceList, destinationList] = await Promise.all([
      listAllPages(this.src, d, labelSelector),
      listAllPages(this.dst, d),
    ]);
    for (const item of sourceList.items) {
      if (!this.passesNameFilter(item.metadata?.name ?? '')) continue;
      fresh.set(keyOf(item), { ...item, apiVersion: d.apiVersion, kind: d.kind });
    }
    const resourceVersion = sourceList.resourceVersion;
    const owned = new Set<string>();
    // Every destination object of the type: ours are tracked, the rest are never touched.
    for (const item of destinationList.items) {
      const key = keyOf(item);
      if (!isOwnedBy(item, this.opts.owner)) {
        const other = item.metadata?.annotations?.[OWNER_ANNOTATION];
        this.foreign.set(
          key,
          other ? `claimed by LiveSynchronization ${other}` : 'not created by this LiveSynchronization',
        );
        continue;
      }
      this.foreign.delete(key);
      owned.add(key);
      const from = item.metadata?.annotations?.[SOURCE_VERSION_ANNOTATION];
      if (from) this.written.set(key, from);
    }
    this.log.info({ source: fresh.size, destination: owned.size }, 'listed objects in cluster');
    const now = Date.now();
    this.desired.clear();
    for (const [k, v] of fresh) {
      this.desired.set(k, v);
      if (isNewerVersion(v.metadata?.resourceVersion, this.written.get(k))) this.seenAt.set(k, now);
    }
    for (const k of new Set([...fresh.keys(), ...owned])) this.queue.add(k);
    this.watch(resourceVersion, labelSelector);
  }

  /**
   * Watches the source from `resourceVersion`, as a reflector does: when the stream ends or the
   * server is unreachable, it resumes from the last version seen (bookmarks included); only when
   * the server says that version is gone (an ERROR event, 410 after compaction) does it list again.
   */
  private watch(resourceVersion: string, labelSelector: string | undefined, attempt = 0): void {
    if (this.stopped) return;
    const w = new Watch(this.opts.source);
    let restarted = false;
    const restart = (why: string, relist: boolean) => {
      if (restarted || this.stopped) return;
      restarted = true;
      const delay = relist ? 1000 : Math.min(5000, 200 * 2 ** attempt);
      if (relist) this.log.warn({ why }, 'watch expired (410 Gone); listing again');
      else this.log.debug({ why, attempt }, 'watch ended; resuming from the last version seen');
      setTimeout(() => {
        if (!relist) {
          this.watch(latest, labelSelector, attempt + 1);
          return;
        }
        this.relist().catch((err) => {
          this.lastError = kubeErrorText(err);
          this.log.error({ err: kubeErrorText(err) }, 'error listing objects in cluster');
          restarted = false;
          restart('list failed', true);
        });
      }, delay);
    };
    let latest = resourceVersion;
    void w
      .watch(
        this.path(),
        { resourceVersion, allowWatchBookmarks: true, labelSelector },
        (phase, obj: KubeObject & { code?: number }) => {
          if (phase === 'ERROR') {
            restart(`watch error ${obj.code ?? ''}`, true); // 410 Gone: our version was compacted away
            return;
          }
          attempt = 0;
          latest = obj.metadata?.resourceVersion ?? latest;
          if (phase === 'BOOKMARK') return;
          const name = obj.metadata?.name ?? '';
          const key = keyOf(obj);
          this.lastEventTime = new Date().toISOString();
          this.seenAt.set(key, Date.now());
          if (phase === 'DELETED' || !this.passesNameFilter(name)) this.desired.delete(key);
          else
            this.desired.set(key, {
              ...obj,
              apiVersion: this.discovered!.apiVersion,
              kind: this.discovered!.kind,
            });
          this.log.debug(
            {
              event: { type: phase.toLowerCase() },
              sourceObject: {
                name,
                namespace: obj.metadata?.namespace,
                resourceVersion: obj.metadata?.resourceVersion,
              },
            },
            'object read from cluster',
          );
          this.queue.add(key);
        },
        (err) =>
          restart(
            err ? kubeErrorText(err) : 'closed by the server',
            (err as { statusCode?: number } | null)?.statusCode === 410,
          ),
      )
      .then((abort) => {
        if (this.stopped) abort.abort();
        else this.aborts.push(abort);
      })
      .catch((err) => restart(kubeErrorText(err), false));
  }

  private async watchNamespaces(): Promise<void> {
    const selector = formatLabelSelector(this.opts.entry.filters?.namespaceSelector);
    const core = this.opts.source.makeApiClient(CoreV1Api);
    const list = await core.listNamespace({ labelSelector: selector });
    this.namespaces = new Set(list.items.map((n) => n.metadata!.name!));
    const requeueNamespace = (ns: string) => {
      for (const key of [...this.desired.keys(), ...this.written.keys()])
        if (key.startsWith(`${ns}/`)) this.queue.add(key);
    };
    const start = (rv: string) => {
      if (this.stopped) return;
      void new Watch(this.opts.source)
        .watch(
          '/api/v1/namespaces',
          { resourceVersion: rv, labelSelector: selector, allowWatchBookmarks: true },
          (phase, obj: KubeObject) => {
            const name = obj.metadata?.name;
            if (!name || phase === 'BOOKMARK' || phase === 'ERROR') return;
            rv = obj.metadata?.resourceVersion ?? rv;
            // With a label selector, a namespace whose labels stop matching arrives as DELETED.
            if (phase === 'DELETED') this.namespaces!.delete(name);
            else this.namespaces!.add(name);
            requeueNamespace(name);
          },
          () => setTimeout(() => start(''), 1000),
        )
        .then((abort) => (this.stopped ? abort.abort() : this.aborts.push(abort)));
    };
    start(list.metadata?.resourceVersion ?? '');
  }

  /** Whether namespace `ns` exists in the destination (creating it when forced); one check at a time per namespace. */
  private ensureNamespace(ns: string): Promise<boolean> {
    if (this.knownDestinationNamespaces.has(ns)) return Promise.resolve(true);
    let check = this.namespaceChecks.get(ns);
    if (!check) {
      check = this.checkNamespace(ns).finally(() => this.namespaceChecks.delete(ns));
      this.namespaceChecks.set(ns, check);
    }
    return check;
  }

  private async checkNamespace(ns: string): Promise<boolean> {
    const core = this.opts.destination.makeApiClient(CoreV1Api);
    try {
      await core.readNamespace({ name: ns });
      this.knownDestinationNamespaces.add(ns);
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    this.log.info({ namespace: ns }, 'namespace not found in cluster');
    if (!this.opts.forceNamespaceCreation) return false;
    this.log.info({ namespace: ns }, 'creating namespace from cluster');
    try {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      this.log.info({ namespace: ns }, 'namespace created in cluster');
    } catch (err) {
      if ((err as { code?: number }).code !== 409) {
        this.log.error({ namespace: ns, err: kubeErrorText(err) }, 'error creating namespace in cluster');
        throw err;
      }
      this.log.info({ namespace: ns }, 'namespace already exists in cluster');
    }
    this.knownDestinationNamespaces.add(ns);
    return true;
  }

  /** Makes the destination copy of `key` match the source (write, or delete when out of scope). */
  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    if (this.stopped) return;
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const d = this.discovered!;
    const ref = {
      apiVersion: d.apiVersion,
      kind: d.kind,
      metadata: { name, ...(d.namespaced ? { namespace: ns } : {}) },
    };
    const source = this.inScope(key) ? this.desired.get(key) : undefined;
    const bucketKey = this.opts.bucket
      ? objectKey(this.opts.bucket.liveSync, this.gvr, { namespace: d.namespaced ? ns : undefined, name })
      : undefined;
    if (!source) {
      if (!this.written.has(key)) return;
      this.log.info({ destinationObject: ref.metadata }, 'deleting object in cluster');
      try {
        await this.dst.delete(ref);
        this.log.info({ destinationObject: ref.metadata }, 'object deleted in cluster');
      } catch (err) {
        if ((err as { code?: number }).code !== 404) {
          this.log.error(
            { destinationObject: ref.metadata, err: kubeErrorText(err) },
            'error deleting object in cluster',
          );
          throw err;
        }
      }
      this.written.delete(key);
      this.failed.delete(key);
      if (bucketKey) {
        await this.opts.bucket!.client.send(
          new DeleteObjectCommand({ Bucket: this.opts.bucket!.name, Key: bucketKey }),
        );
        this.log.info({ bucketObject: { path: bucketKey } }, 'object deleted from bucket');
      }
      return;
    }
    const sourceVersion = source.metadata?.resourceVersion;
    if (!isNewerVersion(sourceVersion, this.written.get(key))) return; // stale or already written
    const foreign = this.foreign.get(key);
    if (foreign) {
      // An overlap (another LiveSynchronization) or an object of the destination's own: hands off.
      const message = `${key}: exists in the destination and is ${foreign}; not overwritten`;
      if (this.failed.get(key) !== message) this.log.warn({ destinationObject: ref.metadata }, message);
      this.failed.set(key, message);
      this.lastError = message;
      return;
    }
    if (d.namespaced && !(await this.ensureNamespace(ns))) {
      const message = `waiting for namespace ${ns} in the destination (forceNamespaceCreation is off)`;
      this.failed.set(key, message);
      return { requeueAfterMs: 5000 };
    }
    const out = toDestination(source, this.opts.owner, {
      ops: this.opts.entry.transformation?.patch,
      skipIfNotFoundOnDelete: this.opts.entry.transformation?.patchOptions?.skipIfNotFoundOnDelete,
    });
    if (!out.ok) {
      const message = `${key}: transformation.patch does not apply: ${out.error}`;
      this.failed.set(key, message);
      this.lastError = message;
      this.log.error(
        { sourceObject: { name, namespace: ns, resourceVersion: sourceVersion }, err: out.error },
        'error updating object in cluster',
      );
      return; // retried when the source object changes, or the spec does
    }
    if (bucketKey) {
      try {
        await this.opts.bucket!.client.send(
          new PutObjectCommand({
            Bucket: this.opts.bucket!.name,
            Key: bucketKey,
            Body: JSON.stringify(source),
            ContentType: 'application/json',
          }),
        );
        this.log.debug({ bucketObject: { path: bucketKey } }, 'object uploaded in bucket');
      } catch (err) {
        this.log.error(
          { bucketObject: { path: bucketKey }, err: kubeErrorText(err) },
          'error uploading object in bucket',
        );
        throw err;
      }
    }
    const creating = !this.written.has(key);
    const fields = {
      event: { type: creating ? 'create' : 'update' },
      sourceObject: {
        apiGroup: this.gvr.group,
        apiVersion: this.gvr.version,
        resource: this.gvr.resource,
        name,
        namespace: d.namespaced ? ns : undefined,
        resourceVersion: sourceVersion,
        uid: source.metadata?.uid,
      },
      destinationObject: ref.metadata,
    };
    this.log.debug(fields, creating ? 'creating object in cluster' : 'updating object in cluster');
    try {
      await this.dst.patch(
        out.object as never,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (err) {
      this.log.error(
        { ...fields, err: kubeErrorText(err) },
        creating ? 'error creating object in cluster' : 'error updating object in cluster',
      );
      throw err;
    }
    this.log.info(fields, creating ? 'object created in cluster' : 'object updated in cluster');
    this.written.set(key, sourceVersion ?? '');
    this.failed.delete(key);
    const seen = this.seenAt.get(key);
    if (seen !== undefined) {
      this.opts.onLag?.(Date.now() - seen);
      this.seenAt.delete(key);
    }
  }
}
