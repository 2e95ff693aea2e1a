/**
 * The replication engine of one resource type of a LiveSynchronization: every entry of
 * `replication.resources` that names this group/version/resource is served here, because their
 * copies share one destination collection and one bucket folder. The scope is the union of the
 * entries: an object belongs to the first entry that selects it (its transformation applies), and
 * only an object that no entry selects is pruned, so entries never delete each other's copies.
 *
 * It lists the source through one reflector per distinct label selector and one per distinct
 * namespace selector, lists the destination once, and makes the destination match, object by
 * object, through a keyed queue (per object, the latest source state wins and two writes of one
 * object never overlap). Every start converges (additive and subtractive), so a crash, an expired
 * watch or an outage heals without waiting for a resync.
 */
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KeyedQueue } from '../../kube/queue.js';
import { pool } from '../../pool.js';
import { resolveType, TYPE_NOT_SERVED, type ServedType } from '../../kube/discovery.js';
import { resolveTypeLogged } from '../../kube/logged.js';
import { isConflict, isNotFound, kubeErrorText, statusOf } from '../../kube/errors.js';
import { backoffDelay, type Backoff } from '../../api/backoff.js';
import type { EntryProblem } from './conditions.js';
import type { Logger } from '../../logger.js';
import type { LastUpdate } from '../../webhook/audit.js';
import {
  passesNameFilter,
  selectEntry,
  typeName,
  type EntryRule,
  type SourceState,
  type TypeEntries,
} from './entries.js';
import {
  liveSyncPrefix,
  objectKey,
  parseObjectKey,
  quarantineKey,
  quarantinePrefix,
  resourceFolder,
  runName,
  type GVR,
} from '../../bucket/layout.js';
import { keepInQuarantine } from '../../bucket/quarantine.js';
import { listWithEtags } from '../../bucket/backup-store.js';
import { regionMismatch, type BucketClientSettings } from '../../assets/bucket-endpoint.js';
import type { ComponentSettings, EngineComponent } from './components.js';
import { keyOf, Reflector, typedObject, type ReflectedType } from '../../kube/reflector.js';
import { listAll } from '../../kube/raw-list.js';
import { changeTime, sourceStamp } from './rpo.js';
import { FIELD_MANAGER, serverSideApply } from '../../kube/objects.js';
import {
  compareCopy,
  DRIFT_KINDS,
  driftMessage,
  etagMatches,
  isClean,
  noDrift,
  originalBody,
  type CopyDifference,
  type DriftCounts,
  type DriftedObject,
  type DriftKind,
} from './drift.js';
import { namespacesHash, WriteMarks, type TypeCheckpoint } from './checkpoint.js';
import {
  isNewerVersion,
  isOwnedBy,
  OWNER_ANNOTATION,
  SOURCE_VERSION_ANNOTATION,
  toDestination,
  TRANSFORMATION_ANNOTATION,
  type KubeObject,
} from './transform.js';

/** Counters of one resource entry, as status reports them. */
export interface ResourceStats {
  group: string;
  version: string;
  resource: string;
  /** Objects this entry selects whose copy was written from the source's current version. */
  inSync: number;
  /** Objects this entry selects that wait for a write (or, on the first entry, copies that wait to be pruned). */
  pending: number;
  failed: number;
  /** The last problem, named: an unserved type, a patch that does not apply, a missing namespace. */
  lastError?: string;
  lastEventTime?: string;
  /** What the last comparison of source, destination and bucket found for this entry (see drift.ts). */
  drift?: EntryDrift;
}

/** The drift of one entry at its type's last comparison, and the hand edits reverted since. */
export interface EntryDrift extends DriftCounts {
  /** When the comparison was made (the start of a run, or one asked for). */
  comparedAt: string;
  /** Stale copies rewritten from the source since that comparison. */
  reverted: number;
}

/** What one comparison of a type found: counts per entry (in this type's rule order) and named objects. */
export interface Comparison {
  gvr: GVR;
  comparedAt: string;
  clean: boolean;
  /** The drift over every entry of the type. */
  total: DriftCounts;
  /** The first drifted objects (bounded), for logs and Events. */
  examples: DriftedObject[];
  /** One line naming the counts and the first objects. */
  message: string;
}

/** Why a replication step failed: the `reason` of {@link ReplicationEvent} `error` (a bounded set). */
export type ReplicationErrorReason =
  /** The type could not be discovered or listed (start, retried with backoff). */
  | 'list'
  /** A destination write (server-side apply) failed. */
  | 'write'
  /** A destination delete (prune) failed. */
  | 'delete'
  /** Checking or creating the destination namespace failed. */
  | 'namespace'
  /** The destination namespace is missing and forceNamespaceCreation is off. */
  | 'namespace_missing'
  /** The entry's transformation.patch does not apply to the object. */
  | 'transformation'
  /** The destination object exists and is not this LiveSynchronization's. */
  | 'not_owned'
  /** The bucket upload (or bucket delete) failed. */
  | 'bucket';

/**
 * What the engine did, for the metrics: `namespace` is the object's ('' when cluster-scoped, or
 * for a whole-type problem). Lasting errors are reported when they start, transient ones at each
 * failed attempt. `drift` is what a (re)sync's lists found: a copy `missing`, one written from
 * another source version or transformation (`outdated`), one that no entry selects (`orphaned`).
 */
export type ReplicationEvent =
  | { type: 'write'; namespace: string; operation: 'create' | 'update' | 'delete' }
  | { type: 'error'; namespace: string; reason: ReplicationErrorReason }
  | { type: 'upload'; namespace: string; ok: boolean }
  | { type: 'lag'; namespace: string; ms: number }
  | { type: 'drift'; namespace: string; action: DriftAction };

/** The `action` of a drift event (a metric label): what a comparison found about one object. */
export type DriftAction =
  'missing' | 'outdated' | 'orphaned' | 'stale' | 'bucket_missing' | 'bucket_stale' | 'bucket_extra';

/** The metric label of each kind of drift. */
const DRIFT_ACTION: Record<DriftKind, DriftAction> = {
  missing: 'missing',
  extra: 'orphaned',
  outdated: 'outdated',
  stale: 'stale',
  bucketMissing: 'bucket_missing',
  bucketStale: 'bucket_stale',
  bucketExtra: 'bucket_extra',
};

/** Drifted objects named in log lines (each) and in a comparison's Event, per type and comparison. */
const NAMED_DRIFT = 20;

/** What was kept in quarantine before a prune (status `replication.quarantine`). */
export interface QuarantineRecord {
  /** When the last object was quarantined (RFC 3339). */
  lastTime?: string;
  /** Its folder: `_quarantine/<ls-namespace>/<ls-name>/<time>/`. */
  lastPrefix?: string;
  /** Objects quarantined. */
  objects: number;
}

/** Objects of one namespace ('' for cluster-scoped ones) by state, over every entry of a type. */
export interface NamespaceCounts {
  namespace: string;
  inSync: number;
  pending: number;
  failed: number;
}

