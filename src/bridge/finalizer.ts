/**
 * Our finalizer, in one module (pepr's habit): it keeps a custom resource until its workflow has
 * been cancelled and has cleaned up. The helpers say whether they changed anything.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_VERSION, kindInfo, type Kind } from '../api/kinds.js';
import type { Resource } from '../api/types.js';
import { isNotFound } from '../kube/errors.js';

/** The finalizer the bridge puts on every object it reconciles. */
export const FINALIZER = 'automation.astronetes.io/workflow-cleanup';

const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** Whether `obj` carries our finalizer. */
export function hasFinalizer(obj: Resource): boolean {
  return obj.metadata.finalizers?.includes(FINALIZER) ?? false;
}

function target(obj: Resource) {
  const { group, plural } = kindInfo(obj.kind as Kind);
  return { group, version: API_VERSION, namespace: obj.metadata.namespace, plural, name: obj.metadata.name };
}

/**
 * Adds the finalizer; a JSON patch guarded by the resourceVersion, so a concurrent change makes it
 * fail (409/422) and the reconcile retries on fresh state. Returns true when it added it.
 */
export async function addFinalizer(custom: CustomObjectsApi, obj: Resource): Promise<boolean> {
  if (hasFinalizer(obj)) return false;
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
    obj.metadata.finalizers
      ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }
      : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
  ];
  await custom.patchNamespacedCustomObject({ ...target(obj), body: ops }, JSON_PATCH);
  return true;
}

/** Removes the finalizer, leaving any other. Returns true when it removed it. */
export async function removeFinalizer(custom: CustomObjectsApi, obj: Resource): Promise<boolean> {
  const index = obj.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
  if (index < 0) return false;
  const ops = [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
  try {
    await custom.patchNamespacedCustomObject({ ...target(obj), body: ops }, JSON_PATCH);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  return true;
}
