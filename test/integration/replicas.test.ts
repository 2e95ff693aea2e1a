/**
 * Several replicas, as the install runs them: two orchestrator processes on one task queue, each
 * started the way the image starts it, as the install's ServiceAccount, electing a leader on a real
 * Lease of the management cluster.
 *
 * - One leads (the Lease, `/readyz` and the `leader` metric agree); only it runs the CRD bridge.
 * - Twenty LiveSynchronizations' replication activities spread over both processes.
 * - kill -9 of the leader: the other takes the Lease over and the dead one's replications within
 *   the heartbeat timeout; changes made meanwhile arrive, none lost, none written out of order.
 * - SIGTERM: the process releases the Lease (the other leads at its next retry), drains, exits 0,
 *   and its replications continue on the other.
 * - A Lease renewed by a holder whose clock is an hour off is not taken over; once the holder
 *   stops renewing, it is, after the lease duration.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1ConfigMap } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { workflowIdOf } from '../../src/api/contract.js';
import {
  OWNER_LABEL,
  ownerLabelValue,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import { stackDir } from '../../tools/stack/paths.js';
import {
  clusterClients,
  createClusterAssets,
  deleteAllOurs,
  eventually,
  managementClients,
  target,
} from './resources.js';
import { INSTALL_NAMESPACE, orchestratorKubeconfigFile } from './rbac.js';
import { stackEnv, uniqueName } from './stack-env.js';
import { WorkerProcess } from './worker-process.js';

const env = stackEnv();
const { custom, kc: management } = managementClients();
const mgmt = management.makeApiClient(CoreV1Api);
const leases = management.makeApiClient(CoordinationV1Api);
const src = clusterClients(env.SOURCE_KUBECONFIG).core;
const dst = clusterClients(env.DESTINATION_KUBECONFIG).core;

const ns = uniqueName('replicas');
const appNs = uniqueName('replicas-app');
const taskQueue = uniqueName('replicas');
const LIVE = 20;
/** The heartbeat timeout of the replication activity (workflows/configured.ts). */
const HEARTBEAT_TIMEOUT_MS = 10_000;
/** The tests' lease duration (worker-process.ts, TEST_LEASE_ARGS). */
const LEASE_DURATION_MS = 6000;

let saKubeconfig = '';
let temporal: Client;
let connection: Connection;
const uids = new Map<string, string>();

interface Replica {
  name: string;
  process: WorkerProcess;
  port: number;
  logFile: string;
}
const replicas = {} as Record<'a' | 'b', Replica>;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** A replica on `queue`, watching `namespace`, with its endpoints on a port of its own. */
async function newReplica(
  name: string,
  queue = taskQueue,
  namespace = ns,
  args: string[] = [],
): Promise<Replica> {
  const port = await freePort();
  const logFile = join(stackDir, 'logs', `${queue}-${name}.log`);
  const process = new WorkerProcess({
    taskQueue: queue,
    namespace,
    logFile,
    kubeconfig: () => saKubeconfig,
    args: ['--metrics-port', String(port), '--metrics-address', '127.0.0.1', ...args],
  });
  return { name, process, port, logFile };
}

interface Readyz {
  ok: boolean;
  checks: Record<string, { ok: boolean; message: string }>;
  leader?: { leading: boolean; identity: string; holder?: string; lease: string };
}