/** Options of {@link TypeReplicator}. */
export interface ReplicatorOptions {
  owner: { namespace: string; name: string };
  /** The entries of this type, compiled (see `groupByType`). */
  type: TypeEntries;
  source: KubeConfig;
  destination: KubeConfig;
  bucket?: {
    client: S3Client;
    name: string;
    liveSync: { namespace: string; name: string };
    /** The Bucket object, for the seed's `bucket` log field. */
    asset?: { namespace: string; name: string };
    /** Its endpoint and region: a refused region is reported naming the Bucket's field. */
    settings?: BucketClientSettings;
  };
  forceNamespaceCreation: boolean;
  /** Writes in flight (`components.synchronizer.concurrentTasks`). */
  concurrency: number;
  log: Logger;
  /** A level per engine part (`components.*.logLevel`, see components.ts); absent: `log`'s level. */
  logLevels?: ComponentSettings['levels'];
  /** The LiveSynchronization's audit annotations, the seed's `lastUpdate` log field. */
  lastUpdate?: LastUpdate;
  /** The KubernetesCluster objects, for the seed's `sourceCluster`/`destinationCluster` log fields. */
  clusters?: {
    source: { name: string; namespace: string };
    destination: { name: string; namespace: string };
  };
  /** Called with each write's lag (ms from the source change to the destination write, see rpo.ts). */
  onLag?: (ms: number) => void;
  /**
   * A time (ms since the epoch) by which the replication had converged (the last resync): a
   * source stamp older than it is not a change still to replicate (see `changeTime`).
   */
  changesSince?: number;
  /** Called with what the engine does (writes, errors, uploads, lag, drift), for the metrics. */
  onEvent?: (event: ReplicationEvent) => void;
  /** Called after each comparison of source, destination and bucket (each start, and on request). */
  onComparison?: (comparison: Comparison) => void;
  /** How a failed start (type not served, list refused) is tried again. Default 5 s, doubling to 60 s. */
  startRetry?: Backoff;
}

type Discovered = ServedType;

/** What a destination copy was written from. */
interface Written {
  version: string;
  transformation: string;
}

/** What a write, upload or delete logs about its object (seed 5.1.4.2). */
interface ObjectChange {
  event: { type: string };
  sourceObject: Record<string, string | undefined>;
  oldSourceObject?: Record<string, string | undefined>;
}

/** Why an object is not replicated; `lasting` problems wait for a change (Degraded), the rest are retried. */
interface Failure {
  message: string;
  lasting: boolean;
}

/** One comparison while it is made: the destination's copies and the bucket's originals as listed. */
interface ComparisonRun {
  comparedAt: string;
  /** Our copies in the destination, by key. */
  owned: Map<string, KubeObject>;
  /** The bucket's originals of this type, by key, with their ETag; undefined without a bucket. */
  originals?: Map<string, string | undefined>;
  /** What was found, by key. */
  drifted: Map<string, DriftedObject[]>;
}

/** The last comparison of a type, as status reports it. */
interface LastComparison {
  comparedAt: string;
  /** Drift per rule position. */
  counts: DriftCounts[];
  /** Stale copies rewritten since, per rule position. */
  reverted: number[];
}

/** The namespace part of a key (`namespace/name`; '' for a cluster-scoped object). */
function namespaceOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

/** How long after a resume the destination is listed to count the copies (after the replay's burst). */
const COUNT_AFTER_RESUME_MS = 10_000;

const NAMESPACES: ReflectedType = { apiVersion: 'v1', kind: 'Namespace', path: '/api/v1/namespaces' };

/** The seed's `event.type` of a watch event (a relist has none). */
const EVENT_TYPES: Record<string, string> = { added: 'create', modified: 'update', deleted: 'delete' };

/** Replicates every entry of one resource type until {@link TypeReplicator.stop}. */
export class TypeReplicator {
  readonly gvr: GVR;
  /** The entries this type serves, in spec order. */
  readonly rules: EntryRule[];
  private readonly dst: KubernetesObjectApi;
  private readonly queue: KeyedQueue;
  /** Source objects through each distinct label selector ('' for none). */
  private objectViews = new Map<string, Reflector>();
  /** Source namespaces through each distinct namespace selector. */
  private readonly namespaceViews = new Map<string, Reflector>();
  /** How far each source reflector's changes are written: the checkpoint (see checkpoint.ts). */
  private readonly marks = new WriteMarks();
  /** Keys requeued by a namespace change and not yet written; the namespace hashes wait for them. */
  private readonly namespaceWork = new Set<string>();
  /** The namespace hashes as of the last time no namespace change waited to be written. */
  private settledNamespaces?: Record<string, string>;
  /** Set while this type runs from a checkpoint: its source views hold only what changed since. */
  private resumed = false;
  /** Resumed: keys whose source (through every view) and destination state is known. */
  private readonly resolved = new Set<string>();
  /** Resumed: keys each view (by label selector) received an event of since the resume. */
  private readonly seenSince = new Map<string, Set<string>>();
  /**
   * When the oldest change of a key not yet written happened at the source (ms since the epoch,
   * see `changeTime`): the lag figure, and the age of the oldest pending change.
   */
  private readonly seenAt = new Map<string, number>();
  /** What each destination copy of ours was written from. */
  private readonly written = new Map<string, Written>();
  private readonly failed = new Map<string, Failure>();
  /** Destination objects of this type that this LiveSynchronization does not own, and who does. */
  private readonly foreign = new Map<string, string>();
  private readonly knownDestinationNamespaces = new Set<string>();
  private readonly namespaceChecks = new Map<string, Promise<boolean>>();
  private readonly state: SourceState<KubeObject>;
  private discovered?: Discovered;
  private stopped = false;
  /** While the first lists page, a key that no view selects yet may still come: nothing is pruned. */
  private listing = false;
  /** Copies the last comparison found edited by hand: rewritten although their version is current. */
  private readonly staleCopies = new Map<string, CopyDifference>();
  /** Keys whose bucket original is missing or stale: uploaded again even when the copy is current. */
  private readonly bucketRepairs = new Set<string>();
  /** Keys with an original in the bucket and neither a selected source object nor a copy. */
  private readonly bucketExtras = new Set<string>();
  private lastComparison?: LastComparison;
  /** A comparison asked for while another runs waits for it. */
  private comparing?: Promise<Comparison | undefined>;
  private startError?: string;
  private retryTimer?: NodeJS.Timeout;
  private lastEventTime?: string;
  /** What this type kept in quarantine before its prunes. */
  readonly quarantine: QuarantineRecord = { objects: 0 };
  private noQuarantineLogged = false;
  /** Lines about the type as a whole, with neither cluster (the seed's `resource`, `lastUpdate`). */
  private readonly log: Logger;
  /** Lines of operations on the source cluster (`sourceCluster`). */
  private readonly sourceLog: Logger;
  /** Lines of operations on the destination cluster (`destinationCluster`). */
  private readonly destinationLog: Logger;
  /** Lines of operations on the bucket: `bucket`, never a cluster (seed 5.1.4.2). */
  private readonly bucketLog: Logger;
  /** The prune lines (the seed's reconciler): destination deletes, and their bucket deletes. */
  private readonly pruneLog: Logger;
  private readonly pruneBucketLog: Logger;

  constructor(private readonly opts: ReplicatorOptions) {
    this.gvr = opts.type.gvr;
    this.rules = opts.type.rules;
    this.dst = KubernetesObjectApi.makeApiClient(opts.destination);
    const { group, version, resource } = this.gvr;
    // Each part logs at its component's level (components.ts), each from `opts.log` so that one
    // part's level never leaks into another's.
    const part = (component: EngineComponent, bindings: Record<string, unknown>): Logger => {
      const level = opts.logLevels?.[component];
      const base = {
        resource: { apiGroup: group, apiVersion: version, resource },
        lastUpdate: opts.lastUpdate,
      };
      return level
        ? opts.log.child({ ...base, ...bindings }, { level })
        : opts.log.child({ ...base, ...bindings });
    };
    const bucket = { bucket: opts.bucket && { ...opts.bucket.asset, bucketName: opts.bucket.name } };
    this.log = part('processor', {});
    this.sourceLog = part('eventsListener', { sourceCluster: opts.clusters?.source });
    this.destinationLog = part('synchronizer', { destinationCluster: opts.clusters?.destination });
    this.bucketLog = part('synchronizer', bucket);
    this.pruneLog = part('reconciler', { destinationCluster: opts.clusters?.destination });
    this.pruneBucketLog = part('reconciler', bucket);
    this.addNamespaceViews();
    this.state = {
      object: (labelSelector, key) => this.objectViews.get(labelSelector ?? '')?.objects.get(key),
      namespaceMatches: (selector, namespace) =>
        this.namespaceViews.get(selector)?.objects.has(`/${namespace}`) ?? false,
    };
    this.queue = new KeyedQueue({
      concurrency: opts.concurrency,
      reconcile: (key) => this.reconcileMarked(key),
      onError: (key, err, attempt) => {
        this.failed.set(key, { message: kubeErrorText(err), lasting: false });
        this.destinationLog.warn(
          { key, attempt, err: kubeErrorText(err) },
          'write failed; retrying with backoff',
        );
      },
    });
  }

