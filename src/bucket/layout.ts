/**
 * The bucket key layout, in one pure module (velero's habit): every kind that writes to a bucket
 * takes its keys from here, so two writers can never collide.
 *
 * LiveSynchronization originals (seed):
 * `<livesync-namespace>/<livesync-name>/<group>-<version>-<resource>/<object-namespace>.<object-name>`,
 * e.g. `dr-config/pre/apps-v1-deployments/test-namespace-one.helloworld`.
 *
 * Our spellings where the seed is silent:
 * - the core group is written `core`: `dr-config/pre/core-v1-configmaps/team-a.settings`;
 * - a cluster-scoped object has `_cluster` for its namespace: `dr-config/pre/rbac.authorization.k8s.io-v1-clusterroles/_cluster.admin`.
 *   `_` cannot start a namespace name, and a namespace cannot contain a dot, so every key splits
 *   back unambiguously at its first dot.
 */

/**
 * Other writers use prefixes that start with `_`, which no Kubernetes namespace can (a namespace
 * is a DNS label), so they never collide with a LiveSynchronization's keys:
 * - a Backup: `[<basePath>/]_backups/<backup-namespace>/<backup-name>/<run>/`, holding
 *   `manifest.json` and, for a Kubernetes backup, per object the same
 *   `<group>-<version>-<resource>/<object-namespace>.<object-name>` as a LiveSynchronization, or,
 *   for a ZooKeeper backup, `znodes/<chunk>.ndjson` files;
 * - a pruned object kept before deletion (quarantine):
 *   `_quarantine/<livesync-namespace>/<livesync-name>/<time>/<group>-<version>-<resource>/<object-namespace>.<object-name>`,
 *   `<time>` being the prune's time to the second (`20261128T083500Z`, {@link runName}): the
 *   bucket original when there was one, else the destination copy as read. Kept for the
 *   LiveSynchronization's `replication.quarantine.retention` (default 168h): a folder whose time
 *   is older is deleted at the start of a run. A Synchronization's owner name
 *   (`_synchronization.<name>`) takes the place of `<livesync-name>`.
 */

/** A group/version/resource. `group` is '' for the core group. */
export interface GVR {
  group: string;
  version: string;
  resource: string;
}

/** The folder of one resource type: `<group>-<version>-<resource>`, `core` for the core group. */
export function resourceFolder(gvr: GVR): string {
  return `${gvr.group || 'core'}-${gvr.version}-${gvr.resource}`;
}

/** The key of one object. `namespace` is undefined for a cluster-scoped object. */
export function objectKey(
  liveSync: { namespace: string; name: string },
  gvr: GVR,
  object: { namespace?: string; name: string },
): string {
  return `${liveSyncPrefix(liveSync)}${objectPath(gvr, object)}`;
}

/** `<group>-<version>-<resource>/<object-namespace>.<object-name>`: an object under any prefix. */
export function objectPath(gvr: GVR, object: { namespace?: string; name: string }): string {
  return `${resourceFolder(gvr)}/${object.namespace || '_cluster'}.${object.name}`;
}

/**
 * The prefix of one run of a Backup (`run` names it: its start time, e.g. `20261127T210000Z`),
 * under the Backup's `basePath` when it has one: `<basePath>/_backups/<ns>/<name>/<run>/`.
 * A restart (restartPolicy) is a new run with its own prefix, so no run overwrites another; a
 * retried attempt (the worker was lost) keeps its run.
 */
export function backupPrefix(
  backup: { namespace: string; name: string },
  run: string,
  basePath?: string,
): string {
  const base = (basePath ?? '').replace(/^\/+|\/+$/g, '');
  return `${base ? `${base}/` : ''}_backups/${backup.namespace}/${backup.name}/${run}/`;
}

/** The manifest of a backup run, under its prefix: what was taken, its checksums, and its state. */
export const BACKUP_MANIFEST = 'manifest.json';

/**
 * One chunk of a ZooKeeper backup, under the run's prefix: `znodes/000001.ndjson` (one JSON
 * line per znode, parents before children).
 */
export function znodeChunkPath(index: number): string {
  return `znodes/${String(index).padStart(6, '0')}.ndjson`;
}

/** A run name from a time: `2026-11-27T21:00:00.123Z` → `20261127T210000Z`. */
export function runName(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The prefix under which a LiveSynchronization keeps what it pruned at `time` (e.g. `20261127T210000Z`). */
export function quarantinePrefix(liveSync: { namespace: string; name: string }, time: string): string {
  return `${quarantineRoot(liveSync)}${time}/`;
}

/** The prefix of every quarantine folder of a LiveSynchronization: `_quarantine/<ns>/<name>/`. */
export function quarantineRoot(liveSync: { namespace: string; name: string }): string {
  return `_quarantine/${liveSync.namespace}/${liveSync.name}/`;
}

/** The quarantine key of one object pruned at `time` (a {@link runName}). */
export function quarantineKey(
  liveSync: { namespace: string; name: string },
  time: string,
  gvr: GVR,
  object: { namespace?: string; name: string },
): string {
  return `${quarantinePrefix(liveSync, time)}${objectPath(gvr, object)}`;
}

/** The time (ms since the epoch) of a run or quarantine folder name (`20261127T210000Z`); undefined when it is not one. */
export function runTime(name: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The quarantine folders (their `<time>` names) that are expired at `now` for a retention of
 * `retentionMs`: older than `now - retentionMs`. A name that is not a time is never expired.
 */
export function expiredQuarantineFolders(folders: string[], now: number, retentionMs: number): string[] {
  return folders.filter((f) => {
    const t = runTime(f);
    return t !== undefined && t < now - retentionMs;
  });
}

/**
 * Of quarantine keys (under {@link quarantineRoot}), those of `gvr` in folders whose time starts
 * with `timePrefix`, one per object: the newest copy of an object wins (folder times sort as
 * strings). `root` is the quarantine root the keys are under.
 */
export function newestQuarantined(keys: string[], root: string, gvr: GVR, timePrefix: string): string[] {
  const folder = `${resourceFolder(gvr)}/`;
  const newest = new Map<string, { time: string; key: string }>();
  for (const key of keys) {
    if (!key.startsWith(root)) continue;
    const rest = key.slice(root.length);
    const slash = rest.indexOf('/');
    const time = rest.slice(0, slash);
    const path = rest.slice(slash + 1);
    if (slash < 0 || !time.startsWith(timePrefix) || !path.startsWith(folder)) continue;
    const seen = newest.get(path);
    if (!seen || time > seen.time) newest.set(path, { time, key });
  }
  return [...newest.values()].map((v) => v.key);
}

/** The prefix of every key of one LiveSynchronization, for listing what it stored. */
export function liveSyncPrefix(liveSync: { namespace: string; name: string }): string {
  return `${liveSync.namespace}/${liveSync.name}/`;
}

/** Splits a key back into its parts; undefined when it is not one of ours. */
export function parseObjectKey(
  key: string,
):
  | { liveSync: { namespace: string; name: string }; folder: string; namespace?: string; name: string }
  | undefined {
  const m = /^([^/]+)\/([^/]+)\/([^/]+)\/([^./]+)\.(.+)$/.exec(key);
  if (!m) return undefined;
  return {
    liveSync: { namespace: m[1], name: m[2] },
    folder: m[3],
    namespace: m[4] === '_cluster' ? undefined : m[4],
    name: m[5],
  };
}
