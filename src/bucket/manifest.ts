/**
 * The manifest of a backup run (`<prefix>manifest.json`, see layout.ts): what a Backup took, the
 * SHA-256 of every file it wrote, and its state. Pure: the writer and reader (backup-store.ts)
 * build and check it; a restore trusts nothing the manifest does not vouch for.
 *
 * - `InProgress` is written before the first object, so a run that dies leaves a manifest that
 *   says so; `Complete` is written last, only when every object is in the bucket; `Partial` when
 *   the run failed or was cancelled, with the reason.
 * - `entries` lists every file of the run (one per Kubernetes object, one per chunk of znodes),
 *   by its path under the run's prefix.
 */
import { createHash } from 'node:crypto';

/** The format string of this version's manifests. */
export const MANIFEST_FORMAT = 'resiliency-orchestrator.backup/v1';

/** The state of a backup run. */
export type BackupState = 'InProgress' | 'Complete' | 'Partial';

/** One file of a backup run. */
export interface ManifestEntry {
  /** Path under the run's prefix, e.g. `apps-v1-deployments/team-a.web`. */
  path: string;
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  bytes: number;
  /** Items in the file: 1 for a Kubernetes object, the znodes of a chunk. */
  items: number;
}

/** What a backup run took and where from. */
export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  /** The plugin that wrote it, e.g. `kubernetes-objects-to-bucket`. */
  plugin: string;
  backup: { namespace: string; name: string; uid: string };
  /** The run's name (its start time), as in the prefix. */
  run: string;
  /** The source: its kind, asset name, what was selected, and the server's version. */
  source: {
    kind: 'KubernetesCluster' | 'Database';
    name: string;
    serverVersion?: string;
    namespaces?: string[];
    rootPath?: string;
  };
  state: BackupState;
  /** Why a run is Partial. */
  reason?: string;
  startedAt: string;
  completedAt?: string;
  /** Items (objects or znodes) and bytes over the whole run. */
  totals: { items: number; bytes: number };
  /** Items and bytes per type (a resource folder such as `apps-v1-deployments`, or a znode type). */
  counts: Record<string, { items: number; bytes: number }>;
  entries: ManifestEntry[];
}

/** SHA-256 of `body`, hex. */
export function sha256(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** MD5 of `body`, hex: what an S3 server gives as the ETag of a single-part upload. */
export function md5(body: Buffer | string): string {
  return createHash('md5').update(body).digest('hex');
}

/** Adds `items` and `bytes` under `type` of `counts`. */
export function count(
  counts: Record<string, { items: number; bytes: number }>,
  type: string,
  items: number,
  bytes: number,
): void {
  const c = (counts[type] ??= { items: 0, bytes: 0 });
  c.items += items;
  c.bytes += bytes;
}

/** Parses a manifest, or says what is wrong with it. */
export function parseManifest(
  text: string,
): { ok: true; manifest: BackupManifest } | { ok: false; problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `not JSON (${(err as Error).message})` };
  }
  const m = doc as Partial<BackupManifest> | null;
  if (!m || typeof m !== 'object') return { ok: false, problem: 'not a JSON object' };
  if (m.format !== MANIFEST_FORMAT)
    return { ok: false, problem: `format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}` };
  if (!Array.isArray(m.entries)) return { ok: false, problem: 'entries: missing' };
  for (const [i, e] of m.entries.entries())
    if (typeof e?.path !== 'string' || !/^[0-9a-f]{64}$/.test(String(e?.sha256)))
      return { ok: false, problem: `entries[${i}]: needs a path and a sha256` };
  if (!['InProgress', 'Complete', 'Partial'].includes(String(m.state)))
    return { ok: false, problem: `state: ${JSON.stringify(m.state)} is not InProgress, Complete or Partial` };
  return { ok: true, manifest: m as BackupManifest };
}
