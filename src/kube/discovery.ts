/** What a group/version/resource is on one API server: its kind and whether it is namespaced. */
import { ApisApi, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { kubeErrorText, statusOf } from './errors.js';

/** The `name` of the Error {@link resolveType} throws when the server does not serve the type (not a failure to ask). */
export const TYPE_NOT_SERVED = 'TypeNotServed';

function notServed(message: string, cause?: unknown): Error {
  const err = new Error(message, { cause });
  err.name = TYPE_NOT_SERVED;
  return err;
}

/** A type as an API server serves it. */
export interface ServedType {
  kind: string;
  namespaced: boolean;
  /** `group/version`, or `version` for the core group. */
  apiVersion: string;
}

/**
 * Looks `resource` up in the discovery document of `group/version` (`''` for the core group).
 * Throws an Error whose message says what is not served, naming `cluster` (e.g. "the source cluster");
 * its `name` is {@link TYPE_NOT_SERVED} when the server answered that it does not serve the type.
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
    const message = `${apiVersion} is not served by ${cluster}: ${kubeErrorText(err)}`;
    throw statusOf(err) === 404 ? notServed(message, err) : new Error(message, { cause: err });
  }
  const found = list.resources.find((r) => r.name === resource);
  if (!found) throw notServed(`resource ${resource}.${apiVersion} is not served by ${cluster}`);
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
