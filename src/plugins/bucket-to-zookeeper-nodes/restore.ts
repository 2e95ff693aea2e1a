/**
 * The restore of `bucket-to-zookeeper-nodes`: opens a Complete `zookeeper-nodes-to-bucket` backup
 * (backup-common.ts), reads its chunks one after another (each checked against the manifest's
 * checksum, the next one fetched while the current one is written), and creates its znodes on a
 * Database, parents first, pipelined: data, ACL (a restrictive one last, so it cannot lock the
 * restore out), and raised sequence counters. A chunk that cannot be read fails its znodes and the
 * restore goes on with the others. See docs/backup-zookeeper.md.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import { BackupReadError, type BackupReader } from '../../bucket/backup-store.js';
import type { ManifestEntry } from '../../bucket/manifest.js';
import { openRestoreSource } from '../backup-common.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import {
  COPY_DEFAULTS,
  digestId,
  FATAL_RCS,
  openRunSession,
  raiseSequenceCounter,
  requestFailureReason,
  rootFailure,
  treeSelection,
} from '../zookeeper-to-zookeeper-nodes/engine.js';
import {
  aclEqual,
  ancestors,
  failureSummary,
  grants,
  isExcluded,
  isOpenAcl,
  Perm,
  writePlan,
  type AclEntry,
  type NodeFailure,
} from '../zookeeper-to-zookeeper-nodes/logic.js';
import { Rc, rcName, ZkError, type ZkSession } from '../zookeeper-to-zookeeper-nodes/session.js';
import { BACKUP_PLUGIN } from '../zookeeper-nodes-to-bucket/backup.js';
import {
  depth,
  depthRuns,
  parseChunk,
  parentPath,
  restorePath,
  sequenceTarget,
  type ZnodeLine,
} from '../zookeeper-nodes-to-bucket/format.js';
import type { ZookeeperRestoreConfig } from './index.js';

/** The plugin's name. */
export const RESTORE_PLUGIN = 'bucket-to-zookeeper-nodes';

/** Tunables of the restore, set in code (tests change them). */
export interface RestoreOptions {
  maxInFlight: number;
  connectTimeoutMs: number;
  attempts: number;
  retryDelayMs: number;
  /** The destination's jute.maxbuffer. */
  maxRequestBytes: number;
  /** See CopyOptions.maxSequenceBump. */
  maxSequenceBump: number;
  /** Failures named in the final message, and in the report. */
  failuresShown: number;
  failuresReported: number;
}

/** The defaults of {@link RestoreOptions}. */
export const RESTORE_DEFAULTS: RestoreOptions = {
  maxInFlight: COPY_DEFAULTS.maxInFlight,
  connectTimeoutMs: COPY_DEFAULTS.connectTimeoutMs,
  attempts: COPY_DEFAULTS.attempts,
  retryDelayMs: COPY_DEFAULTS.retryDelayMs,
  maxRequestBytes: COPY_DEFAULTS.maxRequestBytes,
  maxSequenceBump: COPY_DEFAULTS.maxSequenceBump,
  failuresShown: COPY_DEFAULTS.failuresShown,
  failuresReported: 20,
};

/** Per-znode results of a restore, reported through `run.progress` and in the outcome. */
export interface RestoreCounts {
  /** Znodes created. */
  created: number;
  /** Znodes that existed and were left alone (policy `none`, or already equal). */
  skipped: number;
  /** Znodes that existed and were changed (policy `update`). */
  updated: number;
  /** Znodes that could not be restored (their chunk unreadable, or a refused write). */
  failed: number;
  /** Of the created ones, those that were ephemeral on the source (restored as persistent). */
  ephemeralAsPersistent: number;
  /** Data bytes written. */
  bytes: number;
}

/** What a restore's `status.report` holds. */
export interface RestoreReport {
  /** The backup restored, e.g. `Backup zk-nightly (run 20261127T210000Z)`. */
  backup: string;
  /** Where its tree was restored. */
  rootPath: string;
  counts: RestoreCounts;
  /** Chunks that could not be read, each with why. */
  failedChunks: { path: string; reason: string }[];
  /** The first failed znodes (at most `failuresReported`). */
  failures: NodeFailure[];
}

const FIELD = 'destination.database.name';

/**
 * Restores the backup `config.source` names into the destination Database. Throws a nonRetryable
 * ApplicationFailure naming the field (AssetNotReady, BackupNotFound, BackupIncomplete,
 * BackupCorrupted, DatabaseUnreachable, DatabaseAuthFailed), RestoreIncomplete when some znodes
 * could not be restored (naming the unreadable chunks and the first failed znodes), and a
 * CancelledFailure when `run.signal` aborts.
 */
