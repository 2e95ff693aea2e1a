/** Paginated lists, so that a type with tens of thousands of objects never comes in one response. */
import type { KubernetesListObject, KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';

/** Every object of a type (all pages of 500), and the list's resourceVersion to watch from. */
export async function listAllPages<T = KubernetesObject>(
  api: KubernetesObjectApi,
  type: { apiVersion: string; kind: string },
  labelSelector?: string,
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let resourceVersion = '';
  let cont: string | undefined;
  do {
    const page: KubernetesListObject<KubernetesObject> = await api.list(
      type.apiVersion,
      type.kind,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
      500,
      cont,
    );
    items.push(...(page.items as T[]));
    cont = page.metadata?._continue;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (cont);
  return { items, resourceVersion };
}
