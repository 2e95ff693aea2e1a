/** What a group/version/resource is on one API server: its kind and whether it is namespaced. */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { kubeErrorText } from './errors.js';

/** A type as an API server serves it. */
export interface ServedType {
  kind: string;
  namespaced: boolean;
  /** `group/version`, or `version` for the core group. */
  apiVersion: string;
}

/**
 * Looks `resource` up in the discovery document of `group/version` (`''` for the core group).
 * Throws an Error whose message says what is not served, naming `cluster` (e.g. "the source cluster").
 */
export async function resolveType(
  kc: KubeConfig,
  gvr: { group: string; version: string; resource: string },
  cluster: string,
): Promise<ServedType> {
  const { group, version, resource } = gvr;
  const apiVersion = group ? `${group}/${version}` : version;
  let list: { resources: { name: string; kind: string; namespaced: boolean }[] };
  try {
    list = group
      ? await kc.makeApiClient(CustomObjectsApi).getAPIResources({ group, version })
      : await kc.makeApiClient(CoreV1Api).getAPIResources();
  } catch (err) {
    throw new Error(`${apiVersion} is not served by ${cluster}: ${kubeErrorText(err)}`, { cause: err });
  }
  const found = list.resources.find((r) => r.name === resource);
  if (!found) throw new Error(`resource ${resource}.${apiVersion} is not served by ${cluster}`);
  return { kind: found.kind, namespaced: found.namespaced, apiVersion };
}
