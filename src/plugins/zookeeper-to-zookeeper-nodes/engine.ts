/**
 * The copy engine of `zookeeper-to-zookeeper-nodes`: walks the tree under rootPath on the source
 * Database and makes the destination's tree equal to it (data, ACLs, sequential counters), with
 * a bounded number of pipelined requests per session, skipping what is already equal, deleting
 * what the source no longer has, and heartbeating a checkpoint of completed subtrees so a retried
 * attempt resumes. See docs/zookeeper.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import type { LoadedDatabase } from '../../assets/load.js';
import { connectZooKeeper, zkConstants } from '../../clients/zookeeper.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import type { ZookeeperToZookeeperConfig } from './index.js';
import {
  aclEqual,
  ancestors,
  checkpointKey,
  childPath,
  CompletedSubtrees,
  createRequestBytes,
  DEFAULT_MAX_REQUEST_BYTES,
  describeCounts,
  failureSummary,
  grants,
  isExcluded,
  isOpenAcl,
  maxSequence,
  parseCheckpoint,
  Perm,
  sequenceNumber,
  throwAwayNeeded,
  setRequestBytes,
  writePlan,
  zeroCounts,
  ZOOKEEPER_SUBTREE,
  type AclEntry,
  type CopyCheckpoint,
  type CopyCounts,
  type NodeFailure,
} from './logic.js';
import {
  abortableSleep,
  isEphemeral,
  LARGE_REQUEST_BYTES,
  Rc,
  rcName,
  ZkError,
  ZkSession,
  type ZkSessionOptions,
  type ZkStat,
} from './session.js';

/** Tunables of the copy, set in code (tests and the benchmark change them). */
export interface CopyOptions {
  /** Requests in flight per session. */
  maxInFlight: number;
  /** How often the checkpoint is heartbeated. */
  heartbeatEveryMs: number;
  /** How often counters are reported through `run.progress`. */
  progressEveryMs: number;
  /** How long a Database gets to open a session. */
  connectTimeoutMs: number;
  /**
   * The largest request the destination accepts (its jute.maxbuffer); a znode whose write would
   * be larger fails without being sent (the server would drop the connection).
   */
  maxRequestBytes: number;
  /** Completed subtrees kept in the checkpoint at most. */
  checkpointCap: number;
  /** Attempts of a request whose connection is lost, and the pause once the session is back. */
  attempts: number;
  retryDelayMs: number;
  /** Failures named in the final message. */
  failuresShown: number;
  /**
   * Throw-away children a sequence counter may need at most; above this the names are taken
   * for something else (e.g. a timestamp) and the counter is left alone, with a warning.
   */
  maxSequenceBump: number;
}

/** The defaults of {@link CopyOptions}. */
export const COPY_DEFAULTS: CopyOptions = {
  maxInFlight: 64,
  heartbeatEveryMs: 2000,
  progressEveryMs: 1000,
  connectTimeoutMs: 10_000,
  maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
  checkpointCap: 1000,
  attempts: 3,
  retryDelayMs: 100,
  failuresShown: 5,
  maxSequenceBump: 1_000_000,
};

/** Names of the throw-away children that raise a sequence counter. */
export const BUMP_PREFIX = 'zk-copy-seq-bump-';

/** Return codes after which the session is unusable: the copy stops. */
export const FATAL_RCS = new Set<number>([Rc.SESSIONEXPIRED, Rc.AUTHFAILED, Rc.CLOSING]);

/** Which Database of a run a request went to. */
export type Side = 'source' | 'destination';

/** Where a node stands on the destination before it is visited. */
type DestState = 'absent' | 'present';

interface Endpoint {
  side: Side;
  field: 'sourceName' | 'destinationName';
  /** `namespace/name` of the Database. */
  id: string;
  session: ZkSession;
}

