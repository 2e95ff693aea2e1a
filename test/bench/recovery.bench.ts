/**
 * `npm run bench:recovery`: the disaster-day benchmark on the local stack (read from
 * `.stack/env`; STACK_DIR picks another stack). A script, not a timed test: it creates N
 * Deployments with `replicas: 0` in one namespace of the destination cluster, then measures in the
 * same run, in R rounds (best round against best round: the stack shares a small machine):
 *
 *   (1) patch baseline: a raw client that lists the Deployments (pages of 500) and sends each a
 *       JSON patch `replicas: 2`, with the same number of requests in flight as the plugin;
 *   (2) the `kubernetes-objects-transformation` run of a Task with the same patch (what a TaskRun
 *       runs: read, patch, mark, replace); target within 1.3x of (1);
 *   (3) restore baseline: a raw client that lists a LiveSynchronization's bucket originals of the
 *       Deployments, gets each and creates it (cleaned of uid and resourceVersion), same
 *       concurrency, into the emptied namespace;
 *   (4) the same Task with `fromOriginal` restoring those originals; target within 1.3x of (3).
 *
 * The plugin runs in this process through a PluginRun whose home is the destination cluster, as
 * in an install in the destination cluster. Prints a table, writes
 * `bench-results/recovery-<timestamp>.json`, deletes what it made. Exits non-zero only on errors.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { liveSyncPrefix, objectKey } from '../../src/bucket/layout.js';
import { createLogger } from '../../src/logger.js';
import { kubernetesObjectsTransformation } from '../../src/plugins/kubernetes-objects-transformation/index.js';
import {
  cleanForDestination,
  type KubeObject,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/transform.js';
import type { PluginOutcome } from '../../src/plugins/types.js';
import { readEnv } from '../../tools/stack/stack.js';
import { createNamespaces, deleteNamespaces, kubeConfig } from './kube.js';
import { renderTable, writeBenchResult, type Row } from './report.js';
import {
  benchProgress as progress,
  emptyPrefix,
  objectsAndRounds,
  pool,
  secs,
  stackS3Client,
  timed,
} from './util.js';

const TARGET_RATIO = 1.3;
/** The plugin's concurrency (CONCURRENCY in execute.ts and restore.ts): the baselines use the same. */
const IN_FLIGHT = 16;
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

const USAGE = `usage: npm run bench:recovery -- [options]   (each option also reads BENCH_<NAME>)
  --objects N   Deployments patched and restored (default 2000)
  --rounds N    rounds of (baselines, TaskRun patch, TaskRun restore); the best of each is compared (default 2)`;

