/**
 * The walk of `zookeeper-nodes-to-bucket`: reads the tree under rootPath from a Database with
 * pipelined requests, breadth first (so parents come before children), and writes it as chunks of
 * JSON lines (format.ts) through the shared backup run (backup-common.ts: manifest, checksums,
 * resume, Partial on failure). See docs/backup-zookeeper.md.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import { znodeChunkPath } from '../../bucket/layout.js';
import type { BackupWriter } from '../../bucket/backup-store.js';
import { runBackup } from '../backup-common.js';
import type { PluginOutcome, PluginRun } from '../types.js';
import {
  COPY_DEFAULTS,
  FATAL_RCS,
  openRunSession,
  readNode,
  requestFailureReason,
  rootFailure,
  treeSelection,
  type NodeRead,
} from '../zookeeper-to-zookeeper-nodes/engine.js';
import {
  childPath,
  failureSummary,
  isExcluded,
  type NodeFailure,
} from '../zookeeper-to-zookeeper-nodes/logic.js';
import { isEphemeral, Rc, rcName, ZkError, type ZkSession } from '../zookeeper-to-zookeeper-nodes/session.js';
import { ChunkBuffer, CHUNK_LIMITS, znodeLine, type ChunkLimits, type ZnodeType } from './format.js';
import type { ZookeeperBackupConfig } from './index.js';

/** The plugin's name, as manifests record it. */
export const BACKUP_PLUGIN = 'zookeeper-nodes-to-bucket';

/** Tunables of the backup, set in code (tests change them). */
export interface BackupOptions {
  /** Requests in flight on the session. */
  maxInFlight: number;
  /** Znodes being read at once (each is two or three requests). */
  window: number;
  /** Limits of one chunk. */
  chunk: ChunkLimits;
  connectTimeoutMs: number;
  attempts: number;
  retryDelayMs: number;
  /** Unreadable znodes named in the failure at most. */
  failuresShown: number;
}

/** The defaults of {@link BackupOptions}. */
export const BACKUP_DEFAULTS: BackupOptions = {
  maxInFlight: COPY_DEFAULTS.maxInFlight,
  window: 256,
  chunk: CHUNK_LIMITS,
  connectTimeoutMs: COPY_DEFAULTS.connectTimeoutMs,
  attempts: COPY_DEFAULTS.attempts,
  retryDelayMs: COPY_DEFAULTS.retryDelayMs,
  failuresShown: COPY_DEFAULTS.failuresShown,
};

const FIELD = 'source.database.name';

/**
 * Backs up the tree under `config.rootPath` of the source Database to the destination Bucket.
 * Throws a nonRetryable ApplicationFailure naming the field: AssetNotReady, RootPathNotFound,
 * DatabaseUnreachable / DatabaseAuthFailed, BucketWriteFailed, or ZnodeCopyFailed when some
 * znodes could not be read (the run is then Partial: a restore refuses it).
 */
export async function backupZooKeeperTree(
  run: PluginRun<ZookeeperBackupConfig>,
  options: Partial<BackupOptions> = {},
): Promise<PluginOutcome> {
  const opts = { ...BACKUP_DEFAULTS, ...options };
  const { config } = run;
  const { root, exclude } = treeSelection(config, 'backed up');
  const name = config.source.database.name;
  const { session, stop, id, close } = await openRunSession(run, name, FIELD, opts);
  try {
    try {
      await session.get(root);
    } catch (err) {
      stop.signal.throwIfAborted();
      throw rootFailure(err, { root, side: 'source', field: FIELD, id, verb: 'read' });
    }
    const walk = new TreeWalk({ run, opts, root, exclude, session, id, stop });
    return await runBackup(run, {
      plugin: BACKUP_PLUGIN,
      destination: config.destination,
      source: { kind: 'Database', name, rootPath: root },
      body: (writer) => walk.run(writer),
      describe: (m) => {
        const p = m.counts.persistent?.items ?? 0;
        const e = m.counts.ephemeral?.items ?? 0;
        return `backed up ${root} of Database ${id}: ${p} persistent and ${e} ephemeral znodes, ${m.totals.bytes} bytes in ${m.entries.length} chunks`;
      },
    });
  } finally {
    await close();
  }
}

interface WalkDeps {
  run: PluginRun<ZookeeperBackupConfig>;
  opts: BackupOptions;
  root: string;
  exclude: RegExp | undefined;
  session: ZkSession;
  /** `namespace/name` of the Database. */
  id: string;
  stop: AbortController;
}

