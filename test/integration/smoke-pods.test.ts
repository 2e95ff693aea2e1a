/**
 * Pods are real enough in the management cluster: kube-scheduler binds a Pod to the kwok node, kwok
 * (tools/stack/kwok-stages.yaml) takes it to Running and then Succeeded, or Failed with exit code
 * 1 when an image ends with `:fail`; no container ever runs. kube-controller-manager deletes a
 * deleted namespace's objects and then the namespace, and garbage-collects an object whose owner
 * is gone.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { waitFor } from '../bench/util.js';
import { KWOK_NODE } from '../../tools/stack/stack.js';
import { stackEnv, uniqueName } from './stack-env.js';

const core = (() => {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv().MANAGEMENT_KUBECONFIG);
  return kc.makeApiClient(CoreV1Api);
})();

/** Resolves once `probe` is true, as `waitFor` does, for a probe that answers true or false. */
const until = (what: string, probe: () => Promise<boolean>, timeoutMs = 60_000) =>
  waitFor(what, probe, timeoutMs, undefined, 100);

const gone = (read: () => Promise<unknown>) => () =>
  read().then(
    () => false,
    (err: { code?: number }) => err.code === 404,
  );

function pod(name: string, image: string): V1Pod {
  // The command is never run (kwok runs no container): the image alone decides the outcome.
  return {
    metadata: { name },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image, command: ['sh', '-c', 'exit 0'] }] },
  };
}

/** Creates the Pod and follows it to a terminal phase, returning it and every phase seen on the way. */
async function runToEnd(namespace: string, body: V1Pod): Promise<{ pod: V1Pod; phases: string[] }> {
  const name = body.metadata?.name as string;
  await core.createNamespacedPod({ namespace, body });
  const phases: string[] = [];
  let last: V1Pod | undefined;
  await until(`Pod ${name} to finish`, async () => {
    last = await core.readNamespacedPod({ namespace, name });
    const phase = last.status?.phase ?? '';
    if (phases.at(-1) !== phase) phases.push(phase);
    return phase === 'Succeeded' || phase === 'Failed';
  });
  return { pod: last as V1Pod, phases };
}

describe('Pods in the management cluster (kube-scheduler, kwok)', () => {
  const namespace = uniqueName('smoke-pods');
  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('has the kwok node Ready, without the not-ready taint (node-lifecycle lifted it)', async () => {
    await until('the kwok node to be Ready and untainted', async () => {
      const node = await core.readNode({ name: KWOK_NODE });
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      return ready && !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    });
    const node = await core.readNode({ name: KWOK_NODE });
    expect(node.metadata?.labels).toMatchObject({ type: 'kwok' });
    // cpu 1000, memory 1Ti, pods 10000, as the API server writes the quantities.
    expect(node.status?.allocatable).toMatchObject({ cpu: '1k', memory: '1Ti', pods: '10k' });
  });

  it('schedules a plain Pod onto the kwok node, runs it, and has it succeed with exit code 0', async () => {
    const { pod: done, phases } = await runToEnd(namespace, pod('ok', 'busybox:1.36'));
    expect(done.spec?.nodeName).toBe(KWOK_NODE);
    expect(phases).toContain('Running');
    expect(phases.at(-1)).toBe('Succeeded');
    expect(done.status?.podIP).toMatch(/^10\.244\./);
    expect(done.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');
    expect(done.status?.containerStatuses?.[0].state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
  });

  it('fails a Pod whose image ends with :fail: exit code 1, reason Error', async () => {
    const { pod: done, phases } = await runToEnd(namespace, pod('broken', 'registry.example/tool:fail'));
    expect(done.spec?.nodeName).toBe(KWOK_NODE);
    expect(phases).toContain('Running');
    expect(phases.at(-1)).toBe('Failed');
    expect(done.status?.containerStatuses?.[0].state?.terminated).toMatchObject({
      exitCode: 1,
      reason: 'Error',
    });
  });
});

describe('the management cluster’s kube-controller-manager', () => {
  it('deletes a namespace with objects in it (namespace controller; kwok removes the Pod)', async () => {
    const namespace = uniqueName('smoke-ns-delete');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'data' }, data: { a: '1' } },
    });
    await core.createNamespacedPod({ namespace, body: pod('runs', 'busybox:1.36') });
    await until('the Pod to be scheduled', async () =>
      Boolean((await core.readNamespacedPod({ namespace, name: 'runs' })).spec?.nodeName),
    );
    await core.deleteNamespace({ name: namespace });
    await until(
      `namespace ${namespace} to be deleted`,
      gone(() => core.readNamespace({ name: namespace })),
    );
  });

  it('garbage-collects an object whose owner was deleted', async () => {
    const namespace = uniqueName('smoke-gc');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    try {
      const owner = await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'owner' } },
      });
      const ownerReferences = [
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string },
      ];
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'owned', ownerReferences } },
      });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'bystander' } } });
      await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });
      await until(
        'the owned ConfigMap to be garbage-collected',
        gone(() => core.readNamespacedConfigMap({ namespace, name: 'owned' })),
      );
      await expect(core.readNamespacedConfigMap({ namespace, name: 'bystander' })).resolves.toBeDefined();
    } finally {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    }
  });
});