  /** One reflector of namespaces per distinct namespace selector (again after a fall-back). */
  private addNamespaceViews(): void {
    for (const rule of this.rules) {
      const selector = rule.namespaceSelector;
      if (selector === undefined || this.namespaceViews.has(selector)) continue;
      this.namespaceViews.set(
        selector,
        new Reflector({
          kubeconfig: this.opts.source,
          type: NAMESPACES,
          labelSelector: selector,
          log: this.sourceLog,
          onChange: (key) => this.requeueNamespace(key.slice(1)),
        }),
      );
    }
  }

  /**
   * Every known key (source objects, copies, failures) with its entry's position among this type's
   * rules and its state; a key no entry selects and that has no copy has no state.
   */
  private *classify(): Generator<{
    key: string;
    position: number;
    state?: 'inSync' | 'pending' | 'failed';
    failure?: Failure;
  }> {
    const position = new Map(this.rules.map((r, i) => [r.index, i]));
    const keys = new Set<string>([...this.written.keys(), ...this.failed.keys()]);
    for (const view of this.objectViews.values()) for (const k of view.objects.keys()) keys.add(k);
    for (const key of keys) {
      if (this.resumed && this.untouchedCopy(key)) {
        yield { key, position: 0, state: 'inSync' }; // written before the checkpoint, unchanged since
        continue;
      }
      const selected = selectEntry(this.rules, key, this.state);
      const at = selected ? position.get(selected.rule.index)! : 0;
      const failure = this.failed.get(key);
      if (failure) yield { key, position: at, state: 'failed', failure };
      else if (!selected) {
        if (this.written.has(key)) yield { key, position: at, state: 'pending' }; // a copy to prune
      } else if (this.isCurrent(key, selected.rule, selected.object))
        yield { key, position: at, state: 'inSync' };
      else yield { key, position: at, state: 'pending' };
    }
  }

  /** Counters for status, one per entry of this type, in spec order. */
  stats(): ResourceStats[] {
    const counts = this.rules.map((): ResourceStats => ({
      ...this.gvr,
      inSync: 0,
      pending: 0,
      failed: 0,
      lastEventTime: this.lastEventTime,
    }));
    for (const { position, state, failure } of this.classify()) {
      const c = counts[position];
      if (state) c[state]++;
      if (failure) c.lastError = failure.message;
    }
    if (this.startError) for (const c of counts) c.lastError = this.startError;
    const last = this.lastComparison;
    if (last)
      counts.forEach((c, i) => {
        c.drift = { ...last.counts[i], comparedAt: last.comparedAt, reverted: last.reverted[i] };
      });
    return counts;
  }

  /** The time of this type's last comparison and whether it was clean; undefined before the first. */
  comparisonState(): { comparedAt: string; clean: boolean } | undefined {
    const last = this.lastComparison;
    return last && { comparedAt: last.comparedAt, clean: last.counts.every(isClean) };
  }

  /** The same counts as {@link TypeReplicator.stats}, over every entry, by object namespace. */
  countsByNamespace(): NamespaceCounts[] {
    const byNamespace = new Map<string, NamespaceCounts>();
    for (const { key, state } of this.classify()) {
      if (!state) continue;
      const namespace = namespaceOf(key);
      let c = byNamespace.get(namespace);
      if (!c) byNamespace.set(namespace, (c = { namespace, inSync: 0, pending: 0, failed: 0 }));
      c[state]++;
    }
    return [...byNamespace.values()];
  }

  /** Records a failure of `key`; a lasting one is reported (event) only when it is new. */
  private fail(key: string, failure: Failure, reason: ReplicationErrorReason): void {
    const before = this.failed.get(key);
    this.failed.set(key, failure);
    if (!failure.lasting || before?.message !== failure.message)
      this.opts.onEvent?.({ type: 'error', namespace: namespaceOf(key), reason });
  }

  /** Entries that cannot replicate, or have objects that wait for a change (a conflict, a patch, a namespace). */
  problems(): EntryProblem[] {
    if (this.startError)
      return this.rules.map((r) => ({
        index: r.index,
        resource: typeName(this.gvr),
        message: this.startError!,
        whole: true,
      }));
    const lasting = new Map<number, string>();
    for (const [key, failure] of this.failed) {
      if (!failure.lasting) continue;
      const index = selectEntry(this.rules, key, this.state)?.rule.index ?? this.rules[0].index;
      if (!lasting.has(index)) lasting.set(index, failure.message);
    }
    return [...lasting].map(([index, message]) => ({
      index,
      resource: typeName(this.gvr),
      message: `objects not replicated, e.g. ${message}`,
      whole: false,
    }));
  }

  /**
   * When the oldest change seen at the source and not yet written happened (ms since the epoch);
   * undefined when none waits. Objects that wait for a change of their own (a lasting failure:
   * not owned, a patch that does not apply, a missing namespace) are failed, not pending.
   */
  oldestPendingChange(): number | undefined {
    let oldest: number | undefined;
    for (const [key, at] of this.seenAt)
      if (!this.failed.get(key)?.lasting && (oldest === undefined || at < oldest)) oldest = at;
    return oldest;
  }

  /** Resolves when every queued write is done (the initial sync, or a burst). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Discovers the type, lists both sides and converges, then keeps watching. Resolves once the
   * first lists are queued. When the source does not serve the type (or refuses the list), it
   * throws a named error and keeps trying again in the background, with backoff.
   */
  async start(): Promise<void> {
    try {
      await this.startOnce();
      this.startError = undefined;
    } catch (err) {
      if (this.stopped) return;
      this.startError ??= kubeErrorText(err);
      this.scheduleRetry(1);
      throw err;
    }
  }

