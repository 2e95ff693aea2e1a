/**
 * The three API servers are real: a ConfigMap is created and read back through
 * @kubernetes/client-node with the admin kubeconfigs of `.stack/env`.
 */
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { stackEnv, uniqueName } from './stack-env.js';

const clusters = ['MANAGEMENT', 'SOURCE', 'DESTINATION'] as const;

describe.each(clusters)('%s kube-apiserver', (cluster) => {
  const kc = new KubeConfig();
  beforeAll(() => kc.loadFromFile(stackEnv()[`${cluster}_KUBECONFIG`]));

  it('serves Kubernetes 1.34', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe('v1.34.4');
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

it('keeps the three clusters apart (one etcd, separate prefixes)', async () => {
  const env = stackEnv();
  const [source, destination] = ['SOURCE', 'DESTINATION'].map((c) => {
    const kc = new KubeConfig();
    kc.loadFromFile(env[`${c}_KUBECONFIG` as 'SOURCE_KUBECONFIG']);
    return kc.makeApiClient(CoreV1Api);
  });
  const namespace = uniqueName('only-on-source');
  await source.createNamespace({ body: { metadata: { name: namespace } } });
  await expect(destination.readNamespace({ name: namespace })).rejects.toMatchObject({ code: 404 });
});
