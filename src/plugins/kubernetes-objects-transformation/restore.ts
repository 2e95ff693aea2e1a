/**
 * `fromOriginal`: restores the objects of one entry as a LiveSynchronization stored them in its
 * bucket (the source's version, cleaned of what must not be copied: uid, resourceVersion, status,
 * owner references, cluster IPs), then applies the entry's patch, if any. Every original under the
 * LiveSynchronization's prefix for the type is restored, so an object deleted in this cluster comes
 * back; a selected object that has no original is reported failed. Restoring is idempotent: an
 * object already equal to its restored form is `unchanged`.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listWithEtags } from '../../bucket/backup-store.js';
import type { KubernetesObjectApi } from '@kubernetes/client-node';
import { type KubernetesObject } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import {
  liveSyncPrefix,
  newestQuarantined,
  objectPath,
  quarantineRoot,
  resourceFolder,
  type GVR,
} from '../../bucket/layout.js';
import type { ServedType } from '../../kube/discovery.js';
import { isConflict, kubeErrorText, statusOf } from '../../kube/errors.js';
import { pool } from '../../pool.js';
import {
  applyUserPatch,
  cleanForDestination,
  type KubeObject,
} from '../kubernetes-objects-to-kubernetes/transform.js';
import type { PatchOperation } from '../common.js';
import type { ObjectResult } from './execute.js';
import type { Logger } from '../../logger.js';
import { readObjectLogged } from '../../kube/logged.js';

/** What {@link restoreEntry} needs. */
export interface RestoreContext {
  api: KubernetesObjectApi;
  bucket: {
    client: S3Client;
    name: string;
    /** The Bucket object, for the seed's `bucket` log field. */
    asset?: { namespace: string; name: string };
  };
  /** The run's logger; bucket lines get `bucket` and `bucketObject`, and never a cluster field. */
  log: Logger;
  liveSync: { namespace: string; name: string };
  /**
   * Restore from the quarantine instead of the originals: the folders whose time starts with
   * this prefix ('' for all), the newest copy of an object winning. Undefined: the originals.
   */
  quarantine?: string;
  gvr: GVR;
  type: ServedType;
  /** The objects of this cluster the entry selects (they must have an original). */
  selected: KubeObject[];
  patch?: PatchOperation[];
  skipIfNotFoundOnDelete?: boolean;
  dryRun: boolean;
  /** Called for each object restored, for the seed-style log line. */
  onRestored(object: string, key: string): void;
}

/** `<namespace>/<name>` (or `<name>`) of the object a bucket key holds, from the key alone. */
export function objectOfKey(key: string): { namespace?: string; name: string } {
  const file = key.slice(key.lastIndexOf('/') + 1);
  const dot = file.indexOf('.');
  const namespace = file.slice(0, dot);
  return { ...(namespace !== '_cluster' && { namespace }), name: file.slice(dot + 1) };
}

const display = (o: { namespace?: string; name: string }) =>
  o.namespace ? `${o.namespace}/${o.name}` : o.name;

/** What a restored object is compared on: its content, without what the server assigns. */
function comparable(obj: KubeObject): KubeObject {
  return cleanForDestination(obj);
}

async function listKeys(ctx: RestoreContext, bucketLog: Logger): Promise<string[]> {
  const quarantine = ctx.quarantine !== undefined;
  const prefix = quarantine
    ? `${quarantineRoot(ctx.liveSync)}${ctx.quarantine}`
    : `${liveSyncPrefix(ctx.liveSync)}${resourceFolder(ctx.gvr)}/`;
  bucketLog.info({ bucketObject: { path: prefix } }, 'listing object from bucket');
  const keys = [...(await listWithEtags(ctx.bucket.client, ctx.bucket.name, prefix)).keys()];
  return quarantine ? newestQuarantined(keys, quarantineRoot(ctx.liveSync), ctx.gvr, ctx.quarantine!) : keys;
}

