/**
 * A reflector, as client-go has it: lists one resource type (with an optional label selector),
 * keeps every object in a map, and watches from the list's resourceVersion. When the stream ends
 * or the server is unreachable it resumes from the last version seen (bookmarks included); only
 * when the server says that version is gone (an ERROR event, 410 after compaction) does it list
 * again, and then it reports every key that appeared, changed or disappeared meanwhile.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelay } from '../api/backoff.js';
import { listPages } from './raw-list.js';
import { kubeErrorText, statusOf } from './errors.js';
import type { Logger } from '../logger.js';
import type { KubeObject } from '../plugins/kubernetes-objects-to-kubernetes/transform.js';

/** What a reflector lists and watches. */
export interface ReflectedType {
  /** `v1` or `group/version`. */
  apiVersion: string;
  kind: string;
  /** The collection's URL path, e.g. `/apis/apps/v1/deployments` (all namespaces). */
  path: string;
}

/** Options of {@link Reflector}. */
export interface ReflectorOptions {
  kubeconfig: KubeConfig;
  type: ReflectedType;
  labelSelector?: string;
  log: Logger;
  /**
   * Called with the key of every object that was added, changed or deleted after the first list,
   * with the object as the event gives it and the state it had before (when known).
   */
  onChange: (
    key: string,
    event: 'added' | 'modified' | 'deleted' | 'relisted',
    object?: KubeObject,
    previous?: KubeObject,
  ) => void;
  /** Called when a list after 410 Gone fails (the reflector keeps retrying). */
  onError?: (err: unknown) => void;
  /** Called with a relist's resourceVersion and the keys it reports, before it reports them. */
  onListed?: (resourceVersion: string, keys: string[]) => void;
  /** Called with each bookmark's resourceVersion. */
  onBookmark?: (resourceVersion: string) => void;
  /**
   * When set, a watch that expires (410 Gone) stops the reflector and calls this instead of
   * listing again: the owner of a resumed (partial) view decides how to list.
   */
  onExpired?: (why: string) => void;
}

/** `namespace/name` (`/name` for a cluster-scoped object). */
export function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/**
 * `o` with apiVersion and kind first (a list's items have none, a watch event's have them first),
 * so one version of an object is the same bytes however it came.
 */
export function typedObject(o: KubeObject, type: { apiVersion: string; kind: string }): KubeObject {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { apiVersion, kind, ...rest } = o;
  return { apiVersion: type.apiVersion, kind: type.kind, ...rest };
}

/** Delays before a watch that ended resumes: 200 ms doubling to 5 s. */
const RESUME = { initialMs: 200, maxMs: 5000 };

/** Lists and watches one type; {@link Reflector.objects} is the source's current state. */
export class Reflector {
  /** Every object seen, by `namespace/name`, with apiVersion and kind set. */
  readonly objects = new Map<string, KubeObject>();
  /** The running watch's abort, if any. */
  private current?: AbortController;
  private resourceVersion = '';
  private stopped = false;

  constructor(private readonly opts: ReflectorOptions) {}

  /**
   * Lists once, page by page (filling {@link Reflector.objects} as pages come, each page's keys
   * passed to `onPage` once they are in), as the server wrote the objects (plain JSON); call
   * {@link Reflector.watch} after.
   */
  async list(onPage?: (keys: string[], resourceVersion: string) => void | Promise<void>): Promise<void> {
    // The first list fills the map as pages come; a list again (after 410 Gone) builds a new one
    // and swaps it in at once, so no reader ever sees an object missing that is still there.
    const into = this.objects.size === 0 ? this.objects : new Map<string, KubeObject>();
    const { resourceVersion } = await listPages<KubeObject>(
      this.opts.kubeconfig,
      { path: this.opts.type.path, labelSelector: this.opts.labelSelector },
      async (page) => {
        const keys: string[] = [];
        for (const item of page.items) {
          const key = keyOf(item);
          into.set(key, this.typed(item));
          keys.push(key);
        }
        await onPage?.(keys, page.resourceVersion);
      },
    );
    if (into !== this.objects) {
      this.objects.clear();
      for (const [key, object] of into) this.objects.set(key, object);
    }
    this.resourceVersion = resourceVersion;
  }

