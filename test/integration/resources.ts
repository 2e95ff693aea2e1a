/**
 * Helpers the integration tests share for our custom resources in the stack's management
 * cluster: read, wait for a condition, and delete everything of ours in a namespace (so that no
 * workflow is left running on a test's task queue after the test).
 */
import { readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Client, Connection } from '@temporalio/client';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { ALL_KINDS, API_VERSION, kindInfo, type Kind } from '../../src/api/kinds.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import type { Resource } from '../../src/api/types.js';
import { stackS3Client, waitFor } from '../bench/util.js';
import { stackEnv } from './stack-env.js';

/** A CustomObjectsApi on the management cluster, and its KubeConfig. */
export function managementClients(): { kc: KubeConfig; custom: CustomObjectsApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv().MANAGEMENT_KUBECONFIG);
  return { kc, custom: kc.makeApiClient(CustomObjectsApi) };
}

/** Core and apps clients (and the KubeConfig) of one of the stack's clusters, from its kubeconfig file. */
export function clusterClients(file: string): { kc: KubeConfig; core: CoreV1Api; apps: AppsV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** An S3 client on the stack's MinIO, with its credentials. */
export function bucketClient(): S3Client {
  return stackS3Client(stackEnv());
}

/** The coordinates of one object of ours, as CustomObjectsApi takes them. */
export function target(kind: Kind, namespace: string, name: string) {
  const { group, plural } = kindInfo(kind);
  return { group, version: API_VERSION, namespace, plural, name };
}

/** Reads one object, or undefined when it does not exist. */
export async function getResource(
  custom: CustomObjectsApi,
  kind: Kind,
  namespace: string,
  name: string,
): Promise<Resource | undefined> {
  try {
    return (await custom.getNamespacedCustomObject(target(kind, namespace, name))) as Resource;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Polls `probe` until it returns something truthy; fails after `timeoutMs` naming `what`. */
export function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(what, probe, timeoutMs);
}

/**
 * Deletes every object of our nine kinds in `namespace` and waits until they are gone, which
 * (with a bridge running) means their workflows were cancelled and cleaned up.
 */
export async function deleteAllOurs(
  custom: CustomObjectsApi,
  namespace: string,
  timeoutMs = 60_000,
): Promise<void> {
  const listAll = async () => {
    const all: Resource[] = [];
    for (const kind of ALL_KINDS) {
      const { group, plural } = kindInfo(kind);
      const list = (await custom.listNamespacedCustomObject({
        group,
        version: API_VERSION,
        namespace,
        plural,
      })) as {
        items: Resource[];
      };
      all.push(...list.items);
    }
    return all;
  };
  // Deleting again on every poll catches objects created meanwhile (a plan's last firing).
  const deleteRemaining = async () => {
    const left = await listAll();
    for (const r of left.filter((o) => !o.metadata.deletionTimestamp)) {
      await custom
        .deleteNamespacedCustomObject(target(r.kind, namespace, r.metadata.name))
        .catch(() => undefined);
    }
    return left.length;
  };
  await eventually(
    `every object in ${namespace} to go`,
    async () => (await deleteRemaining()) === 0,
    timeoutMs,
  );
}

/** The kinds a Synchronization test creates and deletes. */
export type SynchronizationKind = 'Synchronization' | 'SynchronizationPlan' | 'Task' | 'TaskRun';

/** Create, delete-and-wait and wait-until-finished for our automation kinds in one namespace. */
export function synchronizationHelpers(custom: CustomObjectsApi, namespace: string) {
  return {
    async create(kind: SynchronizationKind, name: string, spec: unknown): Promise<Resource> {
      return (await custom.createNamespacedCustomObject({
        ...target(kind, namespace, ''),
        body: { apiVersion: `automation.astronetes.io/${API_VERSION}`, kind, metadata: { name }, spec },
      })) as Resource;
    },
    async remove(kind: SynchronizationKind, name: string): Promise<void> {
      await custom.deleteNamespacedCustomObject(target(kind, namespace, name)).catch(() => undefined);
      await eventually(
        `${kind} ${name} to go`,
        async () => (await getResource(custom, kind, namespace, name)) === undefined,
      );
    },
    /** Waits until Synchronization `name` is Succeeded or Failed, and returns it. */
    finished(name: string, timeoutMs = 60_000): Promise<Resource> {
      return eventually(
        `Synchronization ${name} to finish`,
        async () => {
          const r = await getResource(custom, 'Synchronization', namespace, name);
          return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
        },
        timeoutMs,
      );
    },
  };
}

let workflowBundle: Promise<WorkflowBundle> | undefined;

/** The workflow bundle, built once per test file without the bundler's output, for every orchestrator the file starts. */
export function quietWorkflowBundle(): Promise<WorkflowBundle> {
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  workflowBundle ??= bundleWorkflowCode({ workflowsPath, logger: silent });
  return workflowBundle;
}

/**
 * Secrets `source` and `destination` (key kubeconfig.yaml) with the stack's admin kubeconfigs;
 * `sourceKubeconfig` picks another source cluster (the older `source-v129`) than the stack's `source`.
 */
export async function createKubeconfigSecrets(
  core: CoreV1Api,
  namespace: string,
  sourceKubeconfig = stackEnv().SOURCE_KUBECONFIG,
): Promise<void> {
  const env = stackEnv();
  for (const [name, file] of [
    ['source', sourceKubeconfig],
    ['destination', env.DESTINATION_KUBECONFIG],
  ]) {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name }, stringData: { 'kubeconfig.yaml': readFileSync(file, 'utf8') } },
    });
  }
}

