/** What a group/version/resource is on one API server: its kind and whether it is namespaced. */
import { ApisApi, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
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

/** A type an API server serves, with its group/version/resource and verbs. */
export interface DiscoveredType extends ServedType {
  group: string;
  version: string;
  resource: string;
  verbs: string[];
}

/**
 * Every top-level resource (no subresources) of every group's preferred version, core included.
 * A group whose discovery fails (an aggregated API that is down) is returned in `unavailable`
 * rather than failing the whole discovery.
 */
export async function discoverTypes(
  kc: KubeConfig,
): Promise<{ types: DiscoveredType[]; unavailable: string[] }> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  const versions = [
    { group: '', version: 'v1' },
    ...groups.groups.map((g) => ({
      group: g.name,
      version: (g.preferredVersion ?? g.versions[0]).version,
    })),
  ];
  const unavailable: string[] = [];
  const lists = await Promise.all(
    versions.map(async ({ group, version }) => {
      try {
        const list = group
          ? await custom.getAPIResources({ group, version })
          : await kc.makeApiClient(CoreV1Api).getAPIResources();
        return list.resources
          .filter((r) => !r.name.includes('/'))
          .map((r) => ({
            group,
            version,
            resource: r.name,
            kind: r.kind,
            namespaced: r.namespaced,
            apiVersion: group ? `${group}/${version}` : version,
            verbs: r.verbs,
          }));
      } catch {
        unavailable.push(group ? `${group}/${version}` : version);
        return [];
      }
    }),
  );
  return { types: lists.flat(), unavailable };
}