  /** Starts watching from the last list (or version seen). */
  watch(): void {
    this.startWatch(this.resourceVersion, 0);
  }

  /**
   * Starts watching from `resourceVersion` without a list (a checkpoint's): {@link Reflector.objects}
   * then holds only what changed since, and the API server replays those changes from its watch cache.
   */
  watchFrom(resourceVersion: string): void {
    this.resourceVersion = resourceVersion;
    this.watch();
  }

  /** The resourceVersion of the last list, event or bookmark. */
  get version(): string {
    return this.resourceVersion;
  }

  /** Stops watching. */
  stop(): void {
    this.stopped = true;
    this.current?.abort();
  }

  /**
   * The object with apiVersion and kind first (a list's items have none, a watch event's have
   * them first), so one version of an object is the same bytes however it came.
   */
  private typed(o: KubeObject): KubeObject {
    return typedObject(o, this.opts.type);
  }

  /** Lists again after 410 Gone and reports every key that is new, gone or possibly changed. */
  private async relist(): Promise<void> {
    const before = new Set(this.objects.keys());
    await this.list();
    const keys = [...new Set([...before, ...this.objects.keys()])];
    this.opts.onListed?.(this.resourceVersion, keys);
    for (const key of keys) this.opts.onChange(key, 'relisted');
  }

  private startWatch(resourceVersion: string, attempt: number): void {
    if (this.stopped) return;
    let restarted = false;
    let latest = resourceVersion;
    const restart = (why: string, relist: boolean) => {
      if (restarted || this.stopped) return;
      restarted = true;
      const delay = relist ? 1000 : backoffDelay(RESUME, attempt + 1);
      if (relist && this.opts.onExpired) {
        this.stop();
        this.opts.onExpired(why);
        return;
      }
      if (relist) this.opts.log.warn({ why }, 'watch expired (410 Gone); listing again');
      else this.opts.log.debug({ why, attempt }, 'watch ended; resuming from the last version seen');
      setTimeout(() => {
        if (!relist) {
          this.startWatch(latest, attempt + 1);
          return;
        }
        this.relist().then(
          () => this.startWatch(this.resourceVersion, 0),
          (err) => {
            this.opts.onError?.(err);
            this.opts.log.error({ err: kubeErrorText(err) }, 'error listing objects in cluster');
            restarted = false;
            restart('list failed', true);
          },
        );
      }, delay);
    };
    void new Watch(this.opts.kubeconfig)
      .watch(
        this.opts.type.path,
        { resourceVersion, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector },
        (phase, obj: KubeObject & { code?: number }) => {
          if (phase === 'ERROR') {
            restart(`watch error ${obj.code ?? ''}`, true); // 410 Gone: our version was compacted away
            return;
          }
          attempt = 0;
          latest = obj.metadata?.resourceVersion ?? latest;
          this.resourceVersion = latest;
          if (phase === 'BOOKMARK') {
            this.opts.onBookmark?.(latest);
            return;
          }
          const key = keyOf(obj);
          const previous = this.objects.get(key);
          // With a label selector, an object whose labels stop matching arrives as DELETED.
          if (phase === 'DELETED') this.objects.delete(key);
          else this.objects.set(key, this.typed(obj));
          const event = phase === 'DELETED' ? 'deleted' : phase === 'ADDED' ? 'added' : 'modified';
          this.opts.onChange(key, event, obj, previous);
        },
        (err) => restart(err ? kubeErrorText(err) : 'closed by the server', statusOf(err) === 410),
      )
      .then((abort) => {
        if (this.stopped) abort.abort();
        else this.current = abort;
      })
      .catch((err) => restart(kubeErrorText(err), false));
  }
}