/**
 * Copies the tree under `config.rootPath` from the source Database to the destination Database.
 * Returns the counters; throws a nonRetryable ApplicationFailure naming the field on bad input,
 * one listing the first failed znodes when some could not be copied, and a CancelledFailure when
 * `run.signal` aborts.
 */
export async function copyZooKeeperTree(
  run: PluginRun<ZookeeperToZookeeperConfig>,
  options: Partial<CopyOptions> = {},
): Promise<PluginOutcome> {
  const opts = { ...COPY_DEFAULTS, ...options };
  const { config, ref } = run;
  const { root, exclude } = treeSelection(config, 'copied');

  const ids = {
    source: `${ref.namespace}/${config.sourceName}`,
    destination: `${ref.namespace}/${config.destinationName}`,
  };
  const [srcDb, dstDb] = await Promise.all([
    run.assets.database(ref.namespace, config.sourceName),
    run.assets.database(ref.namespace, config.destinationName),
  ]);
  if (!srcDb.ok)
    throw ApplicationFailure.nonRetryable(
      `spec.config.sourceName: ${srcDb.message}`,
      FailureType.AssetNotReady,
    );
  if (!dstDb.ok)
    throw ApplicationFailure.nonRetryable(
      `spec.config.destinationName: ${dstDb.message}`,
      FailureType.AssetNotReady,
    );

  // Our own stop switch: the run's cancellation, or a fatal error of a session.
  const { stop, release } = stopSwitch(run.signal);
  const sessionOpts = {
    maxInFlight: opts.maxInFlight,
    signal: stop.signal,
    attempts: opts.attempts,
    retryDelayMs: opts.retryDelayMs,
  };

  const connect = async (side: Side, db: LoadedDatabase): Promise<Endpoint> => {
    const field = side === 'source' ? 'sourceName' : 'destinationName';
    const session = await connectDatabase(
      db,
      { field, id: ids[side] },
      {
        timeoutMs: opts.connectTimeoutMs,
        session: sessionOpts,
      },
    );
    return { side, field, id: ids[side], session };
  };

  const connected = await Promise.allSettled([
    connect('source', srcDb.value),
    connect('destination', dstDb.value),
  ]);
  const endpoints = connected.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  try {
    const failedConnect = connected.find((c) => c.status === 'rejected');
    if (failedConnect) throw failedConnect.reason;
    const [src, dst] = endpoints;
    const identities = [
      'world:anyone',
      `digest:${digestId(dstDb.value.auth.user, dstDb.value.auth.password)}`,
    ];
    return await new TreeCopy({ run, opts, root, exclude, src, dst, identities, stop }).run();
  } finally {
    release();
    await Promise.all(endpoints.map((e) => e.session.drain()));
    for (const e of endpoints) e.session.close();
  }
}

/**
 * The root and the exclusion of a tree walk (copy or backup), checked: the root is not inside
 * `/zookeeper`, and the exclusion does not exclude the root itself. Throws an InvalidSpec failure
 * naming the field; `verb` says what would not happen to the tree (`copied`, `backed up`).
 */
export function treeSelection(
  config: { rootPath?: string; excludePathRegexp?: string },
  verb: string,
): { root: string; exclude: RegExp | undefined } {
  const root = normalizeRoot(config.rootPath ?? '/');
  if (isExcluded(root, undefined))
    throw ApplicationFailure.nonRetryable(
      `spec.config.rootPath: ${root} is ZooKeeper's own subtree (${ZOOKEEPER_SUBTREE}), which is never ${verb}`,
      'InvalidSpec',
    );
  const exclude = config.excludePathRegexp !== undefined ? new RegExp(config.excludePathRegexp) : undefined;
  if (isExcluded(root, exclude))
    throw ApplicationFailure.nonRetryable(
      `spec.config.excludePathRegexp: /${config.excludePathRegexp}/ excludes the root path ${root} itself: nothing would be ${verb}`,
      'InvalidSpec',
    );
  return { root, exclude };
}