/** One znode's read: what was read, or why not. */
type Visit = { path: string; node?: NodeRead; error?: unknown };

/** One walk of the tree, writing chunks as they fill. */
class TreeWalk {
  private readonly buffers: Record<ZnodeType, ChunkBuffer>;
  private chunk = 0;
  private znodes = 0;
  private readonly failures: NodeFailure[] = [];
  private failed = 0;

  constructor(private readonly d: WalkDeps) {
    this.buffers = { persistent: new ChunkBuffer(d.opts.chunk), ephemeral: new ChunkBuffer(d.opts.chunk) };
  }

  /**
   * Reads the tree breadth first, `window` znodes at a time, and hands the lines out in the order
   * of the queue: a znode's line always follows its parent's. Children are sorted by name, so an
   * unchanged tree gives the same chunks (a resumed run skips the ones already in the bucket).
   */
  async run(writer: BackupWriter): Promise<void> {
    const { opts, root, exclude, session, stop } = this.d;
    let queue: string[] = [root];
    let head = 0;
    const pending: Promise<Visit>[] = [];
    const visit = (path: string): Promise<Visit> =>
      readNode(session, path).then(
        (node) => ({ path, node }),
        (error: unknown) => ({ path, error }),
      );
    try {
      for (;;) {
        while (pending.length < opts.window && head < queue.length) pending.push(visit(queue[head++]));
        const next = pending.shift();
        if (!next) break;
        const { path, node, error } = await next;
        stop.signal.throwIfAborted();
        if (error !== undefined) {
          this.failure(path, error);
          continue;
        }
        if (!node) continue; // deleted while we walked
        const kids = node.names.filter((n) => !isExcluded(childPath(path, n), exclude)).sort();
        for (const n of kids) queue.push(childPath(path, n));
        if (head > 65_536) [queue, head] = [queue.slice(head), 0];
        const type: ZnodeType = isEphemeral(node.stat) ? 'ephemeral' : 'persistent';
        const line = znodeLine({
          path,
          data: node.data,
          acl: node.acl,
          ephemeral: type === 'ephemeral',
          cversion: node.stat.cversion,
          children: kids,
          ctime: node.stat.ctime,
          mtime: node.stat.mtime,
        });
        this.znodes++;
        if (this.buffers[type].add(line)) await this.flush(writer, type);
      }
      await this.flush(writer, 'persistent');
      await this.flush(writer, 'ephemeral');
    } finally {
      // Requests in flight answer (or are rejected by the stop switch) before the session closes.
      await Promise.all(pending);
    }
    if (this.failed > 0)
      throw ApplicationFailure.nonRetryable(
        `${failureSummary(this.failed, this.failures, opts.failuresShown, 'backed up')} (Database ${this.d.id})`,
        FailureType.ZnodeCopyFailed,
      );
  }

  /**
   * Writes the waiting lines of `type` as the next chunk. Before an ephemeral chunk the waiting
   * persistent lines are written: they hold its parents.
   */
  private async flush(writer: BackupWriter, type: ZnodeType): Promise<void> {
    if (type === 'ephemeral' && this.buffers.persistent.items > 0) await this.flush(writer, 'persistent');
    const buffer = this.buffers[type];
    if (buffer.items === 0) return;
    const { body, items } = buffer.take();
    this.chunk++;
    await writer.put(znodeChunkPath(this.chunk), body, type, items);
    this.d.run.progress({
      znodes: this.znodes,
      chunks: this.chunk,
      bytes: writer.totals.bytes,
      failed: this.failed,
    });
  }

  /** Records a znode that could not be read; stops the walk when the session is gone. */
  private failure(path: string, err: unknown): void {
    const { id, run } = this.d;
    if (!(err instanceof ZkError)) throw err;
    if (err.rc === Rc.NONODE) return; // deleted while we walked
    if (FATAL_RCS.has(err.rc)) {
      const fatal = ApplicationFailure.nonRetryable(
        `spec.config.${FIELD}: the session with Database ${id} ended (${rcName(err.rc)}) after ${this.znodes} znodes`,
        FailureType.DatabaseUnreachable,
      );
      this.d.stop.abort(fatal);
      throw fatal;
    }
    const reason = requestFailureReason(err, {
      side: 'source',
      id,
      doing: 'reading it',
      attempts: this.d.opts.attempts,
    });
    this.failed++;
    if (this.failures.length < this.d.opts.failuresShown) this.failures.push({ path, reason });
    run.log.warn({ path, reason }, 'znode not backed up');
  }
}
