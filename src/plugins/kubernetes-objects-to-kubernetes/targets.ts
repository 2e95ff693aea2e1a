/**
 * The clusters and bucket a kubernetes-objects-to-kubernetes config names, loaded through the
 * AssetLoader (with its kubeconfig policy). LiveSynchronization's `replicate` activity and the
 * one-shot Synchronization share it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../api/errors.js';
import type { AssetLoader } from '../../assets/load.js';
import type { ReplicatorOptions } from './engine.js';
import type { KubernetesObjectsToKubernetesConfig } from './index.js';

/** What a run replicates between. Call `close()` when done. */
export interface ReplicationTargets {
  source: KubeConfig;
  destination: KubeConfig;
  bucket?: ReplicatorOptions['bucket'];
  close(): void;
}

/**
 * Loads the source and destination clusters and the bucket, in `namespace`; `owner` names the
 * bucket prefix. Throws a retryable `AssetNotReady` naming the field when one is not usable.
 */
export async function loadReplicationTargets(
  assets: AssetLoader,
  namespace: string,
  config: KubernetesObjectsToKubernetesConfig,
  owner: { namespace: string; name: string },
): Promise<ReplicationTargets> {
  const [source, destination, loadedBucket] = await Promise.all([
    assets.kubernetesCluster(namespace, config.sourceName),
    assets.kubernetesCluster(namespace, config.destinationName),
    config.bucketName ? assets.bucket(namespace, config.bucketName) : undefined,
  ]);
  const fail = (field: string, message: string) => {
    if (loadedBucket?.ok) loadedBucket.value.client.destroy();
    return ApplicationFailure.retryable(`spec.config.${field}: ${message}`, FailureType.AssetNotReady);
  };
  if (!source.ok) throw fail('sourceName', source.message);
  if (!destination.ok) throw fail('destinationName', destination.message);
  if (loadedBucket && !loadedBucket.ok) throw fail('bucketName', loadedBucket.message);
  const bucket = loadedBucket?.ok
    ? {
        client: loadedBucket.value.client,
        name: loadedBucket.value.name,
        liveSync: owner,
        asset: loadedBucket.value.asset,
        settings: loadedBucket.value.settings,
      }
    : undefined;
  return {
    source: source.value,
    destination: destination.value,
    bucket,
    close: () => bucket?.client.destroy(),
  };
}
