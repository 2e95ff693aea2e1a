/**
 * Objects on an API server: read one of ours (a 404 is `undefined`, not an error), write any with
 * server-side apply under the orchestrator's field manager, and the merge-patch header every
 * status and metadata patch uses.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type CustomObjectsApi,
  type KubernetesObject,
  type KubernetesObjectApi,
} from '@kubernetes/client-node';
import { API_VERSION, kindInfo, type Kind } from '../api/kinds.js';
import type { Resource } from '../api/types.js';
import { isNotFound } from './errors.js';

/** Request option that sends a patch as a JSON merge patch (RFC 7386). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** One of our objects, or undefined when it does not exist. */
export async function getCustomObject<K extends Kind>(
  custom: CustomObjectsApi,
  kind: K,
  namespace: string,
  name: string,
): Promise<Resource<K> | undefined> {
  const { group, plural } = kindInfo(kind);
  try {
    return (await custom.getNamespacedCustomObject({
      group,
      version: API_VERSION,
      namespace,
      plural,
      name,
    })) as Resource<K>;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Merges `status` into the status subresource of one of our objects (JSON merge patch). A 404 is
 * thrown as is. The status subresource ignores `metadata.uid` in the body, so a caller that must
 * not write to a re-created object checks the uid first.
 */
export async function patchStatus(
  custom: CustomObjectsApi,
  ref: { kind: Kind; namespace: string; name: string },
  status: Record<string, unknown>,
): Promise<void> {
  const { group, plural } = kindInfo(ref.kind);
  await custom.patchNamespacedCustomObjectStatus(
    {
      group,
      version: API_VERSION,
      namespace: ref.namespace,
      plural,
      name: ref.name,
      body: { status },
    },
    MERGE_PATCH,
  );
}

/** The field manager of every server-side apply the orchestrator makes. */
export const FIELD_MANAGER = 'resiliency-orchestrator';

/** Writes `object` with server-side apply, forcing conflicts, as {@link FIELD_MANAGER}. */
export async function serverSideApply(api: KubernetesObjectApi, object: KubernetesObject): Promise<void> {
  await api.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}