  /** Stops watching and writing; running writes finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    for (const v of [...this.objectViews.values(), ...this.namespaceViews.values()]) v.stop();
    this.queue.stop();
    await this.queue.idle();
  }

  private scheduleRetry(attempt: number): void {
    const delayMs = backoffDelay(this.opts.startRetry ?? { initialMs: 5000, maxMs: 60_000 }, attempt);
    this.retryTimer = setTimeout(() => {
      if (this.stopped) return;
      this.startOnce().then(
        () => {
          this.log.info('resource type available again; replicating');
          this.startError = undefined;
        },
        (err) => {
          if (this.stopped) return;
          this.startError = this.startError ?? kubeErrorText(err);
          this.scheduleRetry(attempt + 1);
        },
      );
    }, delayMs);
  }

  private async startOnce(): Promise<void> {
    const [discovered] = await Promise.all([
      this.discover(),
      ...[...this.namespaceViews.values()].map((v) => v.list()),
    ]);
    if (this.stopped) return;
    this.discovered = discovered;
    const type: ReflectedType = { ...discovered, path: this.path() };
    const views = new Map<string, Reflector>();
    this.marks.reset();
    for (const rule of this.rules) {
      const selector = rule.labelSelector ?? '';
      if (views.has(selector)) continue;
      views.set(
        selector,
        new Reflector({
          kubeconfig: this.opts.source,
          type,
          labelSelector: rule.labelSelector,
          log: this.sourceLog,
          onChange: (key, event, obj, previous) => {
            this.marks.of(selector).received(key, obj?.metadata?.resourceVersion);
            this.sourceChanged(key, event, obj, previous);
          },
          onListed: (version, keys) => this.marks.of(selector).listed(version, keys),
          onBookmark: (version) => this.marks.of(selector).bookmark(version),
        }),
      );
    }
    const listed = (log: Logger, count: number, labelSelector?: string) =>
      count
        ? log.info({ count, labelSelector }, 'listed objects in cluster')
        : log.info({ labelSelector }, 'list objects not found in cluster');
    this.objectViews = views;
    this.listing = true;
    try {
      // The destination and the bucket first (a page each when they are empty); the source page by
      // page: each page is compared with them and queued as it comes, so writes start while the
      // source is still listing. What no entry selects is decided once every page is in.
      const targets = this.readTargets();
      await Promise.all([
        targets,
        ...[...views].map(async ([selector, view]) => {
          const labelSelector = selector || undefined;
          this.sourceLog.info({ labelSelector }, 'listing objects in cluster');
          await view
            .list(async (keys, version) => {
              const run = await targets.catch(() => undefined);
              if (!run || this.stopped) return;
              // The checkpoint passes the list's version once every key it gave is written.
              this.marks.of(selector).listed(version, keys);
              const toWriteIn = new Set<string>();
              for (const key of keys) {
                this.compareKey(run, key);
                if (run.drifted.has(key)) toWriteIn.add(namespaceOf(key));
                this.queue.add(key);
              }
              this.prepareNamespaces(toWriteIn);
            })
            .catch((err: unknown) => this.listFailed(this.sourceLog, err));
          listed(this.sourceLog, view.objects.size, labelSelector);
        }),
      ]);
      if (this.stopped) return;
      this.listing = false;
      const run = await targets;
      // ... and every copy no entry selects is pruned (finishComparison queues them).
      const extras = [...run.owned.keys()].filter((k) => !selectEntry(this.rules, k, this.state));
      for (const [selector, view] of views) this.marks.of(selector).listed(view.version, extras);
      this.finishComparison(run);
    } finally {
      this.listing = false;
    }
    for (const view of [...views.values(), ...this.namespaceViews.values()]) view.watch();
  }

  /** Records a failed list as the type's start error, reports it, and throws it on. */
  private listFailed(log: Logger, err: unknown): never {
    this.startError =
      (err as Error).name === TYPE_NOT_SERVED
        ? (err as Error).message
        : `listing ${typeName(this.gvr)}: ${kubeErrorText(err)}`;
    this.opts.onEvent?.({ type: 'error', namespace: '', reason: 'list' });
    log.error({ err: kubeErrorText(err) }, 'error listing objects in cluster');
    throw err;
  }

  /**
   * Compares source, destination and bucket now (what a user asks for with the compare
   * annotation): lists the destination and the bucket again and queues every repair. Undefined
   * while the type has not started.
   */
  compareNow(): Promise<Comparison | undefined> {
    this.comparing ??= (async () => {
      const d = this.discovered;
      if (!d || this.listing || this.stopped || this.startError) return undefined;
      if (this.resumed) {
        // A resumed type knows only what changed since its checkpoint: a comparison needs the
        // whole source, so it lists as a start does (and that start compares).
        this.fallBack('comparison asked for');
        return undefined;
      }
      const run = await this.readTargets();
      const keys = new Set(run.owned.keys());
      for (const view of this.objectViews.values()) for (const k of view.objects.keys()) keys.add(k);
      for (const key of keys) {
        this.compareKey(run, key);
        if (run.drifted.has(key)) this.queue.add(key);
      }
      return this.finishComparison(run);
    })().finally(() => (this.comparing = undefined));
    return this.comparing;
  }

  /**
   * Lists the destination's objects of the type (ours are tracked; the rest are never touched) and
   * the bucket's originals, for a comparison.
   */
  private async readTargets(): Promise<ComparisonRun> {
    const [destination, originals] = await Promise.all([
      (async () => {
        // concurrentTasks: the writes in flight this type's queue allows (components.synchronizer).
        this.destinationLog.info({ concurrentTasks: this.opts.concurrency }, 'listing objects in cluster');
        const list = await listAll<KubeObject>(this.opts.destination, { path: this.path() }).catch(
          async (err: unknown) =>
            this.listFailed(
              this.destinationLog,
              (statusOf(err) === 404 && (await this.notServedByDestination())) || err,
            ),
        );
        if (list.items.length)
          this.destinationLog.info({ count: list.items.length }, 'listed objects in cluster');
        else this.destinationLog.info('list objects not found in cluster');
        return list.items;
      })(),
      this.listOriginals(),
    ]);
    const owned = new Map<string, KubeObject>();
    this.written.clear();
    this.foreign.clear();
    for (const item of destination) {
      const key = keyOf(item);
      this.learnCopy(key, item);
      // A list's items have no apiVersion and kind; the copy we would write has them.
      if (!this.foreign.has(key))
        owned.set(key, { apiVersion: this.discovered?.apiVersion, kind: this.discovered?.kind, ...item });
    }
    return { comparedAt: new Date().toISOString(), owned, originals, drifted: new Map() };
  }

  /** The bucket's originals of this type by key, with their ETags; undefined without a bucket. */
  private async listOriginals(): Promise<Map<string, string | undefined> | undefined> {
    const bucket = this.opts.bucket;
    if (!bucket) return undefined;
    const prefix = `${liveSyncPrefix(bucket.liveSync)}${resourceFolder(this.gvr)}/`;
    const originals = new Map<string, string | undefined>();
    try {
      for (const [key, etag] of await listWithEtags(bucket.client, bucket.name, prefix)) {
        const parsed = parseObjectKey(key);
        if (parsed) originals.set(`${parsed.namespace ?? ''}/${parsed.name}`, etag);
      }
    } catch (err) {
      this.opts.onEvent?.({ type: 'error', namespace: '', reason: 'bucket' });
      this.bucketLog.error(
        { err: kubeErrorText(err), bucketObject: { path: prefix } },
        'error listing objects in bucket',
      );
      throw err;
    }
    return originals;
  }

  /** What the destination copy of `source` would be under `rule`. */
  private desired(rule: EntryRule, source: KubeObject) {
    return toDestination(source, this.opts.owner, {
      ops: rule.entry.transformation?.patch,
      skipIfNotFoundOnDelete: rule.entry.transformation?.patchOptions?.skipIfNotFoundOnDelete,
      id: rule.transformation,
    });
  }

  /**
   * Compares one selected source object with its copy and its original, and records what differs:
   * a copy missing, outdated (another version or transformation) or stale (edited by hand: it is
   * rewritten although its version is current), an original missing or stale (uploaded again).
   * A key no entry selects is left to {@link TypeReplicator.finishComparison}.
   */
  private compareKey(run: ComparisonRun, key: string): void {
    const selected = selectEntry(this.rules, key, this.state);
    if (!selected) return;
    const found: DriftedObject[] = [];
    const copy = run.owned.get(key);
    if (!this.foreign.has(key)) {
      if (!copy) found.push({ key, kind: 'missing' });
      else if (!this.isCurrent(key, selected.rule, selected.object)) found.push({ key, kind: 'outdated' });
      else {
        const out = this.desired(selected.rule, selected.object);
        const difference = out.ok ? compareCopy(out.object, copy) : undefined;
        if (difference) {
          found.push({ key, kind: 'stale', path: difference.path });
          this.staleCopies.set(key, difference);
        }
      }
    }
    if (run.originals) {
      if (!run.originals.has(key)) found.push({ key, kind: 'bucketMissing' });
      else if (etagMatches(run.originals.get(key), originalBody(selected.object)) === false)
        found.push({ key, kind: 'bucketStale' });
      if (found.some((f) => f.kind.startsWith('bucket'))) this.bucketRepairs.add(key);
    }
    // A copy missing or outdated is a source change still to replicate, measured from its stamp.
    if (found.some((f) => f.kind === 'missing' || f.kind === 'outdated'))
      this.noteChange(key, Date.now(), selected.object);
    if (found.length) run.drifted.set(key, found);
    else run.drifted.delete(key);
  }