/** The Secrets above plus KubernetesClusters `source` and `destination` that use them. */
export async function createClusterAssets(
  custom: CustomObjectsApi,
  core: CoreV1Api,
  namespace: string,
  sourceKubeconfig?: string,
): Promise<void> {
  await createKubeconfigSecrets(core, namespace, sourceKubeconfig);
  for (const name of ['source', 'destination']) {
    await custom.createNamespacedCustomObject({
      ...target('KubernetesCluster', namespace, name),
      body: {
        apiVersion: 'assets.astronetes.io/v1alpha1',
        kind: 'KubernetesCluster',
        metadata: { name },
        spec: { secretName: name },
      },
    });
  }
}

/** A Secret `bucket-credentials` and a Bucket `name` (default `backups`) on the stack's S3 server. */
export async function createBucketAsset(
  custom: CustomObjectsApi,
  core: CoreV1Api,
  namespace: string,
  name = 'backups',
): Promise<void> {
  const env = stackEnv();
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'bucket-credentials' },
      stringData: { accessKeyID: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    },
  });
  await custom.createNamespacedCustomObject({
    ...target('Bucket', namespace, name),
    body: {
      apiVersion: 'assets.astronetes.io/v1alpha1',
      kind: 'Bucket',
      metadata: { name, namespace },
      spec: {
        generic: {
          name: env.S3_BUCKET,
          endpoint: env.S3_ENDPOINT.replace(/^https?:\/\//, ''),
          useSSL: false,
          secretName: 'bucket-credentials',
        },
      },
    },
  });
}

/** SHA-256 for SignatureV4, from node:crypto (HMAC when given a secret). */
class Sha256 {
  private readonly h;
  constructor(secret?: unknown) {
    this.h = secret ? createHmac('sha256', secret as Uint8Array) : createHash('sha256');
  }
  update(data: unknown): void {
    this.h.update(data as Uint8Array);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

/**
 * Creates S3 bucket `bucket` on the stack's MinIO with a hard quota of `bytes` (MinIO's admin API,
 * as `mc quota set` calls it): a real server that refuses every write bigger than the quota, as
 * a full bucket does.
 */
export async function createFullBucket(bucket: string, bytes = 1): Promise<void> {
  const env = stackEnv();
  const s3 = bucketClient();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const url = new URL(env.S3_ENDPOINT);
  const signer = new SignatureV4({
    service: 's3',
    region: env.S3_REGION,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    sha256: Sha256,
  });
  const body = JSON.stringify({ quota: bytes, quotatype: 'hard' });
  const signed = await signer.sign({
    method: 'PUT',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/minio/admin/v3/set-bucket-quota',
    query: { bucket },
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const res = await fetch(`${env.S3_ENDPOINT}/minio/admin/v3/set-bucket-quota?bucket=${bucket}`, {
    method: 'PUT',
    headers: signed.headers,
    body,
  });
  if (!res.ok) throw new Error(`set-bucket-quota ${bucket}: HTTP ${res.status} ${await res.text()}`);
}

/** The highest attempt of any activity of a workflow, from its Temporal history: 2 or more after a retry. */
export async function maxActivityAttempt(workflowId: string): Promise<number> {
  const env = stackEnv();
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
    return Math.max(0, ...attempts);
  } finally {
    await connection.close();
  }
}
