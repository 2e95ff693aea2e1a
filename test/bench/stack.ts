/** The local stack and our custom resources, as the bench scripts use them. */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, kindInfo, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { status as stackStatus, up, type StackEnv } from '../../tools/stack/stack.js';
import { sleep, statusOf, waitFor } from './util.js';

/**
 * Reuses the running local stack, or brings it up. A stack with some components down may be in
 * the middle of another engineer's crash test (which stops and starts components): wait for it
 * to be whole again rather than restarting everything under their feet.
 */
export async function ensureStack(progress: (line: string) => void, signal: AbortSignal): Promise<StackEnv> {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const rows = await stackStatus();
    const down = rows.filter((r) => r.state !== 'up').map((r) => r.component);
    if (rows.length === 0 || down.length === 0 || down.length === rows.length || Date.now() > deadline) break;
    progress(`stack: waiting for ${down.join(', ')} to come back (another run may be restarting it)`);
    await sleep(5000, signal);
  }
  const { env } = await up({ print: (line) => progress(line) });
  return env;
}

/** The CustomObjectsApi coordinates of one of our kinds in `namespace` (`name` '' for the collection). */
export function crTarget(kind: Kind, namespace: string, name = '') {
  const { group, plural } = kindInfo(kind);
  return { group, version: API_VERSION, namespace, plural, name };
}

/** One of our custom resources, or undefined when it does not exist. */
export async function getCr(custom: CustomObjectsApi, kind: Kind, ns: string, name: string) {
  try {
    return (await custom.getNamespacedCustomObject(crTarget(kind, ns, name))) as Resource;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** The `Ready` condition of a resource's status. */
export const readyOf = (r: Resource | undefined) => r?.status?.conditions?.find((c) => c.type === 'Ready');

/**
 * Creates the KubernetesClusters `source` and `destination` in `namespace` (their Secrets of the
 * same names already there; `onCreated` records each for clean-up) and waits until the
 * orchestrator `orch` reports both Ready; fails at once, naming its log, when it exits first.
 */
export async function createReadyClusters(opts: {
  custom: CustomObjectsApi;
  namespace: string;
  orch: { exited?: unknown };
  logFile: string;
  signal: AbortSignal;
  onCreated: (name: string) => void;
}): Promise<void> {
  const { custom, namespace, orch } = opts;
  for (const name of ['source', 'destination']) {
    opts.onCreated(name);
    await custom.createNamespacedCustomObject({
      ...crTarget('KubernetesCluster', namespace),
      body: {
        apiVersion: 'assets.astronetes.io/v1alpha1',
        kind: 'KubernetesCluster',
        metadata: { name, namespace },
        spec: { secretName: name },
      },
    });
  }
  await waitFor(
    'the orchestrator to report both KubernetesClusters Ready',
    async () => {
      if (orch.exited)
        throw new Error(`the orchestrator exited (${JSON.stringify(orch.exited)}); see ${opts.logFile}`);
      const both = await Promise.all(
        ['source', 'destination'].map((n) => getCr(custom, 'KubernetesCluster', namespace, n)),
      );
      return both.every((r) => readyOf(r)?.status === 'True');
    },
    180_000,
    opts.signal,
  );
}