  /**
   * Ends a comparison once every source page is in: copies and originals of objects that no entry
   * selects are drift too (queued to be pruned). Records the counts for status, names the first
   * drifted objects in the log, and reports the comparison.
   */
  private finishComparison(run: ComparisonRun): Comparison {
    for (const key of run.owned.keys())
      if (!selectEntry(this.rules, key, this.state)) {
        run.drifted.set(key, [{ key, kind: 'extra' }]);
        this.noteChange(key, Date.now(), undefined, true);
        this.queue.add(key);
      }
    for (const key of run.originals?.keys() ?? [])
      if (!run.owned.has(key) && !selectEntry(this.rules, key, this.state)) {
        run.drifted.set(key, [{ key, kind: 'bucketExtra' }]);
        this.bucketExtras.add(key);
        this.queue.add(key);
      }
    const position = new Map(this.rules.map((r, i) => [r.index, i]));
    const counts = this.rules.map(() => noDrift());
    const total = noDrift();
    const examples: DriftedObject[] = [];
    for (const [key, found] of run.drifted) {
      const at = position.get(selectEntry(this.rules, key, this.state)?.rule.index ?? -1) ?? 0;
      for (const f of found) {
        counts[at][f.kind]++;
        total[f.kind]++;
        if (examples.length < NAMED_DRIFT) examples.push(f);
        this.opts.onEvent?.({ type: 'drift', namespace: namespaceOf(key), action: DRIFT_ACTION[f.kind] });
      }
    }
    this.lastComparison = { comparedAt: run.comparedAt, counts, reverted: this.rules.map(() => 0) };
    const clean = isClean(total);
    const message = clean
      ? `${typeName(this.gvr)}: no drift`
      : driftMessage(typeName(this.gvr), total, examples);
    if (clean)
      this.log.info({ comparedAt: run.comparedAt }, 'source, destination and bucket compared: no drift');
    else {
      for (const e of examples)
        this.log.warn(
          { drift: { kind: e.kind, path: e.path }, object: this.identity(undefined, e.key) },
          'drift found',
        );
      const counted = Object.fromEntries(DRIFT_KINDS.filter((k) => total[k]).map((k) => [k, total[k]]));
      this.log.warn({ drift: counted, comparedAt: run.comparedAt }, `drift found: ${message}`);
    }
    const comparison: Comparison = {
      gvr: this.gvr,
      comparedAt: run.comparedAt,
      clean,
      total,
      examples,
      message,
    };
    this.opts.onComparison?.(comparison);
    return comparison;
  }

  /**
   * Checks (and, when forced, creates) the destination namespaces the writes will need, ahead of
   * them and `concurrency` at a time. The queue takes keys in namespace order, so without this
   * every writer waits on one namespace check after the other (two round trips per namespace,
   * 500 times over at 500 namespaces). A failed check is left to the write, which retries it and
   * reports it.
   */
  private prepareNamespaces(namespaces: Iterable<string>): void {
    if (!this.discovered?.namespaced) return;
    const unknown = [...namespaces].filter((ns) => ns && !this.knownDestinationNamespaces.has(ns));
    if (unknown.length === 0) return;
    void pool(unknown, this.opts.concurrency, async (ns) => {
      if (!this.stopped) await this.ensureNamespace(ns).catch(() => false);
    });
  }

  private async discover(): Promise<Discovered> {
    try {
      return await resolveTypeLogged(this.opts.source, this.gvr, 'the source cluster', this.sourceLog);
    } catch (err) {
      this.startError = (err as Error).message;
      this.opts.onEvent?.({ type: 'error', namespace: '', reason: 'list' });
      throw err;
    }
  }

  /**
   * Why the destination answered a list of this type with 404, when the reason is that it does
   * not serve the type: a version an older source still serves and a newer destination dropped
   * (`flowcontrol.apiserver.k8s.io/v1beta3` from 1.29 to 1.34), or a CRD not installed there.
   * The error says so as the source side's does, naming the destination cluster; undefined when
   * the type is served after all or its discovery failed too.
   */
  private async notServedByDestination(): Promise<Error | undefined> {
    return resolveType(this.opts.destination, this.gvr, 'the destination cluster').then(
      () => undefined,
      (err: Error) => (err.name === TYPE_NOT_SERVED ? err : undefined),
    );
  }

  /** The seed's object reference (`sourceObject`, `oldSourceObject`) of `obj`, of this type. */
  private identity(obj: KubeObject | undefined, key?: string): Record<string, string | undefined> {
    const m = obj?.metadata;
    const slash = key?.indexOf('/') ?? -1;
    return {
      apiGroup: this.gvr.group,
      apiVersion: this.gvr.version,
      resource: this.gvr.resource,
      name: m?.name ?? key?.slice(slash + 1),
      namespace: m?.namespace ?? (key && slash > 0 ? key.slice(0, slash) : undefined),
      resourceVersion: m?.resourceVersion,
      uid: m?.uid,
    };
  }

  /**
   * Notes that `key` changed at the source (`obj` its new state, or its last one when `deleted`),
   * received at `receivedAt`: the first change not yet written is what the lag is measured from.
   */
  private noteChange(key: string, receivedAt: number, obj?: KubeObject, deleted = false): void {
    if (this.seenAt.has(key)) return;
    this.seenAt.set(key, changeTime(sourceStamp(obj, deleted), receivedAt, this.opts.changesSince));
  }

  /** Reports the lag of `key`'s change, now written (or pruned). */
  private changeWritten(key: string): void {
    const at = this.seenAt.get(key);
    if (at === undefined) return;
    this.seenAt.delete(key);
    const ms = Math.max(0, Date.now() - at);
    this.opts.onLag?.(ms);
    this.opts.onEvent?.({ type: 'lag', namespace: namespaceOf(key), ms });
  }

  private sourceChanged(key: string, event: string, obj?: KubeObject, previous?: KubeObject): void {
    this.lastEventTime = new Date().toISOString();
    if (event === 'relisted') {
      // A relist after 410 Gone: what changed meanwhile is measured from its own stamp.
      const selected = selectEntry(this.rules, key, this.state);
      if (selected ? !this.isCurrent(key, selected.rule, selected.object) : this.written.has(key))
        this.noteChange(key, Date.now(), selected?.object, !selected);
    } else {
      this.noteChange(key, Date.now(), obj, event === 'deleted');
      const type = EVENT_TYPES[event];
      this.sourceLog.info(
        {
          event: { type },
          sourceObject: this.identity(obj, key),
          ...(type === 'update' && { oldSourceObject: this.identity(previous ?? obj, key) }),
        },
        'object read from cluster',
      );
    }
    this.queue.add(key);
  }

  private requeueNamespace(ns: string): void {
    if (this.resumed) {
      // A resumed view does not know every object of the namespace: list them all.
      this.fallBack(`namespace ${ns} changed`);
      return;
    }
    const prefix = `${ns}/`;
    const requeue = (key: string) => {
      this.namespaceWork.add(key);
      this.queue.add(key);
    };
    for (const key of this.written.keys()) if (key.startsWith(prefix)) requeue(key);
    for (const view of this.objectViews.values())
      for (const key of view.objects.keys()) if (key.startsWith(prefix)) requeue(key);
  }

