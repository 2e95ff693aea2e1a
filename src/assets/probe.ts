/**
 * Asset checks: a KubernetesCluster, Bucket or Database is ready when its object and Secret are
 * usable and its service answers within a few seconds. The message says what is wrong, never a
 * secret.
 */
import { VersionApi } from '@kubernetes/client-node';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { connectZooKeeper } from '../clients/zookeeper.js';
import { kubeErrorText } from '../kube/errors.js';
import type { AssetLoader } from './load.js';
import { regionMismatch } from './bucket-endpoint.js';
import { withTimeout } from '../time.js';

/** The kinds that are assets. */
export type AssetKind = 'KubernetesCluster' | 'Bucket' | 'Database';

/** Outcome of checking one asset. */
export interface AssetCheck {
  ready: boolean;
  reason: string;
  message: string;
}

const PROBE_TIMEOUT_MS = 5000;

/** One line for an error, without secrets (client errors may echo request bodies), for status. */
function reasonOf(err: unknown): string {
  return kubeErrorText(err).slice(0, 300);
}

/** Checks that an asset exists, its Secret holds what it must, and the service answers. */
export async function checkAsset(
  assets: AssetLoader,
  kind: AssetKind,
  namespace: string,
  name: string,
): Promise<AssetCheck> {
  switch (kind) {
    case 'KubernetesCluster': {
      const loaded = await assets.kubernetesCluster(namespace, name);
      if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
      const kc = loaded.value;
      try {
        const v = await withTimeout(kc.makeApiClient(VersionApi).getCode(), PROBE_TIMEOUT_MS, 'cluster');
        return {
          ready: true,
          reason: 'Connected',
          message: `${kc.getCurrentCluster()?.server} answers, Kubernetes ${v.gitVersion}`,
        };
      } catch (err) {
        return {
          ready: false,
          reason: 'Unreachable',
          message: `cluster ${kc.getCurrentCluster()?.server} unreachable: ${reasonOf(err)}`,
        };
      }
    }
    case 'Bucket': {
      const loaded = await assets.bucket(namespace, name);
      if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
      const { client, name: bucketName, settings } = loaded.value;
      try {
        await withTimeout(
          client.send(new HeadBucketCommand({ Bucket: bucketName })),
          PROBE_TIMEOUT_MS,
          'bucket',
        );
        return { ready: true, reason: 'Connected', message: `bucket ${bucketName} answers` };
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        const region = settings && regionMismatch(err, settings);
        if (region)
          return { ready: false, reason: 'WrongRegion', message: `bucket ${bucketName}: ${region}` };
        const why =
          status === 403
            ? 'access denied (check the credentials)'
            : status === 404
              ? 'no such bucket'
              : reasonOf(err);
        return { ready: false, reason: 'Unreachable', message: `bucket ${bucketName}: ${why}` };
      } finally {
        client.destroy();
      }
    }
    case 'Database': {
      const loaded = await assets.database(namespace, name);
      if (!loaded.ok) return { ready: false, reason: loaded.reason, message: loaded.message };
      const { servers, auth } = loaded.value;
      try {
        const zk = await connectZooKeeper({ servers, auth, timeoutMs: PROBE_TIMEOUT_MS });
        zk.close();
        return { ready: true, reason: 'Connected', message: `ZooKeeper ${servers.join(',')} answers` };
      } catch (err) {
        return {
          ready: false,
          reason: 'Unreachable',
          message: `ZooKeeper ${servers.join(',')}: ${reasonOf(err)}`,
        };
      }
    }
  }
}