/** `/readyz` of a replica, or undefined while it does not answer. */
async function readyz(r: Replica): Promise<(Readyz & { status: number }) | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${r.port}/readyz`);
    return { status: res.status, ...((await res.json()) as Readyz) };
  } catch {
    return undefined;
  }
}

async function leaderMetric(r: Replica): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
  return /^resiliency_orchestrator_leader (\d)$/m.exec(text)?.[1];
}

/** The JSON log lines of a replica with message `msg`. */
function logLines(r: Replica, msg: string): Record<string, unknown>[] {
  return readFileSync(r.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

async function startReplica(r: Replica): Promise<Readyz> {
  r.process.start();
  return eventually(
    `replica ${r.name} ready`,
    async () => {
      const a = await readyz(r);
      return a?.status === 200 && a.ok ? a : undefined;
    },
    90_000,
  );
}

async function leaseHolder(name = taskQueue): Promise<string | undefined> {
  const lease = await leases.readNamespacedLease({ namespace: INSTALL_NAMESPACE, name });
  return lease.spec?.holderIdentity;
}

/** The worker identity (`pid@host`) running each LiveSynchronization's replication activity. */
async function runners(): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const [name, uid] of uids) {
    const id = workflowIdOf({ kind: 'LiveSynchronization', namespace: ns, name, uid });
    const d = await temporal.workflow.getHandle(id).describe();
    // The replication activity, started (2, PENDING_ACTIVITY_STATE_STARTED) on a worker; while it
    // waits for a retry it is scheduled, still naming the worker that last ran it.
    const started = (d.raw.pendingActivities ?? []).find(
      (a) => a.activityType?.name === 'replicate' && Number(a.state) === 2,
    );
    out.set(name, started?.lastWorkerIdentity ?? undefined);
  }
  return out;
}

const identityOf = (r: Replica) => new RegExp(`^${r.process.pid}@`);

/** Waits until every LiveSynchronization's replication runs on `r`. */
async function allReplicationsOn(r: Replica, timeoutMs: number): Promise<void> {
  await eventually(
    `every replication on ${r.name}`,
    async () => [...(await runners()).values()].every((id) => id && identityOf(r).test(id)),
    timeoutMs,
  );
}

/** A LiveSynchronization copying the ConfigMaps of the test's source namespace whose names match `nameRegex`. */
async function createLiveSync(name: string, nameRegex: string): Promise<string> {
  const created = (await custom.createNamespacedCustomObject({
    ...target('LiveSynchronization', ns, name),
    body: {
      apiVersion: 'automation.astronetes.io/v1alpha1',
      kind: 'LiveSynchronization',
      metadata: { name },
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 'source',
          destinationName: 'destination',
          replication: {
            forceNamespaceCreation: true,
            resyncPeriod: '1h0m0s',
            resources: [
              {
                version: 'v1',
                resource: 'configmaps',
                filters: {
                  namespaceSelector: { matchLabels: { 'replicas-run': ns } },
                  nameSelector: { regex: [nameRegex] },
                },
              },
            ],
          },
        },
      },
    },
  })) as { metadata: { uid: string } };
  return created.metadata.uid;
}

async function listConfigMaps(api: CoreV1Api, labelSelector?: string): Promise<V1ConfigMap[]> {
  return (await api.listNamespacedConfigMap({ namespace: appNs, labelSelector })).items;
}

/** Names whose destination copy is missing or differs from the source; empty when converged. */
async function differences(): Promise<string[]> {
  const source = new Map(
    (await listConfigMaps(src))
      .filter((c) => c.metadata!.name!.startsWith('cm-'))
      .map((c) => [c.metadata!.name!, JSON.stringify(c.data)]),
  );
  const diffs: string[] = [];
  const copies = new Map<string, string>();
  for (const c of await listConfigMaps(dst, OWNER_LABEL))
    copies.set(c.metadata!.name!, JSON.stringify(c.data));
  for (const [name, data] of source) if (copies.get(name) !== data) diffs.push(name);
  return diffs;
}

/**
 * Writes `seq` 1, 2, 3... into one ConfigMap per LiveSynchronization while `during` runs, and
 * records every value the destination copies show (polled): each copy's values must never go
 * down, and each must end at the last value written.
 */
/** The last `seq` written: it keeps growing across tests, so that each test's values exceed the last one's. */
let seq = 0;

async function sequencedWrites(
  during: () => Promise<void>,
): Promise<{ written: number; seen: Map<string, number[]> }> {
  let stop = false;
  const seen = new Map<string, number[]>();
  const writer = (async () => {
    while (!stop) {
      seq++;
      await Promise.all(
        [...uids.keys()].map((live) =>
          src.replaceNamespacedConfigMap({
            namespace: appNs,
            name: `cm-${live}-seq`,
            body: { metadata: { name: `cm-${live}-seq` }, data: { seq: String(seq) } },
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const watcher = (async () => {
    while (!stop) {
      for (const c of await listConfigMaps(dst, OWNER_LABEL)) {
        const name = c.metadata!.name!;
        if (!name.endsWith('-seq')) continue;
        const values = seen.get(name) ?? [];
        const v = Number(c.data?.seq ?? 0);
        if (values.at(-1) !== v) values.push(v);
        seen.set(name, values);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await writer;
  }
  // Let the copies catch up with the last value, still recording.
  const written = seq;
  await eventually(
    'every sequenced copy at the last value written',
    async () => {
      const copies = (await listConfigMaps(dst, OWNER_LABEL)).filter((c) =>
        c.metadata!.name!.endsWith('-seq'),
      );
      for (const c of copies) {
        const values = seen.get(c.metadata!.name!) ?? [];
        const v = Number(c.data?.seq ?? 0);
        if (values.at(-1) !== v) values.push(v);
        seen.set(c.metadata!.name!, values);
      }
      return copies.length === LIVE && copies.every((c) => Number(c.data?.seq) === written);
    },
    120_000,
  );
  await watcher.catch(() => undefined);
  return { written, seen };
}

function expectInOrder(seen: Map<string, number[]>, written: number): void {
  expect(seen.size).toBe(LIVE);
  for (const [name, values] of seen) {
    const descending = values.filter((v, i) => i > 0 && v < values[i - 1]);
    expect({ name, descending }).toEqual({ name, descending: [] });
    expect({ name, last: values.at(-1) }).toEqual({ name, last: written });
  }
}

beforeAll(async () => {
  saKubeconfig = await orchestratorKubeconfigFile();
  connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  await mgmt.createNamespace({ body: { metadata: { name: ns } } });
  await createClusterAssets(custom, mgmt, ns);
  await src.createNamespace({ body: { metadata: { name: appNs, labels: { 'replicas-run': ns } } } });
  for (let i = 0; i < LIVE; i++) {
    await Promise.all(
      ['0', '1', '2', 'seq'].map((j) =>
        src.createNamespacedConfigMap({
          namespace: appNs,
          body: { metadata: { name: `cm-live-${i}-${j}` }, data: { v: 'initial', seq: '0' } },
        }),
      ),
    );
  }
  replicas.a = await newReplica('a');
  replicas.b = await newReplica('b');
}, 120_000);

afterAll(async () => {
  for (const r of Object.values(replicas))
    if (!r.process.running) await startReplica(r).catch(() => undefined);
  await deleteAllOurs(custom, ns, 120_000).catch(() => undefined);
  for (const r of Object.values(replicas)) await r.process.stop('SIGTERM');
  await connection?.close();
}, 240_000);

it('elects one leader: the Lease, /readyz and the leader metric agree, and only it runs the bridge', async () => {
  const { a, b } = replicas;
  const first = await startReplica(a);
  await eventually('a leads', async () => (await readyz(a))?.leader?.leading, 30_000);
  await startReplica(b);
  const [ra, rb] = [await readyz(a), await readyz(b)];
  expect(ra).toMatchObject({
    status: 200,
    leader: { leading: true, lease: `${INSTALL_NAMESPACE}/${taskQueue}` },
  });
  expect(ra?.checks.bridge).toEqual({ ok: true, message: 'CRD bridge informers synced' });
  expect(rb).toMatchObject({ status: 200, leader: { leading: false, holder: ra!.leader!.identity } });
  expect(rb?.checks.bridge.message).toBe(`not the leader: ${ra!.leader!.identity} runs the CRD bridge`);
  expect(await leaseHolder()).toBe(ra!.leader!.identity);
  expect(ra!.leader!.identity).toMatch(/^local_|^[^_]+_[0-9a-f]{8}$/);
  expect(first.checks.worker).toEqual({ ok: true, message: 'worker polling' });
  expect([await leaderMetric(a), await leaderMetric(b)]).toEqual(['1', '0']);
  expect(logLines(a, 'bridge watching')).toHaveLength(1);
  expect(logLines(b, 'bridge watching')).toHaveLength(0);
}, 180_000);

it('spreads twenty LiveSynchronizations’ replications over both replicas', async () => {
  for (let i = 0; i < LIVE; i++) {
    const name = `live-${i}`;
    uids.set(name, await createLiveSync(name, `^cm-${name}-`));
  }
  await eventually(
    'every object copied',
    async () =>
      (await differences()).length === 0 && (await listConfigMaps(dst, OWNER_LABEL)).length === LIVE * 4,
    120_000,
  );
  const owners = new Set(
    (await listConfigMaps(dst, OWNER_LABEL)).map((c) => c.metadata!.labels![OWNER_LABEL]),
  );
  expect(owners.size).toBe(LIVE);
  expect(owners).toContain(ownerLabelValue({ namespace: ns, name: 'live-0' }));
  const running = await eventually(
    'every replication running',
    async () => {
      const r = await runners();
      return [...r.values()].every(Boolean) ? r : undefined;
    },
    60_000,
  );
  const onA = [...running.values()].filter((id) => identityOf(replicas.a).test(id!)).length;
  const onB = [...running.values()].filter((id) => identityOf(replicas.b).test(id!)).length;
  console.log(`replications: ${onA} on replica a, ${onB} on replica b`);
  expect(onA + onB).toBe(LIVE);
  expect(onA).toBeGreaterThan(0);
  expect(onB).toBeGreaterThan(0);
}, 240_000);

it('kill -9 of the leader: the other takes over the Lease and the replications; nothing lost, nothing out of order', async () => {
  const { a, b } = replicas;
  let killedAt = 0;
  let leaseTakeoverMs = 0;
  let activityTakeoverMs = 0;
  const { written, seen } = await sequencedWrites(async () => {
    await new Promise((r) => setTimeout(r, 2000)); // some writes before the crash
    killedAt = Date.now();
    await a.process.stop('SIGKILL');
    await eventually(
      'b leads with its bridge synced',
      async () => {
        const r = await readyz(b);
        return r?.leader?.leading && r.checks.bridge?.ok;
      },
      60_000,
    );
    leaseTakeoverMs = Date.now() - killedAt;
    await allReplicationsOn(b, 90_000);
    activityTakeoverMs = Date.now() - killedAt;
  });
  console.log(
    `kill -9 of the leader: Lease taken over after ${leaseTakeoverMs} ms (lease duration ${LEASE_DURATION_MS} ms), ` +
      `replications after ${activityTakeoverMs} ms (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms); last seq ${written}`,
  );
  expect(leaseTakeoverMs).toBeLessThan(LEASE_DURATION_MS + 10_000);
  expect(activityTakeoverMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 30_000);
  expectInOrder(seen, written);
  await eventually('nothing missing or stale', async () => (await differences()).length === 0, 60_000);
  expect(await leaseHolder()).toBe((await readyz(b))!.leader!.identity);
  expect(await leaderMetric(b)).toBe('1');

  // The new leader's bridge acts: a new LiveSynchronization is started and replicates.
  await src.createNamespacedConfigMap({
    namespace: appNs,
    body: { metadata: { name: 'cm-after-0' }, data: { v: 'x' } },
  });
  await createLiveSync('after', '^cm-after-');
  await eventually(
    'the new leader started the new LiveSynchronization',
    async () => {
      try {
        return (await dst.readNamespacedConfigMap({ namespace: appNs, name: 'cm-after-0' })).data?.v === 'x';
      } catch {
        return false;
      }
    },
    60_000,
  );
}, 300_000);

it('SIGTERM: releases the Lease at once, drains, exits 0, and its replications continue on the other', async () => {
  const { a, b } = replicas;
  await startReplica(a);
  expect((await readyz(a))?.leader?.leading).toBe(false);
  // Let some replications move back to a? They stay where they run: b runs all of them now.
  const beforeStop = await runners();
  expect([...beforeStop.values()].every((id) => id && identityOf(b).test(id))).toBe(true);
  let stoppedAt = 0;
  let leaseMs = 0;
  let exitMs = 0;
  let activityMs = 0;
  let code: number | string | null = null;
  const { written, seen } = await sequencedWrites(async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const exited = b.process.exited()!;
    stoppedAt = Date.now();
    const stopping = b.process.stop('SIGTERM');
    const leads = eventually('a leads', async () => (await readyz(a))?.leader?.leading, 30_000).then(() => {
      leaseMs = Date.now() - stoppedAt;
    });
    code = await exited;
    exitMs = Date.now() - stoppedAt;
    await stopping;
    await leads;
    await allReplicationsOn(a, 60_000);
    activityMs = Date.now() - stoppedAt;
  });
  console.log(
    `SIGTERM: Lease taken over after ${leaseMs} ms, process exited (code ${code}) after ${exitMs} ms, replications on the other after ${activityMs} ms`,
  );
  expect(code).toBe(0);
  // Released, not expired: a leads before the lease duration could have run out.
  expect(leaseMs).toBeLessThan(LEASE_DURATION_MS);
  expect(exitMs).toBeLessThan(30_000); // the Deployment's terminationGracePeriodSeconds
  expect(logLines(b, 'released the Lease')).toHaveLength(1);
  expect(logLines(b, 'orchestrator stopped')).toHaveLength(1);
  expectInOrder(seen, written);
  await eventually('nothing missing or stale', async () => (await differences()).length === 0, 60_000);
  // Every status whole: the Ready condition and the replication block as the activity writes them.
  for (const name of [...uids.keys(), 'after']) {
    const live = (await custom.getNamespacedCustomObject(target('LiveSynchronization', ns, name))) as {
      status?: { conditions?: { type: string; status: string }[]; replication?: Record<string, unknown> };
    };
    expect({ name, ready: live.status?.conditions?.find((c) => c.type === 'Ready')?.status }).toEqual({
      name,
      ready: 'True',
    });
    expect(live.status?.replication).toEqual(expect.objectContaining({}));
  }
}, 300_000);

it('does not take over a Lease whose holder renews with a clock an hour off; takes it once it stops', async () => {
  const { a } = replicas;
  const name = uniqueName('skewed');
  // A third process on a Lease of its own, its own task queue and an empty namespace: it competes
  // only with the test's fake holder below.
  const skewed = await newReplica('skew', uniqueName('skew'), uniqueName('skew'), [
    '--leader-election-id',
    name,
  ]);
  // A holder whose clock runs an hour behind ours: by the timestamps its Lease expired long ago.
  const hourAgo = () => new V1MicroTime(Date.now() - 3_600_000);
  await leases.createNamespacedLease({
    namespace: INSTALL_NAMESPACE,
    body: {
      metadata: { name },
      spec: {
        holderIdentity: 'ghost',
        leaseDurationSeconds: 6,
        acquireTime: hourAgo(),
        renewTime: hourAgo(),
        leaseTransitions: 0,
      },
    },
  });
  let renewing = true;
  const renewer = (async () => {
    while (renewing) {
      const l = await leases.readNamespacedLease({ namespace: INSTALL_NAMESPACE, name });
      l.spec = { ...l.spec, renewTime: hourAgo() };
      await leases.replaceNamespacedLease({ namespace: INSTALL_NAMESPACE, name, body: l });
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    await startReplica(skewed);
    await eventually(
      'the fake holder seen',
      async () => (await readyz(skewed))?.leader?.holder === 'ghost',
      10_000,
    );
    // Three lease durations of renewals: it must keep waiting.
    const until = Date.now() + 3 * LEASE_DURATION_MS;
    while (Date.now() < until) {
      const r = await readyz(skewed);
      expect(r?.leader).toMatchObject({ leading: false, holder: 'ghost' });
      await new Promise((res) => setTimeout(res, 1000));
    }
  } finally {
    renewing = false;
    await renewer;
  }
  const stoppedAt = Date.now();
  await eventually(
    'the dead holder’s Lease taken over',
    async () => (await readyz(skewed))?.leader?.leading,
    30_000,
  );
  const after = Date.now() - stoppedAt;
  console.log(
    `a Lease no longer renewed was taken over after ${after} ms (lease duration ${LEASE_DURATION_MS} ms)`,
  );
  expect(after).toBeGreaterThanOrEqual(LEASE_DURATION_MS - 1500);
  expect(await leaseHolder(name)).not.toBe('ghost');

  // Someone else writes the Lease (another replica won it while this one was cut off): the leader
  // stops leading at its next renewal, without waiting for any deadline.
  const held = await leases.readNamespacedLease({ namespace: INSTALL_NAMESPACE, name });
  held.spec = { ...held.spec, holderIdentity: 'usurper', renewTime: new V1MicroTime() };
  await leases.replaceNamespacedLease({ namespace: INSTALL_NAMESPACE, name, body: held });
  const lostAt = Date.now();
  await eventually(
    'the leader stopped leading',
    async () => (await readyz(skewed))?.leader?.leading === false,
    10_000,
  );
  console.log(`a leader whose Lease another holder took stopped leading after ${Date.now() - lostAt} ms`);
  expect(Date.now() - lostAt).toBeLessThan(LEASE_DURATION_MS);
  expect(logLines(skewed, 'stopped leading: the CRD bridge stops')).toHaveLength(1);
  // The first Lease was never touched: a still leads its own.
  expect((await readyz(a))?.leader?.leading).toBe(true);
  await skewed.process.stop('SIGTERM');
  await leases.deleteNamespacedLease({ namespace: INSTALL_NAMESPACE, name });
}, 180_000);