  /** Whether the copy of `key` was written from this version of the source with this entry's transformation. */
  private isCurrent(key: string, rule: EntryRule, source: KubeObject): boolean {
    const w = this.written.get(key);
    return (
      w !== undefined &&
      w.version === source.metadata?.resourceVersion &&
      w.transformation === rule.transformation
    );
  }

  private path(): string {
    const { group, version, resource } = this.gvr;
    return group ? `/apis/${group}/${version}/${resource}` : `/api/${version}/${resource}`;
  }

  /** {@link TypeReplicator.ensureNamespace}, reporting a failed check as a `namespace` error. */
  private async namespaceReady(ns: string): Promise<boolean> {
    try {
      return await this.ensureNamespace(ns);
    } catch (err) {
      this.opts.onEvent?.({ type: 'error', namespace: ns, reason: 'namespace' });
      throw err;
    }
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
    const log = this.destinationLog.child({
      destinationObject: { apiGroup: '', apiVersion: 'v1', resource: 'namespaces', name: ns },
    });
    log.debug('reading namespace from cluster');
    try {
      await core.readNamespace({ name: ns });
      log.info('namespace read from cluster');
      this.knownDestinationNamespaces.add(ns);
      return true;
    } catch (err) {
      if (!isNotFound(err)) {
        log.error({ err: kubeErrorText(err) }, 'error getting namespace from cluster');
        throw err;
      }
    }
    log.info('namespace not found in cluster');
    if (!this.opts.forceNamespaceCreation) return false;
    log.info('creating namespace from cluster');
    try {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      log.info('namespace created in cluster');
    } catch (err) {
      if (!isConflict(err)) {
        log.error({ err: kubeErrorText(err) }, 'error creating namespace in cluster');
        throw err;
      }
      log.info('namespace already exists in cluster');
    }
    this.knownDestinationNamespaces.add(ns);
    return true;
  }