function deployment(name: string): V1Deployment {
  return {
    metadata: { name, labels: { app: name, bench: 'recovery' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
}

async function main(): Promise<void> {
  const params = objectsAndRounds(USAGE, { objects: 2000, rounds: 2 });
  const env = readEnv();
  if (!env?.DESTINATION_KUBECONFIG || !env.S3_ENDPOINT)
    throw new Error('no stack env: start the stack (npm run stack -- up) or set STACK_DIR');
  const runId = randomBytes(3).toString('hex');
  const home = kubeConfig(env.DESTINATION_KUBECONFIG);
  const core = home.makeApiClient(CoreV1Api);
  const apps = home.makeApiClient(AppsV1Api);
  const s3 = stackS3Client(env);
  const bucket = env.S3_BUCKET;
  const ns = `rcbench-${runId}`;
  const liveSync = { namespace: 'bench', name: `recovery-${runId}` };
  const names = Array.from({ length: params.objects }, (_, i) => `app-${String(i).padStart(5, '0')}`);
  const gvr = { group: 'apps', version: 'v1', resource: 'deployments' };
  progress(`run ${runId}: ${params.objects} Deployments, ${params.rounds} rounds; ${os.cpus().length} cpus`);

  const list = async (): Promise<V1Deployment[]> => {
    const items: V1Deployment[] = [];
    let cont: string | undefined;
    do {
      const page = await apps.listNamespacedDeployment({ namespace: ns, limit: 500, _continue: cont });
      items.push(...page.items);
      cont = page.metadata?._continue;
    } while (cont);
    return items;
  };
  const setReplicas = async (replicas: number) => {
    const items = await list();
    await pool(items, IN_FLIGHT, async (d) => {
      await apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: d.metadata!.name!,
          body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
        },
        JSON_PATCH,
      );
    });
    return items.length;
  };
  const empty = async () => {
    await apps.deleteCollectionNamespacedDeployment({ namespace: ns });
    while ((await apps.listNamespacedDeployment({ namespace: ns, limit: 1 })).items.length)
      await new Promise((r) => setTimeout(r, 200));
  };
  const taskRun = (name: string, config: unknown) =>
    kubernetesObjectsTransformation.execute!({
      ref: { kind: 'TaskRun', namespace: ns, name, uid: `${name}-${runId}` },
      config,
      assets: {
        bucket: async () => ({
          ok: true,
          value: { client: s3, name: bucket, asset: { namespace: ns, name: 'bench' } },
        }),
      },
      home,
      log: createLogger({ level: 'warn' }),
      heartbeat: () => undefined,
      checkpoint: undefined,
      progress: () => undefined,
      report: () => undefined,
      dryRun: false,
      signal: new AbortController().signal,
    } as never);
  const patchEntry = {
    identifier: { group: 'apps', version: 'v1', resource: 'deployments' },
    selector: { matchLabels: { bench: 'recovery' } },
    patch: { operations: [{ op: 'replace', path: '/spec/replicas', value: 2 }] },
  };

  try {
    await createNamespaces(core, [ns], 1);
    await pool(names, 32, async (name) => {
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name) });
    });
    // The originals a LiveSynchronization would have stored (untimed).
    const originals = await list();
    await pool(originals, 32, async (d) => {
      const body = JSON.stringify({ ...d, apiVersion: 'apps/v1', kind: 'Deployment' });
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKey(liveSync, gvr, { namespace: ns, name: d.metadata!.name! }),
          Body: body,
        }),
      );
    });
    progress(
      `created ${names.length} Deployments in ${ns} on the destination cluster and their bucket originals`,
    );

    const rawRestore = async (): Promise<number> => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: `${liveSyncPrefix(liveSync)}apps-v1-deployments/`,
            ContinuationToken: token,
          }),
        );
        for (const o of page.Contents ?? []) keys.push(o.Key!);
        token = page.NextContinuationToken;
      } while (token);
      await pool(keys, IN_FLIGHT, async (key) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const obj = cleanForDestination(JSON.parse(await got.Body!.transformToString()) as KubeObject);
        await apps.createNamespacedDeployment({ namespace: ns, body: obj as V1Deployment });
      });
      return keys.length;
    };

    const rounds: {
      rawPatch: number;
      patch: number;
      rawRestore: number;
      restore: number;
      patchOutcome: PluginOutcome;
      restoreOutcome: PluginOutcome;
    }[] = [];
    for (let r = 1; r <= params.rounds; r++) {
      const rp = await timed(() => setReplicas(2));
      await setReplicas(0);
      const tp = await timed(() => taskRun(`patch-${r}`, { resources: [patchEntry] }));
      await empty();
      const rr = await timed(rawRestore);
      await empty();
      const tr = await timed(() =>
        taskRun(`restore-${r}`, {
          resources: [
            {
              ...patchEntry,
              fromOriginal: {
                enabled: true,
                bucketName: 'bench',
                liveSynchronization: `${liveSync.namespace}/${liveSync.name}`,
              },
            },
          ],
        }),
      );
      await setReplicas(0);
      rounds.push({
        rawPatch: rp.ms,
        patch: tp.ms,
        rawRestore: rr.ms,
        restore: tr.ms,
        patchOutcome: tp.value,
        restoreOutcome: tr.value,
      });
      progress(
        `round ${r}: raw patch ${secs(rp.ms)} (${rp.value}), TaskRun patch ${secs(tp.ms)} ${JSON.stringify(tp.value.progress)}, ` +
          `raw restore ${secs(rr.ms)} (${rr.value}), TaskRun fromOriginal ${secs(tr.ms)} ${JSON.stringify(tr.value.progress)}`,
      );
    }
    const best = (k: 'rawPatch' | 'patch' | 'rawRestore' | 'restore') => Math.min(...rounds.map((x) => x[k]));
    const rate = (ms: number) => `${Math.round((params.objects / ms) * 1000)} objects/s`;
    const patchRatio = best('patch') / best('rawPatch');
    const restoreRatio = best('restore') / best('rawRestore');
    const rows: Row[] = [
      { what: 'Deployments', value: String(params.objects), baseline: '', target: '', verdict: '' },
      {
        what: `patch baseline: raw list + JSON patch (best of ${params.rounds})`,
        value: `${secs(best('rawPatch'))} (${rate(best('rawPatch'))})`,
        baseline: '',
        target: `${IN_FLIGHT} in flight`,
        verdict: '',
      },
      {
        what: `TaskRun kubernetes-objects-transformation (best of ${params.rounds})`,
        value: `${secs(best('patch'))} (${rate(best('patch'))})`,
        baseline: secs(best('rawPatch')),
        target: `${patchRatio.toFixed(2)}x / <= ${TARGET_RATIO}x`,
        verdict: patchRatio <= TARGET_RATIO ? 'ok' : 'MISSED',
      },
      {
        what: `restore baseline: raw list + get + create (best of ${params.rounds})`,
        value: `${secs(best('rawRestore'))} (${rate(best('rawRestore'))})`,
        baseline: '',
        target: `${IN_FLIGHT} in flight`,
        verdict: '',
      },
      {
        what: `TaskRun fromOriginal restore (best of ${params.rounds})`,
        value: `${secs(best('restore'))} (${rate(best('restore'))})`,
        baseline: secs(best('rawRestore')),
        target: `${restoreRatio.toFixed(2)}x / <= ${TARGET_RATIO}x`,
        verdict: restoreRatio <= TARGET_RATIO ? 'ok' : 'MISSED',
      },
    ];
    const resultFile = writeBenchResult('recovery', {
      runId,
      params: { ...params, inFlight: IN_FLIGHT },
      rounds: rounds.map(({ patchOutcome, restoreOutcome, ...ms }) => ({
        ...ms,
        patchProgress: patchOutcome.progress,
        restoreProgress: restoreOutcome.progress,
      })),
      best: {
        rawPatchMs: best('rawPatch'),
        patchMs: best('patch'),
        rawRestoreMs: best('rawRestore'),
        restoreMs: best('restore'),
      },
      ratios: { patch: patchRatio, restore: restoreRatio, target: TARGET_RATIO },
    });
    console.log(renderTable(rows));
    console.log(`results: ${resultFile}`);
  } finally {
    progress('cleaning up');
    await apps.deleteCollectionNamespacedDeployment({ namespace: ns }).catch(() => undefined);
    const problems = await deleteNamespaces(core, [ns]);
    await emptyPrefix(s3, bucket, liveSyncPrefix(liveSync)).catch((err: Error) => problems.push(err.message));
    if (problems.length) progress(`clean-up problems: ${problems.join('; ')}`);
    s3.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
