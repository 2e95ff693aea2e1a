/**
 * The chunk format of a ZooKeeper backup, pure: one JSON line per znode, parents before children,
 * in files `znodes/000001.ndjson`, … (layout.ts). The backup writes lines with
 * {@link znodeLine} and groups them with {@link ChunkBuffer}; the restore reads them back with
 * {@link parseChunk} and maps paths with {@link restorePath}. See docs/backup-zookeeper.md.
 */
import { isUnder, sequenceNumber, type AclEntry } from '../zookeeper-to-zookeeper-nodes/logic.js';

/** The node types a backup counts znodes under, in the manifest's `counts`. */
export type ZnodeType = 'persistent' | 'ephemeral';

/** One znode of a backup, as one line of a chunk. */
export interface ZnodeLine {
  /** The znode's path on the source. */
  path: string;
  /** Its data, base64 (binary safe; `''` for none). */
  data: string;
  /** Its ACL as get_acl returned it (digest ids as they are). */
  acl: AclEntry[];
  /** Whether it was ephemeral on the source (a restore makes it persistent). */
  ephemeral: boolean;
  /** The source's child counter: the number ZooKeeper gives the next sequential child. */
  cversion: number;
  /** The highest sequence number among the backed-up children, when some names are sequential. */
  maxChildSequence?: number;
  /** Creation and last modification time on the source (information only: not restorable). */
  ctime?: string;
  mtime?: string;
}

/** What the backup read of a znode, for {@link znodeLine}. */
export interface ZnodeRead {
  path: string;
  data: Buffer;
  acl: AclEntry[];
  ephemeral: boolean;
  cversion: number;
  /** Names of the children that are backed up (exclusions applied). */
  children: readonly string[];
  ctime?: Date;
  mtime?: Date;
}

const iso = (d: Date | undefined): string | undefined =>
  d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;

/** The line of one znode (no trailing newline). Deterministic: an unchanged znode gives the same line. */
export function znodeLine(node: ZnodeRead): string {
  let maxChildSequence: number | undefined;
  for (const name of node.children) {
    const n = sequenceNumber(name);
    if (n !== undefined && (maxChildSequence === undefined || n > maxChildSequence)) maxChildSequence = n;
  }
  const line: ZnodeLine = {
    path: node.path,
    data: node.data.toString('base64'),
    acl: node.acl.map((e) => ({ perms: e.perms, scheme: e.scheme, auth: e.auth })),
    ephemeral: node.ephemeral,
    cversion: node.cversion,
    ...(maxChildSequence !== undefined && { maxChildSequence }),
    ...(iso(node.ctime) && { ctime: iso(node.ctime) }),
    ...(iso(node.mtime) && { mtime: iso(node.mtime) }),
  };
  return JSON.stringify(line);
}

/** A line of a chunk that could not be read, by its number (1-based). */
export interface LineProblem {
  line: number;
  /** The znode's path when the line had one. */
  path?: string;
  problem: string;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Checks one parsed line; the problem, or undefined when it is a usable znode. */
function lineProblem(doc: Partial<ZnodeLine>): string | undefined {
  if (typeof doc.path !== 'string' || !doc.path.startsWith('/'))
    return 'path: must be a string starting with /';
  if (typeof doc.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc.data)) return 'data: must be base64';
  if (
    !Array.isArray(doc.acl) ||
    !doc.acl.every((e) => isInt(e?.perms) && typeof e?.scheme === 'string' && typeof e?.auth === 'string')
  )
    return 'acl: must be a list of {perms, scheme, auth}';
  if (typeof doc.ephemeral !== 'boolean') return 'ephemeral: must be true or false';
  if (!isInt(doc.cversion)) return 'cversion: must be an integer';
  if (doc.maxChildSequence !== undefined && !isInt(doc.maxChildSequence))
    return 'maxChildSequence: must be an integer';
  return undefined;
}

