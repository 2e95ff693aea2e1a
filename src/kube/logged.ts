/**
 * Kubernetes reads that log the seed's lines (section 5.1.4.2) around themselves, for the places
 * that do the same read: a type's discovery, and a read of one object that may not exist.
 */
import type { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';
import { resolveType, TYPE_NOT_SERVED, type ServedType } from './discovery.js';
import { isNotFound, kubeErrorText } from './errors.js';

/**
 * {@link resolveType}, logging `reading resources for group version`, then `group resource
 * version found`, `resource group version not found` (info: the server does not serve it) or
 * `error reading resources for group version`. Throws as resolveType does.
 */
export async function resolveTypeLogged(
  kc: KubeConfig,
  gvr: { group: string; version: string; resource: string },
  cluster: string,
  log: Logger,
): Promise<ServedType> {
  log.info('reading resources for group version');
  try {
    const found = await resolveType(kc, gvr, cluster);
    log.info({ kind: found.kind }, 'group resource version found');
    return found;
  } catch (err) {
    const message = (err as Error).message;
    // Not served is no failure of ours (seed: "not found objects are not errors").
    if ((err as Error).name === TYPE_NOT_SERVED)
      log.info({ err: message }, 'resource group version not found');
    else log.error({ err: message }, 'error reading resources for group version');
    throw err;
  }
}

/**
 * Reads one object (`header`: apiVersion, kind, name, namespace), logging `reading object from
 * cluster` (debug), then `object read from cluster`, `object not found in cluster` (undefined is
 * returned) or `error getting object from cluster` (thrown). `log` carries the cluster field.
 */
export async function readObjectLogged<T>(
  api: KubernetesObjectApi,
  header: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } },
  log: Logger,
): Promise<T | undefined> {
  log.debug({ destinationObject: header }, 'reading object from cluster');
  try {
    const found = (await api.read(header as never)) as T;
    log.info({ destinationObject: found }, 'object read from cluster');
    return found;
  } catch (err) {
    if (isNotFound(err)) {
      log.info({ destinationObject: header }, 'object not found in cluster');
      return undefined;
    }
    log.error({ destinationObject: header, err: kubeErrorText(err) }, 'error getting object from cluster');
    throw err;
  }
}
