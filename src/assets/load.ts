/**
 * Turns asset objects (KubernetesCluster, Bucket, Database) into usable clients: reads the asset,
 * its Secret, and builds a KubeConfig, an S3 client or ZooKeeper connection settings. Every
 * failure comes back as a reason and a message that names the field, never as a thrown secret.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { S3Client } from '@aws-sdk/client-s3';
import type { Kind } from '../api/kinds.js';
import type { BucketSpec, DatabaseSpec, KubernetesClusterSpec, Resource } from '../api/types.js';
import { reuseConnections } from '../kube/connections.js';
import {
  bucketClientSettings,
  type BucketClientSettings,
  type EndpointOverrides,
} from './bucket-endpoint.js';
import { isNotFound } from '../kube/errors.js';
import { getCustomObject } from '../kube/objects.js';
import {
  checkKubeconfig,
  describeKubeconfigProblems,
  STRICT_KUBECONFIG_POLICY,
  type KubeconfigPolicy,
} from './kubeconfig-policy.js';

/** A loaded asset, or why it could not be loaded. */
export type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string; message: string };

/** A Bucket ready to use. */
export interface LoadedBucket {
  client: S3Client;
  name: string;
  /** The asset object's namespace and name, for logs and the bucket layout. */
  asset: { namespace: string; name: string };
  /** Endpoint and region, to name the field at fault when the server refuses the region. */
  settings?: BucketClientSettings;
}

/** A Database ready to connect to. */
export interface LoadedDatabase {
  servers: string[];
  auth: { user: string; password: string };
}

/** Options of {@link AssetLoader}. */
export interface AssetLoaderOptions {
  /**
   * What a KubernetesCluster's kubeconfig may ask for beyond inline credentials; default
   * {@link STRICT_KUBECONFIG_POLICY} (no `exec`, no file, no `auth-provider`).
   */
  kubeconfigPolicy?: KubeconfigPolicy;
  /**
   * For tests only (`--bucket-endpoint-overrides`): the host a Bucket's spec names or implies
   * (`s3.us-east-1.amazonaws.com`, `storage.googleapis.com`) → the URL of a local S3 server.
   */
  bucketEndpointOverrides?: EndpointOverrides;
}

/** Reads assets and their Secrets from the management cluster. */
export class AssetLoader {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly kubeconfigPolicy: KubeconfigPolicy;
  private readonly endpointOverrides: EndpointOverrides;

  constructor(management: KubeConfig, opts: AssetLoaderOptions = {}) {
    this.custom = management.makeApiClient(CustomObjectsApi);
    this.core = management.makeApiClient(CoreV1Api);
    this.kubeconfigPolicy = opts.kubeconfigPolicy ?? STRICT_KUBECONFIG_POLICY;
    this.endpointOverrides = opts.bucketEndpointOverrides ?? {};
  }

  /** One of our objects, or undefined when it does not exist. */
  async getResource<K extends Kind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<Resource<K> | undefined> {
    return getCustomObject(this.custom, kind, namespace, name);
  }

  private async secret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private static value(secret: V1Secret, key: string): string | undefined {
    const b64 = secret.data?.[key];
    return b64 !== undefined ? Buffer.from(b64, 'base64').toString('utf8') : secret.stringData?.[key];
  }

