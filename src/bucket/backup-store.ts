/**
 * Writes and reads backup runs in a bucket: the files of a run under its prefix and the manifest
 * that vouches for them (manifest.ts). Plugins decide what to write; this module decides how a run
 * is recorded, so a Kubernetes backup and a ZooKeeper backup are checked the same way at restore.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BACKUP_MANIFEST } from './layout.js';
import { count, md5, parseManifest, sha256, type BackupManifest, type ManifestEntry } from './manifest.js';

/** The S3 error's code and message, never its request (which carries signed headers). */
export function s3ErrorText(err: unknown): string {
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e?.Code ?? e?.name ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  return `${code}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`;
}

/** A write the bucket refused (after the SDK's own retries). */
export class BucketWriteError extends Error {
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`the bucket refused the write of ${key}: ${s3ErrorText(cause)}`, { cause });
    this.name = 'BucketWriteError';
  }
}

/** Why a backup run cannot be read: no manifest, an unreadable one, or a file that does not match it. */
export class BackupReadError extends Error {
  constructor(
    readonly code: 'NotFound' | 'Corrupted' | 'Unreadable',
    message: string,
  ) {
    super(message);
    this.name = 'BackupReadError';
  }
}

/** The header of a manifest: everything but what the run accumulates. */
export type ManifestHeader = Pick<BackupManifest, 'plugin' | 'backup' | 'run' | 'source' | 'startedAt'>;

/** Where a run lives. */
export interface RunLocation {
  client: S3Client;
  /** The S3 bucket's name. */
  bucket: string;
  /** The run's prefix, ending in `/`. */
  prefix: string;
}

/** Every key under `prefix` with its ETag (quotes removed). */
export async function listWithEtags(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, (o.ETag ?? '').replace(/"/g, ''));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

/**
 * Writes one backup run. `open` writes the `InProgress` manifest; `put` writes a file and records
 * its checksum; `complete` writes the `Complete` manifest, `partial` a `Partial` one. A resumed run
 * (same prefix, after a lost worker) skips the files the bucket already holds with the same bytes.
 */
export class BackupWriter {
  private readonly entries = new Map<string, ManifestEntry>();
  private readonly counts: BackupManifest['counts'] = {};
  /** Files written by this attempt, and files an earlier attempt had already written. */
  written = 0;
  skipped = 0;

  private constructor(
    private readonly at: RunLocation,
    private readonly header: ManifestHeader,
    private readonly existing: Map<string, string>,
  ) {}

  /** Starts (or resumes, with `resume`) a run: writes its `InProgress` manifest. */
  static async open(at: RunLocation, header: ManifestHeader, resume = false): Promise<BackupWriter> {
    const existing = resume
      ? await listWithEtags(at.client, at.bucket, at.prefix)
      : new Map<string, string>();
    const writer = new BackupWriter(at, header, existing);
    await writer.writeManifest('InProgress');
    return writer;
  }

  /** The manifest's key. */
  get manifestKey(): string {
    return `${this.at.prefix}${BACKUP_MANIFEST}`;
  }

  /** Items and bytes so far. */
  get totals(): { items: number; bytes: number } {
    let items = 0;
    let bytes = 0;
    for (const e of this.entries.values()) [items, bytes] = [items + e.items, bytes + e.bytes];
    return { items, bytes };
  }

  /** Writes `body` at `path` under the run, counted under `type`. Throws a {@link BucketWriteError}. */
  async put(path: string, body: Buffer | string, type: string, items = 1): Promise<void> {
    const key = `${this.at.prefix}${path}`;
    const bytes = Buffer.byteLength(body);
    if (this.existing.get(key) === md5(body)) this.skipped++;
    else {
      try {
        await this.at.client.send(
          new PutObjectCommand({
            Bucket: this.at.bucket,
            Key: key,
            Body: body,
            ContentType: 'application/json',
          }),
        );
      } catch (err) {
        throw new BucketWriteError(key, err);
      }
      this.written++;
    }
    const previous = this.entries.get(path);
    if (previous) count(this.counts, type, -previous.items, -previous.bytes);
    this.entries.set(path, { path, sha256: sha256(body), bytes, items });
    count(this.counts, type, items, bytes);
  }

  /** Writes the `Complete` manifest and returns it. */
  async complete(): Promise<BackupManifest> {
    return this.writeManifest('Complete');
  }

  /** Writes a `Partial` manifest with `reason`; false when even that write failed. */
  async partial(reason: string): Promise<boolean> {
    return this.writeManifest('Partial', reason).then(
      () => true,
      () => false,
    );
  }

  private async writeManifest(state: BackupManifest['state'], reason?: string): Promise<BackupManifest> {
    const manifest: BackupManifest = {
      format: 'resiliency-orchestrator.backup/v1',
      ...this.header,
      state,
      ...(reason !== undefined && { reason }),
      ...(state !== 'InProgress' && { completedAt: new Date().toISOString() }),
      totals: this.totals,
      counts: this.counts,
      entries: [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    };
    try {
      await this.at.client.send(
        new PutObjectCommand({
          Bucket: this.at.bucket,
          Key: this.manifestKey,
          Body: JSON.stringify(manifest),
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw new BucketWriteError(this.manifestKey, err);
    }
    return manifest;
  }
}

/** Reads one backup run: its manifest, then each file, checked against the manifest's checksum. */
export class BackupReader {
  private constructor(
    private readonly at: RunLocation,
    readonly manifest: BackupManifest,
  ) {}

  /** Reads and checks the run's manifest. Throws a {@link BackupReadError}. */
  static async open(at: RunLocation): Promise<BackupReader> {
    const key = `${at.prefix}${BACKUP_MANIFEST}`;
    let text: string;
    try {
      const got = await at.client.send(new GetObjectCommand({ Bucket: at.bucket, Key: key }));
      text = await got.Body!.transformToString();
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound')
        throw new BackupReadError('NotFound', `no backup manifest at ${key} in bucket ${at.bucket}`);
      throw new BackupReadError('Unreadable', `the manifest ${key} is unreadable: ${s3ErrorText(err)}`);
    }
    const parsed = parseManifest(text);
    if (!parsed.ok)
      throw new BackupReadError('Corrupted', `the manifest ${key} is corrupted: ${parsed.problem}`);
    return new BackupReader(at, parsed.manifest);
  }

  /** Where the run lives, for messages: `bucket/prefix`. */
  get location(): string {
    return `${this.at.bucket}/${this.at.prefix}`;
  }

  /** The bytes of `entry`, checked against its checksum. Throws a {@link BackupReadError}. */
  async read(entry: ManifestEntry): Promise<Buffer> {
    const key = `${this.at.prefix}${entry.path}`;
    let body: Buffer;
    try {
      const got = await this.at.client.send(new GetObjectCommand({ Bucket: this.at.bucket, Key: key }));
      body = Buffer.from(await got.Body!.transformToByteArray());
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound')
        throw new BackupReadError('NotFound', `${key} is missing from the bucket`);
      throw new BackupReadError('Unreadable', `${key} is unreadable: ${s3ErrorText(err)}`);
    }
    const sum = sha256(body);
    if (sum !== entry.sha256)
      throw new BackupReadError(
        'Corrupted',
        `${key} does not match its checksum (sha256 ${sum.slice(0, 12)}…, the manifest says ${entry.sha256.slice(0, 12)}…)`,
      );
    return body;
  }
}
