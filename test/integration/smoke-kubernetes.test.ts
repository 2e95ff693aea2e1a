/**
 * The four API servers are real: a ConfigMap is created and read back through
 * @kubernetes/client-node with the admin kubeconfigs of `.stack/env`, and each serves its version.
 */
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { TOOL_VERSIONS } from '../../tools/stack/tools.js';
import { sourceCluster, stackEnv, uniqueName } from './stack-env.js';

const clusters = [
  ['MANAGEMENT', () => stackEnv().MANAGEMENT_KUBECONFIG, TOOL_VERSIONS.kubernetes],
  ['SOURCE', () => stackEnv().SOURCE_KUBECONFIG, TOOL_VERSIONS.kubernetes],
  ['DESTINATION', () => stackEnv().DESTINATION_KUBECONFIG, TOOL_VERSIONS.kubernetes],
  ['SOURCE_V129', () => sourceCluster('source-v129').kubeconfig, TOOL_VERSIONS.kubernetesSource],
] as const;

describe.each(clusters)('%s kube-apiserver', (cluster, kubeconfig, version) => {
  const kc = new KubeConfig();
  beforeAll(() => kc.loadFromFile(kubeconfig()));

  it(`serves Kubernetes ${version}`, async () => {
    expect((await kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe(`v${version}`);
  });

  it('creates and reads a ConfigMap in a namespace of its own', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = uniqueName('smoke');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'probe' }, data: { cluster, written: 'yes' } },
    });
    const read = await core.readNamespacedConfigMap({ namespace, name: 'probe' });
    expect(read.data).toEqual({ cluster, written: 'yes' });
    expect(read.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
  });
});

it('keeps the clusters apart (one etcd, separate prefixes)', async () => {
  const [management, source, destination, sourceV129] = clusters.map(([, kubeconfig]) => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig());
    return kc.makeApiClient(CoreV1Api);
  });
  const namespace = uniqueName('only-on-source');
  await source.createNamespace({ body: { metadata: { name: namespace } } });
  for (const other of [management, destination, sourceV129]) {
    await expect(other.readNamespace({ name: namespace })).rejects.toMatchObject({ code: 404 });
  }
});