/** The znodes of a chunk, in order, and the lines that are not znodes. */
export function parseChunk(body: Buffer | string): { nodes: ZnodeLine[]; problems: LineProblem[] } {
  const nodes: ZnodeLine[] = [];
  const problems: LineProblem[] = [];
  const lines = body.toString().split('\n');
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    let doc: Partial<ZnodeLine>;
    try {
      doc = JSON.parse(text) as Partial<ZnodeLine>;
    } catch (err) {
      problems.push({ line: i + 1, problem: `not JSON (${(err as Error).message})` });
      return;
    }
    const problem = doc && typeof doc === 'object' ? lineProblem(doc) : 'not a JSON object';
    if (problem)
      problems.push({ line: i + 1, ...(typeof doc?.path === 'string' && { path: doc.path }), problem });
    else nodes.push(doc as ZnodeLine);
  });
  return { nodes, problems };
}

/** Limits of one chunk. */
export interface ChunkLimits {
  /** Znodes per chunk at most. */
  maxItems: number;
  /** Bytes per chunk: a chunk is closed once it reaches this size (one znode may pass it). */
  maxBytes: number;
}

/** The default limits: 1,000 znodes or 4 MiB, whichever comes first. */
export const CHUNK_LIMITS: ChunkLimits = { maxItems: 1000, maxBytes: 4 * 1024 * 1024 };

/** Lines waiting to be written as one chunk. */
export class ChunkBuffer {
  private lines: string[] = [];
  private size = 0;

  constructor(private readonly limits: ChunkLimits = CHUNK_LIMITS) {}

  /** Adds a line; returns whether the chunk is now full (take it). */
  add(line: string): boolean {
    this.lines.push(line);
    this.size += Buffer.byteLength(line) + 1;
    return this.lines.length >= this.limits.maxItems || this.size >= this.limits.maxBytes;
  }

  /** Znodes waiting. */
  get items(): number {
    return this.lines.length;
  }

  /** The chunk's body (newline-terminated lines) and its znodes; empties the buffer. */
  take(): { body: string; items: number } {
    const out = { body: this.lines.map((l) => `${l}\n`).join(''), items: this.lines.length };
    this.lines = [];
    this.size = 0;
    return out;
  }
}

/**
 * Where a backed-up znode is restored: its path with the backup's root replaced by the restore's
 * (the same when no rootPath is given). Undefined when `path` is not under the backup's root
 * (a line the backup could not have written).
 */
export function restorePath(
  path: string,
  backupRoot: string,
  restoreRoot: string | undefined,
): string | undefined {
  if (!isUnder(path, backupRoot)) return undefined;
  if (restoreRoot === undefined || restoreRoot === backupRoot) return path;
  const rest = backupRoot === '/' ? path : path.slice(backupRoot.length);
  if (restoreRoot === '/') return rest === '' ? '/' : rest;
  return rest === '/' ? restoreRoot : `${restoreRoot}${rest}`;
}

/**
 * The sequence number a restored parent's counter must pass, so that a new sequential child gets
 * a number above every restored one and every one the source had given (its cversion is the
 * next number the source would have given). Undefined when the parent has no sequential child.
 */
export function sequenceTarget(node: Pick<ZnodeLine, 'maxChildSequence' | 'cversion'>): number | undefined {
  if (node.maxChildSequence === undefined) return undefined;
  return Math.max(node.maxChildSequence, node.cversion - 1);
}

/** The parent of a path (`/a/b` → `/a`, `/a` → `/`); undefined for `/`. */
export function parentPath(path: string): string | undefined {
  if (path === '/') return undefined;
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The depth of a path: `/` is 0, `/a` 1, `/a/b` 2. */
export function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

/**
 * Splits znodes (parents before children, as a chunk holds them) into runs of the same depth:
 * the znodes of one run can be created at once, each run after the one before it.
 */
export function depthRuns<T extends { path: string }>(nodes: readonly T[]): T[][] {
  const runs: T[][] = [];
  let last = -1;
  for (const n of nodes) {
    const d = depth(n.path);
    if (d !== last || runs.length === 0) runs.push([]);
    runs[runs.length - 1].push(n);
    last = d;
  }
  return runs;
}