export async function restoreZooKeeperTree(
  run: PluginRun<ZookeeperRestoreConfig>,
  options: Partial<RestoreOptions> = {},
): Promise<PluginOutcome> {
  const opts = { ...RESTORE_DEFAULTS, ...options };
  const { config } = run;
  const { session, stop, id, db, close } = await openRunSession(
    run,
    config.destination.database.name,
    FIELD,
    opts,
  );
  try {
    const { reader, describe } = await openRestoreSource(run, config.source, {
      backup: BACKUP_PLUGIN,
      restore: RESTORE_PLUGIN,
    });
    const backupRoot = reader.manifest.source.rootPath ?? '/';
    const root = config.rootPath === undefined ? backupRoot : treeSelection(config, 'restored').root;
    const identities = ['world:anyone', `digest:${digestId(db.auth.user, db.auth.password)}`];
    return await new TreeRestore({
      run,
      opts,
      reader,
      describe,
      backupRoot,
      root,
      session,
      id,
      identities,
      stop,
    }).run();
  } finally {
    await close();
  }
}

interface RestoreDeps {
  run: PluginRun<ZookeeperRestoreConfig>;
  opts: RestoreOptions;
  reader: BackupReader;
  describe: string;
  backupRoot: string;
  /** Where the backup's root is restored. */
  root: string;
  session: ZkSession;
  id: string;
  /** Who the session is, for deciding when a restrictive ACL may be set. */
  identities: string[];
  stop: AbortController;
}

/** The permissions the restore needs on a parent to write its children (and raise its counter). */
const WRITER_PERMS = Perm.READ | Perm.WRITE | Perm.CREATE | Perm.DELETE;

type ChunkRead = { entry: ManifestEntry; body?: Buffer; error?: unknown };

/** One restore: its counters and failures. */
class TreeRestore {
  private readonly counts: RestoreCounts = {
    created: 0,
    skipped: 0,
    updated: 0,
    failed: 0,
    ephemeralAsPersistent: 0,
    bytes: 0,
  };
  private readonly failures: NodeFailure[] = [];
  private readonly failedChunks: { path: string; reason: string }[] = [];
  /** Restored paths whose znode failed: their children are not tried. */
  private readonly failedPaths = new Set<string>();
  /** Restrictive ACLs, set once everything else is written. */
  private readonly deferredAcls: { path: string; acl: AclEntry[] }[] = [];
  /** Parents whose sequence counter must pass a number. */
  private readonly sequences: { path: string; target: number; maxChild: number }[] = [];
  private fatal: ApplicationFailure | undefined;

  constructor(private readonly d: RestoreDeps) {}

  private report(): void {
    const { run, describe, root, opts } = this.d;
    run.progress({ ...this.counts });
    run.report({
      backup: describe,
      rootPath: root,
      counts: { ...this.counts },
      failedChunks: [...this.failedChunks],
      failures: this.failures.slice(0, opts.failuresReported),
    } satisfies RestoreReport);
  }

  private where(): string {
    return `${this.d.describe} into ${this.d.root} on Database ${this.d.id}`;
  }

  async run(): Promise<PluginOutcome> {
    const { reader, run } = this.d;
    const entries = reader.manifest.entries
      .filter((e) => e.path.startsWith('znodes/'))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const read = (entry: ManifestEntry): Promise<ChunkRead> =>
      reader.read(entry).then(
        (body) => ({ entry, body }),
        (error: unknown) => ({ entry, error }),
      );
    let next = entries.length > 0 ? read(entries[0]) : undefined;
    try {
      await this.prepareRoot();
      for (let i = 0; next; i++) {
        const chunk = await next;
        next = i + 1 < entries.length ? read(entries[i + 1]) : undefined;
        this.d.stop.signal.throwIfAborted();
        await this.restoreChunk(chunk);
        this.report();
      }
      await Promise.all(this.sequences.map((s) => this.raiseCounter(s)));
      // Deepest first, so a parent's ACL is the last thing set under it.
      const deepestFirst = [...this.deferredAcls].sort((a, b) => depth(b.path) - depth(a.path));
      await Promise.all(deepestFirst.map((a) => this.setAcl(a.path, a.acl)));
    } catch (err) {
      await next?.catch(() => undefined);
      this.report();
      if (run.signal.aborted)
        throw new CancelledFailure(
          `cancelled while restoring ${this.where()}: ${describeRestore(this.counts)}`,
        );
      throw this.fatal ?? err;
    }
    this.report();
    const progress = { ...this.counts };
    if (this.counts.failed > 0) {
      const chunks = this.failedChunks.map((c) => `chunk ${c.path}: ${c.reason}`);
      const nodes = this.failures.length
        ? [failureSummary(this.counts.failed, this.failures, this.d.opts.failuresShown, 'restored')]
        : [`${this.counts.failed} znodes could not be restored`];
      throw ApplicationFailure.nonRetryable(
        `restore incomplete: ${[...chunks, ...nodes].join('; ')} (${this.where()}: ${describeRestore(this.counts)})`,
        FailureType.RestoreIncomplete,
        progress,
      );
    }
    return { message: `restored ${this.where()}: ${describeRestore(this.counts)}`, progress };
  }