/** Restores every original of the entry's type; one result per object. */
export async function restoreEntry(ctx: RestoreContext): Promise<ObjectResult[]> {
  const bucketLog = ctx.log.child({ bucket: { ...ctx.bucket.asset, bucketName: ctx.bucket.name } });
  const keys = await listKeys(ctx, bucketLog);
  const prefix = liveSyncPrefix(ctx.liveSync);
  const results: ObjectResult[] = [];
  const withOriginal = new Set(keys.map((k) => display(objectOfKey(k))));
  // From the quarantine, only what was pruned comes back: the cluster's other objects need none.
  for (const obj of ctx.quarantine === undefined ? ctx.selected : []) {
    const name = display({ namespace: obj.metadata?.namespace, name: String(obj.metadata?.name) });
    if (!withOriginal.has(name))
      results.push({
        object: name,
        result: 'failed',
        error: `no original in the bucket at ${prefix}${objectPath(ctx.gvr, { namespace: obj.metadata?.namespace, name: String(obj.metadata?.name) })}`,
      });
  }
  const byName = new Map(
    ctx.selected.map((o) => [
      display({ namespace: o.metadata?.namespace, name: String(o.metadata?.name) }),
      {
        apiVersion: ctx.type.apiVersion,
        kind: ctx.type.kind,
        ...(JSON.parse(JSON.stringify(o)) as KubeObject),
      },
    ]),
  );
  const restoreOne = async (key: string): Promise<ObjectResult> => {
    const target = objectOfKey(key);
    const object = display(target);
    let original: KubeObject;
    const log = bucketLog.child({ bucketObject: { path: key } });
    log.debug('getting object from bucket');
    try {
      const got = await ctx.bucket.client.send(new GetObjectCommand({ Bucket: ctx.bucket.name, Key: key }));
      original = JSON.parse(await got.Body!.transformToString()) as KubeObject;
    } catch (err) {
      log.error({ err: kubeErrorText(err) }, 'error getting object from bucket');
      return { object, result: 'failed', error: `bucket entry ${key} unreadable: ${kubeErrorText(err)}` };
    }
    const m = original.metadata;
    const sourceObject = {
      apiGroup: ctx.gvr.group,
      apiVersion: ctx.gvr.version,
      resource: ctx.gvr.resource,
      name: m?.name,
      namespace: m?.namespace,
      resourceVersion: m?.resourceVersion,
      uid: m?.uid,
    };
    log.info({ sourceObject }, 'object got from bucket');
    const cleaned = cleanForDestination({
      ...original,
      apiVersion: ctx.type.apiVersion,
      kind: ctx.type.kind,
    });
    const patched = applyUserPatch(cleaned, ctx.patch, {
      skipIfNotFoundOnDelete: ctx.skipIfNotFoundOnDelete,
    });
    if (!patched.ok) return { object, result: 'failed', error: patched.error };
    const desired = patched.object;
    const header = { apiVersion: ctx.type.apiVersion, kind: ctx.type.kind, metadata: { ...target } };
    const read = async (): Promise<KubeObject | undefined> => {
      const found = await readObjectLogged<KubeObject>(ctx.api, header, ctx.log);
      return found && (JSON.parse(JSON.stringify(found)) as KubeObject);
    };
    // The entry's list already holds the selected objects: no read per object. One the selector
    // did not list may still exist: a dry run reads it; a real run learns it from create's 409.
    const listed = byName.get(object);
    let existing: KubeObject | undefined;
    try {
      existing = listed ?? (ctx.dryRun ? await read() : undefined);
    } catch (err) {
      return { object, result: 'failed', error: kubeErrorText(err) };
    }
    if (!existing && !ctx.dryRun) {
      try {
        await ctx.api.create(desired as KubernetesObject);
        ctx.onRestored(object, key);
        return { object, result: 'restored', from: key };
      } catch (err) {
        if (statusOf(err) !== 409) return { object, result: 'failed', error: kubeErrorText(err) };
      }
      try {
        existing = await read();
      } catch (err) {
        return { object, result: 'failed', error: kubeErrorText(err) };
      }
      if (!existing) return { object, result: 'failed', error: 'changed while it was restored; run again' };
    }
    const diff = existing ? jsonpatch.compare(comparable(existing), comparable(desired)) : undefined;
    if (diff && diff.length === 0) return { object, result: 'unchanged' };
    if (ctx.dryRun) return { object, result: 'would-restore', patch: diff, from: key };
    try {
      await ctx.api.replace({
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing!.metadata?.resourceVersion },
      } as KubernetesObject);
    } catch (err) {
      const why = isConflict(err) ? 'changed while it was restored; run again' : kubeErrorText(err);
      return { object, result: 'failed', error: why };
    }
    ctx.onRestored(object, key);
    return { object, result: 'restored', from: key, ...(diff && { patch: diff }) };
  };
  await pool(keys, 16, async (key) => {
    results.push(await restoreOne(key));
  });
  return results;
}