  /** Makes the destination copy of `key` match the source (write, or delete when no entry selects it). */
  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    if (this.stopped) return;
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const d = this.discovered!;
    const ref = {
      apiVersion: d.apiVersion,
      kind: d.kind,
      metadata: { name, ...(d.namespaced ? { namespace: ns } : {}) },
    };
    const selected = selectEntry(this.rules, key, this.state);
    const bucketKey = this.opts.bucket
      ? objectKey(this.opts.bucket.liveSync, this.gvr, { namespace: d.namespaced ? ns : undefined, name })
      : undefined;
    if (!selected) {
      this.failed.delete(key);
      // While the source still lists, a key may be selected by a page still to come.
      if (this.listing) return;
      this.staleCopies.delete(key);
      this.bucketRepairs.delete(key);
      if (!this.written.has(key)) {
        this.seenAt.delete(key);
        // An original left in the bucket for an object that is gone: pruned like a copy's.
        if (bucketKey && this.bucketExtras.delete(key)) {
          const change = { event: { type: 'delete' }, sourceObject: this.identity(undefined, key) };
          await this.keepInQuarantine(ref, bucketKey, change);
          await this.deleteOriginal(key, bucketKey, change);
        }
        return;
      }
      // Gone from the source (rather than out of every entry's filters): the seed's not-found line.
      if (![...this.objectViews.values()].some((v) => v.objects.has(key)))
        this.sourceLog.info(
          { event: { type: 'delete' }, sourceObject: this.identity(undefined, key) },
          'object not found in cluster',
        );
      await this.prune(key, ref, bucketKey);
      this.changeWritten(key);
      return;
    }
    const { rule, object: source } = selected;
    this.bucketExtras.delete(key);
    const sourceVersion = source.metadata?.resourceVersion;
    const previous = this.written.get(key);
    const edited = this.staleCopies.get(key);
    if (previous) {
      if (previous.version === sourceVersion) {
        // Already written; or written with another transformation, or edited by hand: a rewrite,
        // not a source change.
        this.seenAt.delete(key);
        if (previous.transformation === rule.transformation && !edited) {
          // The original may still be missing or stale in the bucket.
          if (bucketKey && this.bucketRepairs.has(key)) {
            await this.upload(bucketKey, source, ns, {
              event: { type: 'update' },
              sourceObject: this.identity(source, key),
            });
            this.bucketRepairs.delete(key);
          }
          return;
        }
      } else if (!isNewerVersion(sourceVersion, previous.version)) {
        this.seenAt.delete(key);
        return; // stale
      }
    }
    const foreign = this.foreign.get(key);
    if (foreign) {
      // An overlap (another LiveSynchronization) or an object of the destination's own: hands off.
      const message = `${key}: exists in the destination and is ${foreign}; not overwritten`;
      if (this.failed.get(key)?.message !== message)
        this.log.warn({ destinationObject: ref.metadata }, message);
      this.fail(key, { message, lasting: true }, 'not_owned');
      return;
    }
    if (d.namespaced && !(await this.namespaceReady(ns))) {
      const message = `waiting for namespace ${ns} in the destination (forceNamespaceCreation is off)`;
      this.fail(key, { message, lasting: true }, 'namespace_missing');
      return { requeueAfterMs: 5000 };
    }
    const out = this.desired(rule, source);
    if (!out.ok) {
      const message = `${key}: transformation.patch does not apply: ${out.error}`;
      this.fail(key, { message, lasting: true }, 'transformation');
      this.destinationLog.error(
        {
          event: { type: previous ? 'update' : 'create' },
          sourceObject: this.identity(source, key),
          destinationObject: ref.metadata,
          err: out.error,
        },
        previous ? 'error updating object in cluster' : 'error creating object in cluster',
      );
      return; // retried when the source object changes, or the spec does
    }
    const change = {
      event: { type: previous ? 'update' : 'create' },
      sourceObject: this.identity(source, key),
      ...(previous && {
        oldSourceObject: { ...this.identity(source, key), resourceVersion: previous.version },
      }),
    };
    if (bucketKey) {
      await this.upload(bucketKey, source, ns, change);
      this.bucketRepairs.delete(key);
    }
    await this.apply(out.object, ref, change, ns);
    if (edited) await this.revert(key, rule, ref, edited, change);
    this.written.set(key, { version: sourceVersion ?? '', transformation: rule.transformation });
    this.failed.delete(key);
    this.changeWritten(key);
  }

  // --- Resuming from a checkpoint (see checkpoint.ts and docs/replication.md) ---

  /** {@link TypeReplicator.reconcile}, then the key is settled in the write marks when it is written. */
  private async reconcileMarked(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const upTo = this.marks.now();
    if (this.resumed && !this.resolved.has(key)) await this.resolve(key);
    const result = await this.reconcile(key);
    // Written, pruned or nothing to do: the changes up to `upTo` need no replay. A failure (even a
    // lasting one) or a requeue holds the mark back, so that a crash replays it.
    if (!this.stopped && !result?.requeueAfterMs && !this.failed.has(key)) {
      this.marks.settle(key, upTo);
      this.namespaceWork.delete(key);
    }
    return result;
  }

  /** The distinct label selectors ('' for none) and namespace selectors of this type's entries. */
  selectors(): { labels: string[]; namespaces: string[] } {
    return {
      labels: [...new Set(this.rules.map((r) => r.labelSelector ?? ''))],
      namespaces: [
        ...new Set(
          this.rules.flatMap((r) => (r.namespaceSelector === undefined ? [] : [r.namespaceSelector])),
        ),
      ],
    };
  }

  /** The namespaces each namespace selector matches now, hashed. */
  private namespaceHashes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [selector, view] of this.namespaceViews)
      out[selector] = namespacesHash([...view.objects.keys()].map((k) => k.slice(1)));
    return out;
  }

  /**
   * This type's checkpoint: each source reflector's low-water mark and the namespace hashes they
   * were written under; undefined until the initial sync is written (a retry then lists again).
   */
  checkpoint(): TypeCheckpoint | undefined {
    const objects = this.marks.marksBySelector();
    if (this.namespaceWork.size === 0) this.settledNamespaces = this.namespaceHashes();
    if (!objects || !this.settledNamespaces || this.startError) return undefined;
    return { objects, namespaces: this.settledNamespaces };
  }

  /**
   * Starts from a checkpoint instead of listing: the source reflectors watch from its versions
   * (the API server replays what changed since), the destination is read object by object as
   * changes come. Namespaces are listed (they are few); when the ones a selector matches are not
   * those of the checkpoint, or a watch answers 410 Gone, the type lists everything as
   * {@link TypeReplicator.start} does.
   */
  async resume(checkpoint: TypeCheckpoint): Promise<void> {
    try {
      const [discovered] = await Promise.all([
        this.discover(),
        ...[...this.namespaceViews.values()].map((v) => v.list()),
      ]);
      if (this.stopped) return;
      const hashes = this.namespaceHashes();
      const changed = Object.keys(hashes).find((s) => hashes[s] !== checkpoint.namespaces[s]);
      if (changed !== undefined) {
        this.sourceLog.info(
          { namespaceSelector: changed },
          'not resuming from checkpoint: the namespaces the selector matches changed; listing objects',
        );
        return await this.start();
      }
      this.discovered = discovered;
      this.resumed = true;
      this.startError = undefined;
      const type: ReflectedType = { ...discovered, path: this.path() };
      const views = new Map<string, Reflector>();
      this.marks.reset();
      for (const selector of this.selectors().labels) {
        const seen = new Set<string>();
        this.seenSince.set(selector, seen);
        views.set(
          selector,
          new Reflector({
            kubeconfig: this.opts.source,
            type,
            labelSelector: selector || undefined,
            log: this.sourceLog,
            onChange: (key, event, obj, previous) => {
              seen.add(key);
              this.marks.of(selector).received(key, obj?.metadata?.resourceVersion);
              this.sourceChanged(key, event, obj, previous);
            },
            onBookmark: (version) => this.marks.of(selector).bookmark(version),
            onExpired: (why) => this.fallBack(`watch expired (410 Gone): ${why}`),
          }),
        );
        this.marks.of(selector, checkpoint.objects[selector]);
      }
      this.objectViews = views;
      this.sourceLog.info(
        { resourceVersions: checkpoint.objects },
        'resuming from checkpoint: watching from the checkpoint versions, not listing',
      );
      for (const [selector, view] of views) view.watchFrom(checkpoint.objects[selector]);
      for (const view of this.namespaceViews.values()) view.watch();
      void this.countDestination();
    } catch (err) {
      if (this.stopped) return;
      this.startError ??= kubeErrorText(err);
      this.scheduleRetry(1);
      throw err;
    }
  }

  /** Leaves the resumed mode: every view stops, and the type lists both sides as a start does. */
  private fallBack(why: string): void {
    if (!this.resumed || this.stopped) return;
    this.resumed = false;
    this.sourceLog.warn({ why }, 'checkpoint resume abandoned; listing objects again');
    for (const v of [...this.objectViews.values(), ...this.namespaceViews.values()]) v.stop();
    this.namespaceViews.clear();
    this.addNamespaceViews();
    this.resolved.clear();
    this.seenSince.clear();
    this.startOnce().catch((err: unknown) => {
      if (this.stopped) return;
      this.startError ??= kubeErrorText(err);
      this.scheduleRetry(1);
    });
  }

  /**
   * Resumed: reads what the partial views do not know of `key` before it is reconciled, so that
   * nothing is written from, or pruned for, an object merely not seen since the checkpoint. The
   * source is read through each view that had no event of it (the API server matches the label
   * selector), the destination copy for its owner and source version.
   */
  private async resolve(key: string): Promise<void> {
    const d = this.discovered!;
    const slash = key.indexOf('/');
    const [ns, name] = [key.slice(0, slash), key.slice(slash + 1)];
    // An object no entry can select whatever its labels (another namespace, another name) needs
    // no read: a copy of it cannot be ours, or the checkpoint would not have passed it.
    const selectable = this.rules.some(
      (r) =>
        passesNameFilter(r, name) &&
        (r.namespaceSelector === undefined || this.state.namespaceMatches(r.namespaceSelector, ns)),
    );
    if (!selectable && !this.written.has(key)) {
      this.resolved.add(key);
      return;
    }
    for (const [selector, view] of this.objectViews) {
      if (this.seenSince.get(selector)?.has(key)) continue;
      // Read as the server writes it (plain JSON), as the lists are: one version, the same bytes.
      const page = await listAll<KubeObject>(this.opts.source, {
        path: this.path(),
        labelSelector: selector || undefined,
        fieldSelector: `metadata.name=${name}${d.namespaced ? `,metadata.namespace=${ns}` : ''}`,
      });
      if (this.seenSince.get(selector)?.has(key)) continue; // an event came meanwhile: it is newer
      const found = page.items[0] as KubeObject | undefined;
      if (found) view.objects.set(key, typedObject(found, d));
      else view.objects.delete(key);
    }
    if (!this.written.has(key) && !this.foreign.has(key)) {
      const copy = (await this.dst
        .read({
          apiVersion: d.apiVersion,
          kind: d.kind,
          metadata: { name, ...(d.namespaced ? { namespace: ns } : {}) },
        })
        .catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        })) as KubeObject | undefined;
      if (copy) this.learnCopy(key, copy);
    }
    this.resolved.add(key);
  }

  /** Records a destination object: ours (and what it was written from), or someone else's. */
  private learnCopy(key: string, item: KubeObject): void {
    this.foreign.delete(key);
    if (!isOwnedBy(item, this.opts.owner)) {
      const other = item.metadata?.annotations?.[OWNER_ANNOTATION];
      this.foreign.set(
        key,
        other ? `claimed by LiveSynchronization ${other}` : 'not created by this LiveSynchronization',
      );
      return;
    }
    const annotations = item.metadata?.annotations ?? {};
    const version = annotations[SOURCE_VERSION_ANNOTATION];
    if (version)
      this.written.set(key, { version, transformation: annotations[TRANSFORMATION_ANNOTATION] ?? '' });
  }

  /**
   * Resumed: once the changes since the checkpoint are written, lists the destination (never the
   * source) so that status counts the copies the checkpoint left in sync. Writes nothing.
   */
  private async countDestination(): Promise<void> {
    // After the replay: idle, then idle again a while later (the replayed events come in a burst).
    await this.queue.idle();
    await new Promise((r) => setTimeout(r, COUNT_AFTER_RESUME_MS));
    await this.queue.idle();
    if (!this.resumed || this.stopped) return;
    try {
      this.destinationLog.info('listing objects in cluster (to count the copies after a resume)');
      const { items } = await listAll<KubeObject>(this.opts.destination, { path: this.path() });
      if (!this.resumed || this.stopped) return;
      for (const item of items) {
        const key = keyOf(item);
        if (this.resolved.has(key) || this.written.has(key) || this.foreign.has(key)) continue;
        this.learnCopy(key, item);
      }
      this.destinationLog.info({ count: items.length }, 'listed objects in cluster');
    } catch (err) {
      this.destinationLog.warn(
        { err: kubeErrorText(err) },
        'error listing objects in cluster; counts are partial',
      );
    }
  }

  /** Resumed: a copy of ours with no change since the checkpoint (counted in sync). */
  private untouchedCopy(key: string): boolean {
    if (this.resolved.has(key) || !this.written.has(key) || this.failed.has(key)) return false;
    for (const view of this.objectViews.values()) if (view.objects.has(key)) return false;
    return true;
  }

  /** Uploads the original, as read from the source, to the bucket. */
  private async upload(
    bucketKey: string,
    source: KubeObject,
    namespace: string,
    change: ObjectChange,
  ): Promise<void> {
    const log = this.bucketLog.child({ ...change, bucketObject: { path: bucketKey } });
    log.debug('uploading object in bucket');
    try {
      await this.opts.bucket!.client.send(
        new PutObjectCommand({
          Bucket: this.opts.bucket!.name,
          Key: bucketKey,
          Body: originalBody(source),
          ContentType: 'application/json',
        }),
      );
      this.opts.onEvent?.({ type: 'upload', namespace, ok: true });
      log.info('object uploaded in bucket');
    } catch (err) {
      this.opts.onEvent?.({ type: 'upload', namespace, ok: false });
      this.opts.onEvent?.({ type: 'error', namespace, reason: 'bucket' });
      const { settings, asset } = this.opts.bucket!;
      const region = settings && regionMismatch(err, settings);
      log.error({ err: region ?? kubeErrorText(err) }, 'error uploading object in bucket');
      if (region) throw new Error(`Bucket ${asset?.namespace}/${asset?.name} ${region}`, { cause: err });
      throw err;
    }
  }

  /** Writes the transformed copy with server-side apply, logging as the seed does. */
  private async apply(
    copy: KubeObject,
    ref: { metadata: { name: string; namespace?: string } },
    change: ObjectChange,
    namespace: string,
  ): Promise<void> {
    const creating = change.event.type === 'create';
    const log = this.destinationLog.child({ ...change, destinationObject: ref.metadata });
    log.debug(creating ? 'creating object in cluster' : 'updating object in cluster');
    try {
      await serverSideApply(this.dst, copy as never);
    } catch (err) {
      this.opts.onEvent?.({ type: 'error', namespace, reason: 'write' });
      log.error(
        { err: kubeErrorText(err) },
        creating ? 'error creating object in cluster' : 'error updating object in cluster',
      );
      throw err;
    }
    this.opts.onEvent?.({ type: 'write', namespace, operation: creating ? 'create' : 'update' });
    log.info(creating ? 'object created in cluster' : 'object updated in cluster');
  }

  /**
   * Keeps the object about to be pruned in the bucket's quarantine (layout.ts): its bucket
   * original, else the destination copy as read. Throws when the bucket refuses, so that the prune
   * does not happen and is retried.
   */
  private async keepInQuarantine(
    ref: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    bucketKey: string | undefined,
    change: ObjectChange,
  ): Promise<void> {
    const bucket = this.opts.bucket!;
    const time = runName(new Date());
    const key = quarantineKey(bucket.liveSync, time, this.gvr, ref.metadata);
    const log = this.bucketLog.child({ ...change, bucketObject: { path: key } });
    const namespace = ref.metadata.namespace ?? '';
    let kept;
    try {
      kept = await keepInQuarantine({
        client: bucket.client,
        bucket: bucket.name,
        key,
        original: bucketKey,
        readCopy: () =>
          this.dst.read(ref).then(
            (obj) => obj as unknown,
            (err: unknown) => {
              if (isNotFound(err)) return undefined;
              throw err;
            },
          ),
      });
    } catch (err) {
      this.opts.onEvent?.({ type: 'error', namespace, reason: 'bucket' });
      log.error(
        { err: kubeErrorText(err) },
        'error quarantining object in bucket; the prune waits and is retried',
      );
      throw err;
    }
    if (kept === 'nothing') {
      log.info('object to quarantine not found in bucket nor cluster; nothing to keep');
      return;
    }
    Object.assign(this.quarantine, {
      lastTime: new Date().toISOString(),
      lastPrefix: quarantinePrefix(bucket.liveSync, time),
      objects: this.quarantine.objects + 1,
    });
    log.info(
      { quarantined: kept === 'original' ? { from: bucketKey } : { from: 'destination copy' } },
      'object quarantined in bucket',
    );
  }

  /** Deletes the copy of `key`, which no entry selects any more, and its bucket original. */
  private async prune(
    key: string,
    ref: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    bucketKey: string | undefined,
  ): Promise<void> {
    const change = {
      event: { type: 'delete' },
      sourceObject: {
        ...this.identity(undefined, key),
        resourceVersion: this.written.get(key)?.version,
      },
    };
    const log = this.pruneLog.child({ ...change, destinationObject: ref.metadata });
    if (this.opts.bucket) await this.keepInQuarantine(ref, bucketKey, change);
    else if (!this.noQuarantineLogged) {
      this.noQuarantineLogged = true;
      this.log.info('no bucket: pruned objects are deleted without a quarantine copy');
    }
    log.debug('deleting object in cluster');
    const namespace = namespaceOf(key);
    try {
      await this.dst.delete(ref);
      this.opts.onEvent?.({ type: 'write', namespace, operation: 'delete' });
      log.info('object deleted in cluster');
    } catch (err) {
      if (!isNotFound(err)) {
        this.opts.onEvent?.({ type: 'error', namespace, reason: 'delete' });
        log.error({ err: kubeErrorText(err) }, 'error deleting object in cluster');
        throw err;
      }
      log.info('object not found in cluster'); // deleted meanwhile: nothing to do
    }
    this.written.delete(key);
    if (bucketKey) await this.deleteOriginal(key, bucketKey, change);
  }

  /** Deletes the bucket original of `key` (after its copy, or alone when only the original was left). */
  private async deleteOriginal(
    key: string,
    bucketKey: string,
    change: ObjectChange = { event: { type: 'delete' }, sourceObject: this.identity(undefined, key) },
  ): Promise<void> {
    const namespace = namespaceOf(key);
    const bucketLog = this.pruneBucketLog.child({ ...change, bucketObject: { path: bucketKey } });
    bucketLog.debug('deleting object from bucket');
    try {
      await this.opts.bucket!.client.send(
        new DeleteObjectCommand({ Bucket: this.opts.bucket!.name, Key: bucketKey }),
      );
    } catch (err) {
      this.opts.onEvent?.({ type: 'error', namespace, reason: 'bucket' });
      // The seed's spelling, kept verbatim so searches for it match.
      bucketLog.error({ err: kubeErrorText(err) }, 'error deleting object form bucket');
      throw err;
    }
    bucketLog.info('object deleted from bucket');
  }

  /**
   * Finishes reverting a copy edited by hand: server-side apply has put back every field we
   * write; `data`/`binaryData` keys someone added are removed (a merge patch with nulls). Counted.
   */
  private async revert(
    key: string,
    rule: EntryRule,
    ref: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    edited: CopyDifference,
    change: ObjectChange,
  ): Promise<void> {
    if (edited.extraKeys.length) {
      const removal: Record<string, Record<string, null>> = {};
      for (const { field, key: k } of edited.extraKeys) (removal[field] ??= {})[k] = null;
      await this.dst.patch(
        { ...ref, ...removal },
        undefined,
        undefined,
        FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      );
    }
    this.staleCopies.delete(key);
    const at = this.rules.indexOf(rule);
    if (this.lastComparison && at >= 0) this.lastComparison.reverted[at]++;
    this.destinationLog.info(
      { ...change, destinationObject: ref.metadata, drift: { kind: 'stale', path: edited.path } },
      'object edited in cluster reverted to the source',
    );
  }
}