  /** Creates the missing ancestors of the root (empty, open ACL): the backup holds the root itself. */
  private async prepareRoot(): Promise<void> {
    const { session, root, id, run } = this.d;
    for (const path of ancestors(root)) {
      try {
        if (await session.exists(path)) continue;
        await session.create(path, Buffer.alloc(0));
        run.log.info({ path }, 'created an ancestor of the root path');
      } catch (err) {
        if (err instanceof ZkError && err.rc === Rc.NODEEXISTS) continue;
        this.d.stop.signal.throwIfAborted();
        throw rootFailure(err, { root, side: 'destination', field: FIELD, id, verb: 'create' });
      }
    }
  }

  /** Restores the znodes of one chunk, depth by depth; an unreadable chunk fails its znodes. */
  private async restoreChunk({ entry, body, error }: ChunkRead): Promise<void> {
    if (error !== undefined) {
      if (!(error instanceof BackupReadError)) throw error;
      this.counts.failed += entry.items;
      this.failedChunks.push({ path: entry.path, reason: error.message });
      this.d.run.log.warn(
        { chunk: entry.path, znodes: entry.items, reason: error.message },
        'chunk not restored',
      );
      return;
    }
    const { nodes, problems } = parseChunk(body!);
    for (const p of problems)
      this.fail(p.path ?? `${entry.path} line ${p.line}`, `chunk ${entry.path} line ${p.line}: ${p.problem}`);
    for (const level of depthRuns(nodes)) await Promise.all(level.map((n) => this.restoreNode(n)));
  }

  private fail(path: string, reason: string): void {
    this.counts.failed++;
    this.failedPaths.add(path);
    if (this.failures.length < Math.max(this.d.opts.failuresReported, this.d.opts.failuresShown))
      this.failures.push({ path, reason });
    this.d.run.log.warn({ path, reason }, 'znode not restored');
  }

  /** Why a request failed, for the znode's failure; rethrows when the restore must stop. */
  private reason(err: unknown, doing: string, bytes?: number): string {
    const { stop, id, opts } = this.d;
    if (stop.signal.aborted) throw this.fatal ?? stop.signal.reason;
    if (!(err instanceof ZkError)) throw err;
    if (FATAL_RCS.has(err.rc)) {
      this.fatal = ApplicationFailure.nonRetryable(
        `spec.config.${FIELD}: the session with Database ${id} ended (${rcName(err.rc)}) after ${describeRestore(this.counts)}`,
        FailureType.DatabaseUnreachable,
      );
      stop.abort(this.fatal);
      throw this.fatal;
    }
    return requestFailureReason(err, { side: 'destination', id, doing, bytes, attempts: opts.attempts });
  }

