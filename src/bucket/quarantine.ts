/**
 * The quarantine of pruned objects, on the bucket: before a prune deletes a destination copy and
 * its bucket original, the object is kept under `_quarantine/…/<time>/` (keys: layout.ts); expired
 * folders are deleted by {@link enforceQuarantineRetention}. A quarantined object is restored with
 * the Task plugin `kubernetes-objects-transformation` (`fromOriginal.quarantine`).
 */
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { listWithEtags } from './backup-store.js';
import { expiredQuarantineFolders, quarantineRoot } from './layout.js';

/** The default `replication.quarantine.retention`: a week. */
export const DEFAULT_QUARANTINE_RETENTION = '168h';

/** What {@link keepInQuarantine} kept: the bucket original, the destination copy, or nothing (neither exists). */
export type Quarantined = 'original' | 'copy' | 'nothing';

/** Whether an S3 error says the key does not exist. */
function isMissingKey(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === 'NoSuchKey' ||
    e?.name === 'NotFound' ||
    e?.Code === 'NoSuchKey' ||
    e?.$metadata?.httpStatusCode === 404
  );
}

/**
 * Keeps one object under `key` before it is pruned: a server-side copy of the bucket original at
 * `original` when there is one, else the destination copy `readCopy` returns (undefined: it is gone
 * too, and there is nothing to keep). Throws when the bucket refuses: the prune must not happen.
 */
export async function keepInQuarantine(opts: {
  client: S3Client;
  bucket: string;
  key: string;
  original?: string;
  readCopy: () => Promise<unknown>;
}): Promise<Quarantined> {
  const { client, bucket, key } = opts;
  if (opts.original) {
    try {
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: encodeURI(`${bucket}/${opts.original}`),
        }),
      );
      return 'original';
    } catch (err) {
      if (!isMissingKey(err)) throw err;
    }
  }
  const copy = await opts.readCopy();
  if (copy === undefined) return 'nothing';
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(copy),
      ContentType: 'application/json',
    }),
  );
  return 'copy';
}

/** The quarantine folders (`<time>` names) of `liveSync`. */
export async function quarantineFolders(
  client: S3Client,
  bucket: string,
  liveSync: { namespace: string; name: string },
): Promise<string[]> {
  const root = quarantineRoot(liveSync);
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: root, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? [])
      if (p.Prefix) folders.push(p.Prefix.slice(root.length).replace(/\/$/, ''));
    token = page.NextContinuationToken;
  } while (token);
  return folders;
}

/**
 * Deletes the quarantine folders of `liveSync` older than `retentionMs` at `now`; returns their
 * prefixes. Every object of an expired folder goes (DeleteObjects, 1,000 keys a request).
 */
export async function enforceQuarantineRetention(opts: {
  client: S3Client;
  bucket: string;
  liveSync: { namespace: string; name: string };
  retentionMs: number;
  now: number;
}): Promise<string[]> {
  const { client, bucket } = opts;
  const root = quarantineRoot(opts.liveSync);
  const expired = expiredQuarantineFolders(
    await quarantineFolders(client, bucket, opts.liveSync),
    opts.now,
    opts.retentionMs,
  );
  const deleted: string[] = [];
  for (const folder of expired) {
    const prefix = `${root}${folder}/`;
    const keys = [...(await listWithEtags(client, bucket, prefix)).keys()];
    for (let i = 0; i < keys.length; i += 1000) {
      const out = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = out.Errors?.[0];
      if (failed)
        throw new Error(`deleting ${failed.Key}: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim());
    }
    deleted.push(prefix);
  }
  return deleted;
}
