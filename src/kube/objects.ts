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

/** The field manager of every server-side apply the orchestrator makes. */
export const FIELD_MANAGER = 'resiliency-orchestrator';

/** Writes `object` with server-side apply, forcing conflicts, as {@link FIELD_MANAGER}. */
export async function serverSideApply(api: KubernetesObjectApi, object: KubernetesObject): Promise<void> {
  await api.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}