  /** Restores one znode: creates it, or applies the existingResourcePolicy to the one there. */
  private async restoreNode(line: ZnodeLine): Promise<void> {
    const { backupRoot, root, session, opts } = this.d;
    const path = restorePath(line.path, backupRoot, root);
    if (path === undefined) return this.fail(line.path, `not under the backup's root path ${backupRoot}`);
    if (isExcluded(path, undefined)) return this.fail(path, "ZooKeeper's own subtree is never restored");
    const parent = parentPath(path);
    if (parent !== undefined && this.failedPaths.has(parent))
      return this.fail(path, `its parent ${parent} was not restored`);
    const data = Buffer.from(line.data, 'base64');
    const plan = writePlan(path, data.length, opts.maxRequestBytes);
    if (plan === 'too-big')
      return this.fail(
        path,
        `${data.length} bytes of data: larger than the Database ${this.d.id} accepts (jute.maxbuffer ${opts.maxRequestBytes} bytes)`,
      );
    let exists = path === '/';
    if (!exists) {
      try {
        await session.create(path, plan === 'create' ? data : Buffer.alloc(0));
        if (plan === 'create-then-set') await session.set(path, data);
      } catch (err) {
        if (err instanceof ZkError && err.rc === Rc.NODEEXISTS) exists = true;
        // ZooKeeper checks the parent's ACL before the node's existence: under a parent the
        // restore may not create in, an existing node answers NOAUTH.
        else if (err instanceof ZkError && err.rc === Rc.NOAUTH && (await this.existsQuietly(path)))
          exists = true;
        else if (err instanceof ZkError && err.rc === Rc.NONODE && !this.d.stop.signal.aborted)
          return this.fail(
            path,
            `its parent ${parent} does not exist on the Database (its chunk was not restored?)`,
          );
        else return this.fail(path, this.reason(err, 'creating it', data.length));
      }
    }
    if (exists) {
      if (this.d.run.config.existingResourcePolicy !== 'update') this.counts.skipped++;
      else if (await this.update(path, data, line.acl)) this.counts.updated++;
      else if (!this.failedPaths.has(path)) this.counts.skipped++;
    } else {
      this.counts.created++;
      this.counts.bytes += data.length;
      if (line.ephemeral) this.counts.ephemeralAsPersistent++;
      if (!isOpenAcl(line.acl)) await this.applyAcl(path, line.acl);
    }
    if (this.failedPaths.has(path)) return;
    const target = sequenceTarget(line);
    if (target !== undefined) this.sequences.push({ path, target, maxChild: line.maxChildSequence! });
  }

  /** Whether `path` exists; false when even that cannot be told (the create's failure is reported). */
  private async existsQuietly(path: string): Promise<boolean> {
    return this.d.session.exists(path).then(
      (stat) => stat !== undefined,
      () => false,
    );
  }

  /** Sets a created znode's ACL now, or last when it would lock the restore out of its children. */
  private async applyAcl(path: string, acl: AclEntry[]): Promise<void> {
    if (grants(acl, this.d.identities, WRITER_PERMS)) await this.setAcl(path, acl);
    else this.deferredAcls.push({ path, acl });
  }

  /**
   * Policy `update`: makes an existing znode's data and ACL the backup's. Returns whether it
   * changed anything (false when equal, or when it failed: then it is recorded).
   */
  private async update(path: string, data: Buffer, acl: AclEntry[]): Promise<boolean> {
    const { session } = this.d;
    let current: { data: Buffer; acl: AclEntry[] };
    try {
      const got = await session.get(path);
      // get_acl only after a successful get (see ZkSession.getAcl).
      current = { data: got.data, acl: (await session.getAcl(path)).acl };
    } catch (err) {
      this.fail(path, this.reason(err, 'reading it'));
      return false;
    }
    const dataDiffers = !current.data.equals(data);
    const aclDiffers = !aclEqual(current.acl, acl);
    if (dataDiffers) {
      try {
        await session.set(path, data);
        this.counts.bytes += data.length;
      } catch (err) {
        this.fail(path, this.reason(err, 'writing its data', data.length));
        return false;
      }
    }
    if (aclDiffers) await this.applyAcl(path, acl);
    return dataDiffers || aclDiffers;
  }

  private async setAcl(path: string, acl: AclEntry[]): Promise<void> {
    try {
      await this.d.session.setAcl(path, acl);
    } catch (err) {
      this.fail(path, this.reason(err, 'setting its ACL'));
    }
  }

  /** Raises a restored parent's sequence counter above the backup's children and the source's counter. */
  private async raiseCounter(s: { path: string; target: number; maxChild: number }): Promise<void> {
    const { session, opts, run } = this.d;
    const raise = (n: number) => raiseSequenceCounter(session, s.path, n, { ...opts, log: run.log });
    try {
      let result = await raise(s.target);
      // The source's counter is far above its children (heavy churn): pass the children at least.
      if (result === 'too-many' && s.target > s.maxChild) result = await raise(s.maxChild);
      if (result === 'did-not-rise')
        this.fail(s.path, 'its sequence counter did not rise (is another client deleting children?)');
    } catch (err) {
      this.fail(s.path, this.reason(err, 'raising its sequence counter'));
    }
  }
}

/** A one-line summary of a restore's counters, for messages. */
export function describeRestore(c: RestoreCounts): string {
  return `created ${c.created}, updated ${c.updated}, skipped ${c.skipped} (existing), failed ${c.failed}, ${c.ephemeralAsPersistent} ephemeral restored as persistent, ${c.bytes} bytes`;
}
