/**
 * The pure logic of the ZooKeeper copy: which paths are copied, sequence numbers of sequential
 * children, ACL comparison, the size of a write request, the checkpoint of completed subtrees and
 * the failure summary. No I/O; unit-tested in test/unit/zookeeper-copy.test.ts.
 */

/** An ACL entry as the `zookeeper` package returns it from get_acl. */
export interface AclEntry {
  perms: number;
  scheme: string;
  auth: string;
}

/** ZooKeeper's permission bits. */
export const Perm = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

/** ZooKeeper's own subtree: never copied, never deleted. */
export const ZOOKEEPER_SUBTREE = '/zookeeper';

/** The server's default `jute.maxbuffer`: the largest request (and so znode) it accepts. */
export const DEFAULT_MAX_REQUEST_BYTES = 0xfffff;

/** The path of child `name` of `parent`. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Whether `path` is `root` or below it. */
export function isUnder(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`);
}

/** The proper ancestors of `path`, outermost first, without `/` (`/a/b/c` → `/a`, `/a/b`). */
export function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/**
 * Whether `path` (and so its subtree) is left out of the copy: `/zookeeper` and its subtree
 * always, and any path `exclude` matches (tested against the full path).
 */
export function isExcluded(path: string, exclude: RegExp | undefined): boolean {
  if (isUnder(path, ZOOKEEPER_SUBTREE)) return true;
  if (!exclude) return false;
  exclude.lastIndex = 0; // a /g or /y expression is stateful; every test starts afresh
  return exclude.test(path);
}

/**
 * The sequence number of a sequential child (a name ending in 10 digits, as ZooKeeper formats
 * the parent's cversion), or undefined for any other name.
 */
export function sequenceNumber(name: string): number | undefined {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The highest sequence number among `names`, or undefined when none is sequential. */
export function maxSequence(names: Iterable<string>): number | undefined {
  let max: number | undefined;
  for (const name of names) {
    const n = sequenceNumber(name);
    if (n !== undefined && (max === undefined || n > max)) max = n;
  }
  return max;
}

/**
 * How many throw-away sequential children must still be created under a parent whose next
 * sequential child would get number `next`, so that a client's next one gets a number above
 * `maxSeq`: each create raises the parent's counter by one.
 */
export function throwAwayNeeded(next: number, maxSeq: number): number {
  return Math.max(0, maxSeq + 1 - next);
}

const aclKey = (e: AclEntry) => `${e.scheme}\u0000${e.auth}\u0000${e.perms}`;

/** Whether two ACLs grant the same permissions to the same identities (order does not matter). */
export function aclEqual(a: readonly AclEntry[], b: readonly AclEntry[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(aclKey).sort();
  const right = b.map(aclKey).sort();
  return left.every((k, i) => k === right[i]);
}

/** The ACL a native create gives every node: world:anyone with all permissions. */
export const OPEN_ACL: readonly AclEntry[] = [{ perms: Perm.ALL, scheme: 'world', auth: 'anyone' }];

/** Whether `acl` is exactly the open ACL (so a create already gave it). */
export function isOpenAcl(acl: readonly AclEntry[]): boolean {
  return aclEqual(acl, OPEN_ACL);
}

/**
 * Whether `acl` grants every bit of `perms` to one of `identities` (`scheme:id`, e.g.
 * `world:anyone`, `digest:admin:<hash>`). Permissions of different entries add up.
 */
export function grants(acl: readonly AclEntry[], identities: readonly string[], perms: number): boolean {
  let granted = 0;
  for (const e of acl) if (identities.includes(`${e.scheme}:${e.auth}`)) granted |= e.perms;
  return (granted & perms) === perms;
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
const aclBytes = (acl: readonly AclEntry[]) =>
  4 + acl.reduce((n, e) => n + 4 + 4 + utf8(e.scheme) + 4 + utf8(e.auth), 0);

/**
 * The size of a create request as the server counts it against jute.maxbuffer: length prefix,
 * header (xid, type), path, data, ACL (the open one: native create always sends it) and flags.
 */
export function createRequestBytes(path: string, dataBytes: number): number {
  return 4 + 8 + 4 + utf8(path) + 4 + dataBytes + aclBytes(OPEN_ACL) + 4;
}

/** The size of a set (data) request: length prefix, header, path, data and version. */
export function setRequestBytes(path: string, dataBytes: number): number {
  return 4 + 8 + 4 + utf8(path) + 4 + dataBytes + 4;
}

/** How a node's data is written to the destination, given the largest request it accepts. */
export type WritePlan = 'create' | 'create-then-set' | 'too-big';

/**
 * Chooses how to write data of `dataBytes` to `path`: in the create when the request fits,
 * else an empty create and a set (a set request is 27 bytes smaller), else it cannot be written.
 */
export function writePlan(path: string, dataBytes: number, maxRequestBytes: number): WritePlan {
  if (createRequestBytes(path, dataBytes) <= maxRequestBytes) return 'create';
  if (setRequestBytes(path, dataBytes) <= maxRequestBytes) return 'create-then-set';
  return 'too-big';
}

/** Counters of a copy, reported through `run.progress` and in the outcome. */
export interface CopyCounts {
  /** Source znodes read. */
  read: number;
  /** Destination znodes created or changed (data or ACL). */
  written: number;
  /** Destination znodes already equal to the source (no write). */
  skipped: number;
  /** Destination znodes deleted because the source no longer has them. */
  deleted: number;
  /** Znodes that could not be copied (or deleted). */
  failed: number;
  /** Data bytes written to the destination. */
  bytes: number;
}

/** All counters at zero. */
export function zeroCounts(): CopyCounts {
  return { read: 0, written: 0, skipped: 0, deleted: 0, failed: 0, bytes: 0 };
}

/** What a heartbeat carries, so that a retried attempt resumes. */
export interface CopyCheckpoint {
  v: 1;
  /** Which copy this is (source, destination, root, exclusions): a checkpoint of another is ignored. */
  key: string;
  /** Roots of completed subtrees. */
  completed: string[];
  counts: CopyCounts;
}

/** The key of a copy: a checkpoint is only reused by the same copy. */
export function checkpointKey(parts: {
  source: string;
  destination: string;
  rootPath: string;
  excludePathRegexp?: string;
  ignoreEphemeral?: boolean;
}): string {
  return JSON.stringify([
    parts.source,
    parts.destination,
    parts.rootPath,
    parts.excludePathRegexp ?? '',
    Boolean(parts.ignoreEphemeral),
  ]);
}

/** The checkpoint in `details` when it belongs to the copy `key`, else undefined. */
export function parseCheckpoint(details: unknown, key: string): CopyCheckpoint | undefined {
  const c = details as Partial<CopyCheckpoint> | undefined;
  if (!c || typeof c !== 'object' || c.v !== 1 || c.key !== key) return undefined;
  if (!Array.isArray(c.completed) || !c.completed.every((p) => typeof p === 'string')) return undefined;
  const counts = zeroCounts();
  for (const k of Object.keys(counts) as (keyof CopyCounts)[]) {
    const n = (c.counts as Record<string, unknown> | undefined)?.[k];
    if (typeof n === 'number' && Number.isFinite(n)) counts[k] = n;
  }
  return { v: 1, key, completed: c.completed, counts };
}

/**
 * The completed subtrees of a copy, bounded: a child's entry is folded into its parent's when the
 * parent completes, and nothing more is recorded once `cap` entries are held (what is not recorded
 * is redone after a crash, which is safe: the copy is idempotent).
 */
export class CompletedSubtrees {
  private readonly paths: Set<string>;

  constructor(
    initial: Iterable<string> = [],
    private readonly cap = 1000,
  ) {
    this.paths = new Set(initial);
  }

  /** Whether `path` is the root of a recorded subtree. */
  has(path: string): boolean {
    return this.paths.has(path);
  }

  /** How many subtrees are recorded. */
  get size(): number {
    return this.paths.size;
  }

  /**
   * Records that the subtree at `path` is complete; the entries of its `children` (names) are
   * folded into it. Returns whether it was recorded (false once the cap is reached).
   */
  complete(path: string, children: Iterable<string> = []): boolean {
    for (const name of children) this.paths.delete(childPath(path, name));
    if (this.paths.size >= this.cap) return false;
    this.paths.add(path);
    return true;
  }

  /** The recorded roots, for the checkpoint. */
  list(): string[] {
    return [...this.paths];
  }
}

/** One node that could not be copied. */
export interface NodeFailure {
  path: string;
  reason: string;
}

/** The message of a run that ended with failed nodes: how many, and the first few (`verb`: copied, backed up, restored). */
export function failureSummary(
  failed: number,
  first: readonly NodeFailure[],
  shown = 5,
  verb = 'copied',
): string {
  const list = first
    .slice(0, shown)
    .map((f) => `${f.path} (${f.reason})`)
    .join('; ');
  const more =
    failed > Math.min(shown, first.length) ? `; and ${failed - Math.min(shown, first.length)} more` : '';
  return `${failed} znode${failed === 1 ? '' : 's'} could not be ${verb}: ${list}${more}`;
}

/** A one-line summary of counters, for messages. */
export function describeCounts(c: CopyCounts): string {
  return `read ${c.read}, written ${c.written}, skipped ${c.skipped}, deleted ${c.deleted}, failed ${c.failed}, ${c.bytes} bytes`;
}