/**
 * A run's own stop switch: aborted when the run is cancelled (with its reason), or by the run
 * itself (a session's fatal error). Every waiting request listens to it. `release` detaches it
 * from the run's signal.
 */
export function stopSwitch(signal: AbortSignal): { stop: AbortController; release(): void } {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onCancel = () => stop.abort(signal.reason);
  if (signal.aborted) onCancel();
  else signal.addEventListener('abort', onCancel, { once: true });
  return { stop, release: () => signal.removeEventListener('abort', onCancel) };
}

/** A session with one Database of a run (a backup's source, a restore's destination). */
export interface RunSession {
  session: ZkSession;
  /** The run's stop switch ({@link stopSwitch}); the session's requests stop with it. */
  stop: AbortController;
  /** `namespace/name` of the Database. */
  id: string;
  db: LoadedDatabase;
  /** Waits for the requests in flight (briefly), closes the session and detaches the stop switch. */
  close(): Promise<void>;
}

/**
 * Loads the Database `name` of the run's namespace and opens a pipelined session with it, stopped
 * with the run. Throws a nonRetryable failure naming `field` (under `spec.config.`): AssetNotReady,
 * or those of {@link connectDatabase}.
 */
export async function openRunSession(
  run: PluginRun,
  name: string,
  field: string,
  opts: Pick<CopyOptions, 'maxInFlight' | 'attempts' | 'retryDelayMs' | 'connectTimeoutMs'>,
): Promise<RunSession> {
  const id = `${run.ref.namespace}/${name}`;
  const db = await run.assets.database(run.ref.namespace, name);
  if (!db.ok)
    throw ApplicationFailure.nonRetryable(`spec.config.${field}: ${db.message}`, FailureType.AssetNotReady);
  const { stop, release } = stopSwitch(run.signal);
  try {
    const { maxInFlight, attempts, retryDelayMs } = opts;
    const session = await connectDatabase(
      db.value,
      { field, id },
      {
        timeoutMs: opts.connectTimeoutMs,
        session: { maxInFlight, signal: stop.signal, attempts, retryDelayMs },
      },
    );
    return {
      session,
      stop,
      id,
      db: db.value,
      close: async () => {
        release();
        await session.drain();
        session.close();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Opens a pipelined session with a Database. Throws a nonRetryable failure naming `where.field`
 * (under `spec.config.`): DatabaseAuthFailed when the digest credentials are refused,
 * DatabaseUnreachable when no session comes within `timeoutMs`. Never shows the password.
 */
export async function connectDatabase(
  db: LoadedDatabase,
  where: { field: string; id: string },
  opts: { timeoutMs: number; session: ZkSessionOptions },
): Promise<ZkSession> {
  try {
    const client = await connectZooKeeper({ servers: db.servers, auth: db.auth, timeoutMs: opts.timeoutMs });
    return new ZkSession(client, opts.session);
  } catch (err) {
    const text = (err as Error).message;
    const auth = /auth/i.test(text);
    throw ApplicationFailure.nonRetryable(
      auth
        ? `spec.config.${where.field}: Database ${where.id} refused the digest credentials of Secret ${where.id} (user ${db.auth.user})`
        : `spec.config.${where.field}: Database ${where.id} is unreachable within ${opts.timeoutMs / 1000} s: ${text}`,
      auth ? FailureType.DatabaseAuthFailed : FailureType.DatabaseUnreachable,
    );
  }
}

/**
 * The failure of a request on the root path (`err`, when a ZkError): RootPathNotFound when the
 * source has no root, DatabaseAuthFailed on NOAUTH, else DatabaseUnreachable, each naming
 * `at.field` (under `spec.config.`). Anything else is returned as it is.
 */
export function rootFailure(
  err: unknown,
  at: { root: string; side: Side; field: string; id: string; verb: 'read' | 'create' },
): unknown {
  if (!(err instanceof ZkError)) return err;
  if (err.rc === Rc.NONODE && at.side === 'source')
    return ApplicationFailure.nonRetryable(
      `spec.config.rootPath: ${at.root} does not exist on the source Database ${at.id}`,
      FailureType.RootPathNotFound,
    );
  if (err.rc === Rc.NOAUTH)
    return ApplicationFailure.nonRetryable(
      `spec.config.${at.field}: not authorized to ${at.verb} ${err.path} on Database ${at.id} (NOAUTH): check the user and password in Secret ${at.id}`,
      FailureType.DatabaseAuthFailed,
    );
  return ApplicationFailure.nonRetryable(
    `spec.config.${at.field}: ${err.op} ${err.path} on Database ${at.id} failed: ${rcName(err.rc)}`,
    FailureType.DatabaseUnreachable,
  );
}

/**
 * Why a request failed, for a znode's failure (not for the session-ending return codes of
 * {@link FATAL_RCS}): NOAUTH, a lost connection (with a hint when the request was big), or the
 * return code's name.
 */
export function requestFailureReason(
  err: ZkError,
  at: { side: Side; id: string; doing: string; bytes?: number; attempts: number },
): string {
  switch (err.rc) {
    case Rc.NOAUTH:
      return `NOAUTH ${at.doing} on the ${at.side} Database ${at.id}: not authorized with the credentials of Secret ${at.id}`;
    case Rc.CONNECTIONLOSS:
      return at.bytes !== undefined && at.bytes >= LARGE_REQUEST_BYTES
        ? `connection lost ${at.attempts} times ${at.doing} ${at.bytes} bytes: the ${at.side} Database ${at.id} probably refuses a request this big (jute.maxbuffer)`
        : `connection lost ${at.doing} on the ${at.side} Database ${at.id}`;
    default:
      return `${rcName(err.rc)} ${at.doing} on the ${at.side} Database ${at.id}`;
  }
}

/**
 * Makes the next sequential child of `path` get a number above `maxSeq`. ZooKeeper numbers a
 * sequential child from the parent's child counter (its cversion when the child is created), so
 * the counter is probed: a throw-away sequential child shows the number the next one gets. While
 * it is not above `maxSeq`, throw-away children are created and deleted (pipelined) to raise it.
 * Says what it did: `unchanged` (already above), `raised`, `too-many` (more than
 * `maxSequenceBump` throw-away children would be needed: the names are probably not sequential,
 * and the counter is left alone, with a warning) or `did-not-rise`. Throws a ZkError when a
 * request fails.
 */
export async function raiseSequenceCounter(
  session: ZkSession,
  path: string,
  maxSeq: number,
  opts: Pick<CopyOptions, 'maxInFlight' | 'maxSequenceBump'> & { log: PluginRun['log'] },
): Promise<'unchanged' | 'raised' | 'too-many' | 'did-not-rise'> {
  const prefix = `${BUMP_PREFIX}${randomBytes(4).toString('hex')}-`;
  const throwAway = async (): Promise<number> => {
    const made = await session.create(childPath(path, prefix), Buffer.alloc(0), zkConstants.ZOO_SEQUENCE);
    await session.delete(made);
    return sequenceNumber(made.slice(made.lastIndexOf('/') + 1)) ?? 0;
  };
  let next = (await throwAway()) + 1;
  let total = 1;
  if (throwAwayNeeded(next, maxSeq) > opts.maxSequenceBump) {
    opts.log.warn(
      { path, maxSeq, next },
      'sequence counter not raised: too many throw-away children needed (are these names really sequential?)',
    );
    return 'too-many';
  }
  for (let round = 0; next <= maxSeq && round < 5; round++) {
    // Each throw-away create raises the counter by one (at least): raise it past maxSeq.
    const needed = throwAwayNeeded(next, maxSeq);
    const batch = opts.maxInFlight * 8;
    for (let start = 0; start < needed; start += batch) {
      const numbers = await Promise.all(
        Array.from({ length: Math.min(batch, needed - start) }, () => throwAway()),
      );
      next = Math.max(next, ...numbers.map((n) => n + 1));
    }
    total += needed;
  }
  if (next <= maxSeq) return 'did-not-rise';
  if (total > 1) opts.log.info({ path, maxSeq, throwAway: total }, 'sequence counter raised');
  return total > 1 ? 'raised' : 'unchanged';
}

/** What is read of one node. */
export interface NodeRead {
  stat: ZkStat;
  data: Buffer;
  acl: AclEntry[];
  names: string[];
}

/**
 * Reads a node: stat and data, then its ACL and (when it has some) its children's names.
 * Resolves undefined when it does not exist; throws a ZkError on anything else.
 */
export async function readNode(session: ZkSession, path: string): Promise<NodeRead | undefined> {
  let got: { stat: ZkStat; data: Buffer };
  try {
    got = await session.get(path);
  } catch (err) {
    if (err instanceof ZkError && err.rc === Rc.NONODE) return undefined;
    throw err;
  }
  // get_acl only after a successful get: see ZkSession.getAcl.
  const [{ acl }, names] = await Promise.all([
    session.getAcl(path),
    got.stat.numChildren > 0 ? session.children(path) : [],
  ]);
  return { ...got, acl, names };
}

/** `/a/b/` → `/a/b`; `/` stays. */
function normalizeRoot(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** ZooKeeper's digest id of a user: `user:base64(sha1(user:password))`. */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

interface TreeCopyDeps {
  run: PluginRun<ZookeeperToZookeeperConfig>;
  opts: CopyOptions;
  root: string;
  exclude: RegExp | undefined;
  src: Endpoint;
  dst: Endpoint;
  /** Who the destination session is, for deciding when a restrictive ACL may be set. */
  identities: string[];
  stop: AbortController;
}

/** One copy: its counters, checkpoint and failures. */
class TreeCopy {
  private readonly counts: CopyCounts;
  private readonly completed: CompletedSubtrees;
  private readonly failures: NodeFailure[] = [];
  private readonly key: string;
  private fatal: ApplicationFailure | undefined;
  private readonly resumedFrom: number;

  constructor(private readonly d: TreeCopyDeps) {
    const { config } = d.run;
    this.key = checkpointKey({
      source: d.src.id,
      destination: d.dst.id,
      rootPath: d.root,
      excludePathRegexp: config.excludePathRegexp,
      ignoreEphemeral: config.ignoreEphemeral,
    });
    const resumed = parseCheckpoint(d.run.checkpoint, this.key);
    // Failed nodes are not recorded as complete, so they are redone (and counted) afresh.
    this.counts = resumed ? { ...resumed.counts, failed: 0 } : zeroCounts();
    this.completed = new CompletedSubtrees(resumed?.completed ?? [], d.opts.checkpointCap);
    this.resumedFrom = resumed?.completed.length ?? 0;
  }

  private checkpoint(): CopyCheckpoint {
    return { v: 1, key: this.key, completed: this.completed.list(), counts: { ...this.counts } };
  }

  private report(): void {
    this.d.run.progress({ ...this.counts });
  }

  async run(): Promise<PluginOutcome> {
    const { run, opts, root, src, dst } = this.d;
    if (this.resumedFrom > 0)
      run.log.info({ subtrees: this.resumedFrom }, 'resuming the copy from the checkpoint');
    const beat = setInterval(() => run.heartbeat(this.checkpoint()), opts.heartbeatEveryMs);
    const progress = setInterval(() => this.report(), opts.progressEveryMs);
    try {
      await this.checkSource();
      const destRoot = await this.prepareDestination();
      await this.copyNode(root, destRoot);
    } catch (err) {
      if (run.signal.aborted) {
        await this.drain();
        run.heartbeat(this.checkpoint());
        this.report();
        throw new CancelledFailure(
          `cancelled while copying ${root} from Database ${src.id} to ${dst.id}: ${describeCounts(this.counts)}`,
        );
      }
      if (this.fatal) {
        await this.drain();
        throw this.fatal;
      }
      throw err;
    } finally {
      clearInterval(beat);
      clearInterval(progress);
    }
    run.heartbeat(this.checkpoint());
    this.report();
    const progressOut = { ...this.counts };
    if (this.counts.failed > 0) {
      throw ApplicationFailure.nonRetryable(
        `${failureSummary(this.counts.failed, this.failures, opts.failuresShown)} (copying ${root} from Database ${src.id} to ${dst.id}: ${describeCounts(this.counts)})`,
        FailureType.ZnodeCopyFailed,
        progressOut,
      );
    }
    return {
      message: `copied ${root} from Database ${src.id} to ${dst.id}: ${describeCounts(this.counts)}`,
      progress: progressOut,
    };
  }

  /** Waits (briefly) for requests in flight to answer before the sessions close. */
  private async drain(): Promise<void> {
    await Promise.all([this.d.src.session.drain(), this.d.dst.session.drain()]);
  }

  /** The root path must exist on the source and be readable with the Database's credentials. */
  private async checkSource(): Promise<void> {
    const { root, src } = this.d;
    try {
      await src.session.get(root);
    } catch (err) {
      throw this.rootFailure(err, src, 'read');
    }
  }

  /**
   * Whether the root exists on the destination; with createRootPath its missing ancestors are
   * created (the root itself is created by the copy).
   */
  private async prepareDestination(): Promise<DestState> {
    const { root, dst, run } = this.d;
    let exists: ZkStat | undefined;
    try {
      exists = await dst.session.exists(root);
    } catch (err) {
      throw this.rootFailure(err, dst, 'read');
    }
    if (exists) return 'present';
    if (!run.config.createRootPath)
      throw ApplicationFailure.nonRetryable(
        `spec.config.rootPath: ${root} does not exist on the destination Database ${dst.id}; create it or set spec.config.createRootPath: true`,
        FailureType.RootPathNotFound,
      );
    for (const path of ancestors(root)) {
      try {
        await dst.session.create(path, Buffer.alloc(0));
        run.log.info({ path }, 'created an ancestor of the root path on the destination');
      } catch (err) {
        if (err instanceof ZkError && err.rc === Rc.NODEEXISTS) continue;
        throw this.rootFailure(err, dst, 'create');
      }
    }
    return 'absent';
  }

  private rootFailure(err: unknown, end: Endpoint, verb: 'read' | 'create'): unknown {
    this.d.stop.signal.throwIfAborted();
    return rootFailure(err, { root: this.d.root, verb, ...end });
  }

  /**
   * Why a request failed, for the node's failure; rethrows when the copy must stop (cancelled,
   * or the session is gone).
   */
  private reason(err: unknown, end: Endpoint, doing: string, bytes?: number): string {
    if (this.d.stop.signal.aborted) throw this.fatal ?? this.d.stop.signal.reason;
    if (!(err instanceof ZkError)) throw err;
    if (FATAL_RCS.has(err.rc)) {
      this.fatal = ApplicationFailure.nonRetryable(
        `spec.config.${end.field}: the session with Database ${end.id} ended (${rcName(err.rc)}) after ${describeCounts(this.counts)}`,
        FailureType.DatabaseUnreachable,
      );
      this.d.stop.abort(this.fatal);
      throw this.fatal;
    }
    return requestFailureReason(err, { doing, bytes, attempts: this.d.opts.attempts, ...end });
  }

  private fail(path: string, reason: string): false {
    this.counts.failed++;
    if (this.failures.length < this.d.opts.failuresShown) this.failures.push({ path, reason });
    this.d.run.log.warn({ path, reason }, 'znode not copied');
    return false;
  }

  /**
   * Copies the node at `path` and its subtree. Returns whether the whole subtree is now equal to
   * the source (then it is recorded as completed).
   */
  private async copyNode(path: string, dest: DestState): Promise<boolean> {
    if (this.completed.has(path)) return true;
    const { src, dst, exclude, run, opts } = this.d;

    // Both sides are read at once: per side the stat and data, then the ACL (see
    // ZkSession.getAcl) and the children, the latter only when there are some.
    const destRead: Promise<NodeRead | undefined> =
      dest === 'present' ? readNode(dst.session, path) : Promise.resolve(undefined);
    destRead.catch(() => undefined); // awaited below, or dropped when the source fails
    let source: NodeRead | undefined;
    try {
      source = await readNode(src.session, path);
      if (!source) throw new ZkError(Rc.NONODE, 'get', path);
    } catch (err) {
      await destRead.catch(() => undefined);
      if (err instanceof ZkError && err.rc === Rc.NONODE && !this.d.stop.signal.aborted) {
        // Deleted at the source while we walked: the destination follows.
        return dest === 'absent' ? true : this.deleteSubtree(path);
      }
      return this.fail(path, this.reason(err, src, 'reading it'));
    }
    const { stat, data, acl, names } = source;
    this.counts.read++;
    if (isEphemeral(stat) && run.config.ignoreEphemeral) {
      await destRead.catch(() => undefined);
      return dest === 'absent' ? true : this.deleteSubtree(path);
    }
    const kids = names.filter((n) => !isExcluded(childPath(path, n), exclude));

    // Destination: create it, or compare and write what differs.
    let target: NodeRead | undefined;
    try {
      target = await destRead;
    } catch (err) {
      return this.fail(path, this.reason(err, dst, 'reading it'));
    }
    let wrote = false;
    if (!target) {
      const plan = writePlan(path, data.length, opts.maxRequestBytes);
      if (plan === 'too-big') return this.tooBig(path, data.length);
      try {
        await dst.session.create(path, plan === 'create' ? data : Buffer.alloc(0));
        if (plan === 'create-then-set') await dst.session.set(path, data);
        wrote = true;
        this.counts.bytes += data.length;
      } catch (err) {
        if (!(err instanceof ZkError && err.rc === Rc.NODEEXISTS))
          return this.fail(path, this.reason(err, dst, 'creating it', data.length));
        // Created meanwhile (or by a create whose answer was lost): compare it instead.
        this.counts.read--;
        return this.copyNode(path, 'present');
      }
    } else if (!target.data.equals(data)) {
      if (setRequestBytes(path, data.length) > opts.maxRequestBytes) return this.tooBig(path, data.length);
      try {
        await dst.session.set(path, data);
        wrote = true;
        this.counts.bytes += data.length;
      } catch (err) {
        return this.fail(path, this.reason(err, dst, 'writing its data', data.length));
      }
    }

    // Children at the destination: none when we just created it.
    const destNames = target?.names ?? [];
    const sourceNames = new Set(names);
    const stale = destNames.filter((n) => !sourceNames.has(n) && !isExcluded(childPath(path, n), exclude));
    const destHas = new Set(destNames);

    // The ACL: now, unless it would lock us out of the children we still have to write.
    const aclDiffers = target ? !aclEqual(acl, target.acl) : !isOpenAcl(acl);
    const childWork = kids.length > 0 || stale.length > 0;
    const deferAcl =
      aclDiffers &&
      childWork &&
      !grants(acl, this.d.identities, Perm.READ | Perm.CREATE | Perm.DELETE | Perm.WRITE);
    if (aclDiffers && !deferAcl) {
      if (!(await this.setAcl(path, acl))) return false;
      wrote = true;
    }
    if (!deferAcl) this.countNode(wrote);

    // Subtree: deletes of what the source no longer has, and the children, all pipelined.
    const results = await Promise.all([
      ...stale.map((n) => this.deleteSubtree(childPath(path, n))),
      ...kids.map((n) => this.copyNode(childPath(path, n), destHas.has(n) ? 'present' : 'absent')),
    ]);
    let ok = results.every(Boolean);

    const maxSeq = maxSequence(kids);
    if (maxSeq !== undefined) {
      const createdSeq = kids.some((n) => !destHas.has(n) && sequenceNumber(n) !== undefined);
      ok = (await this.bumpSequence(path, maxSeq, createdSeq)) && ok;
    }
    if (deferAcl) {
      if (!(await this.setAcl(path, acl))) return false;
      this.countNode(true);
    }
    if (ok) this.completed.complete(path, names);
    return ok;
  }

  private countNode(wrote: boolean): void {
    if (wrote) this.counts.written++;
    else this.counts.skipped++;
  }

  private tooBig(path: string, bytes: number): false {
    const request = createRequestBytes(path, bytes);
    return this.fail(
      path,
      `${bytes} bytes of data: larger than the destination Database ${this.d.dst.id} accepts (a ${request}-byte write request; its jute.maxbuffer is ${this.d.opts.maxRequestBytes} bytes)`,
    );
  }

  private async setAcl(path: string, acl: AclEntry[]): Promise<boolean> {
    try {
      await this.d.dst.session.setAcl(path, acl);
      return true;
    } catch (err) {
      return this.fail(path, this.reason(err, this.d.dst, 'setting its ACL'));
    }
  }

  /**
   * Makes the next sequential child of `path` on the destination get a number above `maxSeq`
   * (see {@link raiseSequenceCounter}). The probe is skipped when nothing can have lowered the
   * counter below the copied children: no sequential child was created by this attempt, the
   * attempt is not a resumed one, and the cversion is above `maxSeq`.
   */
  private async bumpSequence(path: string, maxSeq: number, created: boolean): Promise<boolean> {
    const { dst, run, opts } = this.d;
    try {
      const stat = await dst.session.exists(path);
      if (!stat) return this.fail(path, 'deleted on the destination while its sequence counter was set');
      if (!created && this.resumedFrom === 0 && stat.cversion > maxSeq) return true;
      const raised = await raiseSequenceCounter(dst.session, path, maxSeq, { ...opts, log: run.log });
      return raised === 'did-not-rise'
        ? this.fail(path, 'its sequence counter did not rise (is another client deleting children?)')
        : true;
    } catch (err) {
      return this.fail(path, this.reason(err, dst, 'raising its sequence counter'));
    }
  }

  /**
   * Deletes `path` and its subtree on the destination, children first; excluded paths inside it
   * are kept (and so is every ancestor of one, which cannot be deleted while it has children).
   */
  private async deleteSubtree(path: string): Promise<boolean> {
    const { dst, exclude, run } = this.d;
    try {
      const stat = await dst.session.exists(path);
      if (!stat) return true;
      let kept = false;
      if (stat.numChildren > 0) {
        const names = await dst.session.children(path);
        const inner = names.filter((n) => !isExcluded(childPath(path, n), exclude));
        kept = inner.length < names.length;
        const results = await Promise.all(inner.map((n) => this.deleteSubtree(childPath(path, n))));
        if (!results.every(Boolean)) return false;
      }
      if (kept) {
        run.log.info({ path }, 'kept on the destination: it holds excluded paths');
        return true;
      }
      await dst.session.delete(path);
      this.counts.deleted++;
      run.log.debug({ path }, 'deleted on the destination: the source no longer has it');
      return true;
    } catch (err) {
      if (err instanceof ZkError && err.rc === Rc.NOTEMPTY && !this.d.stop.signal.aborted) {
        // A child appeared meanwhile: one more pass.
        await abortableSleep(100, this.d.stop.signal);
        return this.deleteSubtree(path);
      }
      return this.fail(path, this.reason(err, dst, 'deleting it'));
    }
  }
}