  /**
   * The KubeConfig of a KubernetesCluster, from key `kubeconfig.yaml` of its Secret. The text is
   * untrusted: it is checked against the kubeconfig policy before client-node loads it (loading
   * already reads `token-file`), and a refused one comes back as `InsecureKubeconfig` naming
   * every refused field.
   */
  async kubernetesCluster(namespace: string, name: string): Promise<Loaded<KubeConfig>> {
    const asset = await this.getResource('KubernetesCluster', namespace, name);
    if (!asset)
      return { ok: false, reason: 'NotFound', message: `KubernetesCluster ${namespace}/${name} not found` };
    const { secretName } = asset.spec as KubernetesClusterSpec;
    const secret = await this.secret(namespace, secretName);
    if (!secret)
      return {
        ok: false,
        reason: 'SecretNotFound',
        message: `spec.secretName: Secret ${namespace}/${secretName} not found`,
      };
    const text = AssetLoader.value(secret, 'kubeconfig.yaml');
    if (!text) {
      return {
        ok: false,
        reason: 'InvalidSecret',
        message: `spec.secretName: Secret ${namespace}/${secretName} has no key kubeconfig.yaml`,
      };
    }
    const where = `spec.secretName: Secret ${namespace}/${secretName} key kubeconfig.yaml`;
    const check = checkKubeconfig(text, this.kubeconfigPolicy);
    if (!check.ok) {
      return {
        ok: false,
        reason: check.reason,
        message:
          check.reason === 'InsecureKubeconfig'
            ? `${where}: ${describeKubeconfigProblems(check.problems)}`
            : `${where}: ${check.message}`,
      };
    }
    const kc = new KubeConfig();
    try {
      kc.loadFromString(text);
      if (!kc.getCurrentCluster()) throw new Error('no current cluster');
    } catch (err) {
      return {
        ok: false,
        reason: 'InvalidKubeconfig',
        message: `${where} is not a usable kubeconfig: ${(err as Error).message.split('\n')[0]}`,
      };
    }
    return { ok: true, value: reuseConnections(kc) };
  }

  /** An S3 client for a Bucket, from keys `accessKeyID` and `secretAccessKey` of its Secret. */
  async bucket(namespace: string, name: string): Promise<Loaded<LoadedBucket>> {
    const asset = await this.getResource('Bucket', namespace, name);
    if (!asset) return { ok: false, reason: 'NotFound', message: `Bucket ${namespace}/${name} not found` };
    const spec = asset.spec as BucketSpec;
    const provider = spec.generic ?? spec.awsS3 ?? spec.gcpCloudStorage;
    if (!provider)
      return {
        ok: false,
        reason: 'InvalidSpec',
        message: 'spec: set one of generic, awsS3, gcpCloudStorage',
      };
    const field = spec.generic ? 'generic' : spec.awsS3 ? 'awsS3' : 'gcpCloudStorage';
    const secret = await this.secret(namespace, provider.secretName);
    if (!secret) {
      return {
        ok: false,
        reason: 'SecretNotFound',
        message: `spec.${field}.secretName: Secret ${namespace}/${provider.secretName} not found`,
      };
    }
    const accessKeyId = AssetLoader.value(secret, 'accessKeyID');
    const secretAccessKey = AssetLoader.value(secret, 'secretAccessKey');
    if (!accessKeyId || !secretAccessKey) {
      return {
        ok: false,
        reason: 'InvalidSecret',
        message: `spec.${field}.secretName: Secret ${namespace}/${provider.secretName} needs keys accessKeyID and secretAccessKey`,
      };
    }
    const settings = bucketClientSettings(spec, this.endpointOverrides)!;
    const client = new S3Client({
      // awsS3: the SDK's own endpoint for the region (it knows the partitions: .com.cn and others).
      endpoint: settings.field === 'awsS3' && !settings.overridden ? undefined : settings.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials: { accessKeyId, secretAccessKey },
    });
    return { ok: true, value: { client, name: provider.name, asset: { namespace, name }, settings } };
  }

  /** Connection settings of a Database; credentials from the Secret of the Database's own name. */
  async database(namespace: string, name: string): Promise<Loaded<LoadedDatabase>> {
    const asset = await this.getResource('Database', namespace, name);
    if (!asset) return { ok: false, reason: 'NotFound', message: `Database ${namespace}/${name} not found` };
    const servers = (asset.spec as DatabaseSpec).zookeeper?.client?.servers ?? [];
    if (servers.length === 0)
      return { ok: false, reason: 'InvalidSpec', message: 'spec.zookeeper.client.servers: required' };
    const secret = await this.secret(namespace, name);
    if (!secret)
      return {
        ok: false,
        reason: 'SecretNotFound',
        message: `Secret ${namespace}/${name} (the Database's credentials) not found`,
      };
    const user = AssetLoader.value(secret, 'user');
    const password = AssetLoader.value(secret, 'password');
    if (!user || !password)
      return {
        ok: false,
        reason: 'InvalidSecret',
        message: `Secret ${namespace}/${name} needs keys user and password`,
      };
    return { ok: true, value: { servers, auth: { user, password } } };
  }
}
