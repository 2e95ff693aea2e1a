/**
 * `npm run bench:backup`: the Kubernetes Backup and restore benchmark on the local stack (read
 * from `.stack/env`; STACK_DIR picks another stack). A script, not a timed test: it creates N
 * ConfigMaps of about 1 KiB in one namespace of the source cluster, then measures in the same
 * run, in R rounds (best round against best round: the stack shares a small machine):
 *
 *   (1) backup baseline: a raw client that lists the ConfigMaps (pages of 500) and puts each one
 *       to the bucket as JSON, with the same number of writes in flight as the plugin;
 *   (2) the `kubernetes-objects-to-bucket` Backup of the namespace (discovery of every type,
 *       checksums, manifest); target within 1.3x of (1);
 *   (3) restore baseline: a raw client that gets each object the baseline wrote and creates it in
 *       a fresh namespace of the destination cluster, same concurrency;
 *   (4) the `bucket-to-kubernetes-objects` restore of the Backup into a fresh namespace
 *       (checksums checked, objects cleaned); target within 1.3x of (3).
 *
 * The plugins run in this process through a PluginRun whose assets are the stack's clusters and
 * bucket. Prints a table, writes `bench-results/backup-<timestamp>.json`, deletes what it made.
 * Exits non-zero only on errors, never on a missed target.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { createLogger } from '../../src/logger.js';
import { bucketToKubernetesObjects } from '../../src/plugins/bucket-to-kubernetes-objects/index.js';
import { kubernetesObjectsToBucket } from '../../src/plugins/kubernetes-objects-to-bucket/index.js';
import type { PluginOutcome } from '../../src/plugins/types.js';
import { readEnv } from '../../tools/stack/stack.js';
import { configMapBody, createNamespaces, deleteNamespaces, kubeConfig } from './kube.js';
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
/** The plugins' concurrency (CONCURRENCY in backup.ts and restore.ts): the baselines use the same. */
const IN_FLIGHT = 16;

const USAGE = `usage: npm run bench:backup -- [options]   (each option also reads BENCH_<NAME>)
  --objects N   ConfigMaps backed up and restored (default 5000)
  --rounds N    rounds of (baselines, backup, restore); the best of each is compared (default 2)`;

/** A PluginRun over the stack's clusters and bucket, as runPlugin would build it. */
function pluginRun(opts: {
  kind: 'Backup' | 'Synchronization';
  name: string;
  config: unknown;
  clusters: Record<string, KubeConfig>;
  s3: S3Client;
  bucket: string;
}) {
  return {
    ref: { kind: opts.kind, namespace: 'bench', name: opts.name, uid: opts.name },
    config: opts.config,
    assets: {
      kubernetesCluster: async (_ns: string, name: string) => ({ ok: true, value: opts.clusters[name] }),
      bucket: async (_ns: string, name: string) => ({
        ok: true,
        value: { client: opts.s3, name: opts.bucket, asset: { namespace: 'bench', name } },
      }),
    },
    home: opts.clusters.source,
    log: createLogger({ level: 'warn' }),
    heartbeat: () => undefined,
    checkpoint: undefined,
    progress: () => undefined,
    report: () => undefined,
    dryRun: false,
    signal: new AbortController().signal,
  } as never;
}

async function main(): Promise<void> {
  const params = objectsAndRounds(USAGE, { objects: 5000, rounds: 2 });
  const env = readEnv();
  if (!env?.SOURCE_KUBECONFIG || !env.S3_ENDPOINT)
    throw new Error('no stack env: start the stack (npm run stack -- up) or set STACK_DIR');
  const runId = randomBytes(3).toString('hex');
  const source = kubeConfig(env.SOURCE_KUBECONFIG);
  const destination = kubeConfig(env.DESTINATION_KUBECONFIG);
  const srcCore = source.makeApiClient(CoreV1Api);
  const dstCore = destination.makeApiClient(CoreV1Api);
  const s3 = stackS3Client(env);
  const bucket = env.S3_BUCKET;
  const ns = `bkbench-${runId}`;
  const base = `bench-backup-${runId}`;
  const restored: string[] = [];
  progress(`run ${runId}: ${params.objects} ConfigMaps, ${params.rounds} rounds; ${os.cpus().length} cpus`);
  try {
    await createNamespaces(srcCore, [ns], 1);
    const names = Array.from({ length: params.objects }, (_, i) => `cm-${String(i).padStart(5, '0')}`);
    await pool(names, 32, async (name) => {
      await srcCore.createNamespacedConfigMap({ namespace: ns, body: configMapBody(name, 1024) });
    });
    progress(`created ${names.length} ConfigMaps in source namespace ${ns}`);

    const rawBackup = async (prefix: string): Promise<number> => {
      const items: V1ConfigMap[] = [];
      let cont: string | undefined;
      do {
        const page = await srcCore.listNamespacedConfigMap({ namespace: ns, limit: 500, _continue: cont });
        items.push(...page.items);
        cont = page.metadata?._continue;
      } while (cont);
      await pool(items, IN_FLIGHT, async (cm) => {
        const body = JSON.stringify({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' });
        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${cm.metadata!.name}`, Body: body }),
        );
      });
      return items.length;
    };
    const rawRestore = async (prefix: string, into: string): Promise<number> => {
      await createNamespaces(dstCore, [into], 1);
      const keys = names.filter((n) => n !== 'kube-root-ca.crt');
      await pool(keys, IN_FLIGHT, async (name) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${name}` }));
        const cm = JSON.parse(await got.Body!.transformToString()) as V1ConfigMap;
        await dstCore.createNamespacedConfigMap({
          namespace: into,
          body: { metadata: { name: cm.metadata!.name, labels: cm.metadata!.labels }, data: cm.data },
        });
      });
      return keys.length;
    };

    const rounds: {
      rawBackup: number;
      backup: number;
      rawRestore: number;
      restore: number;
      outcome: PluginOutcome;
      restoreOutcome: PluginOutcome;
    }[] = [];
    for (let r = 1; r <= params.rounds; r++) {
      const rawPrefix = `${base}/raw-${r}/`;
      const rb = await timed(() => rawBackup(rawPrefix));
      const backupName = `backup-${r}`;
      const b = await timed(() =>
        kubernetesObjectsToBucket.execute!(
          pluginRun({
            kind: 'Backup',
            name: backupName,
            config: {
              source: { kubernetesCluster: { name: 'source', namespaces: [ns] } },
              destination: { bucket: { name: 'bench', basePath: base } },
            },
            clusters: { source, destination },
            s3,
            bucket,
          }),
        ),
      );
      const manifestPrefix = `${base}/_backups/bench/${backupName}/`;
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: manifestPrefix, MaxKeys: 1 }),
      );
      const runPrefix = /^(.*\/\d{8}T\d{6}Z\/)/.exec(listed.Contents![0].Key!)![1];
      const rawInto = `${ns}-raw-${r}`;
      const pluginInto = `${ns}-rs-${r}`;
      restored.push(rawInto, pluginInto);
      const rr = await timed(() => rawRestore(rawPrefix, rawInto));
      const rs = await timed(() =>
        bucketToKubernetesObjects.execute!(
          pluginRun({
            kind: 'Synchronization',
            name: `restore-${r}`,
            config: {
              source: { bucket: { name: 'bench', path: runPrefix } },
              destination: { kubernetesCluster: { name: 'destination' } },
              namespaceMapping: { [ns]: pluginInto },
            },
            clusters: { source, destination },
            s3,
            bucket,
          }),
        ),
      );
      rounds.push({
        rawBackup: rb.ms,
        backup: b.ms,
        rawRestore: rr.ms,
        restore: rs.ms,
        outcome: b.value,
        restoreOutcome: rs.value,
      });
      progress(
        `round ${r}: raw backup ${secs(rb.ms)} (${rb.value}), backup ${secs(b.ms)} ${JSON.stringify(b.value.progress)}, ` +
          `raw restore ${secs(rr.ms)} (${rr.value}), restore ${secs(rs.ms)} ${JSON.stringify(rs.value.progress)}`,
      );
    }
    const best = (k: 'rawBackup' | 'backup' | 'rawRestore' | 'restore') =>
      Math.min(...rounds.map((r) => r[k]));
    const rate = (ms: number) => `${Math.round((params.objects / ms) * 1000)} objects/s`;
    const backupRatio = best('backup') / best('rawBackup');
    const restoreRatio = best('restore') / best('rawRestore');
    const rows: Row[] = [
      {
        what: 'objects (ConfigMaps of 1 KiB)',
        value: String(params.objects),
        baseline: '',
        target: '',
        verdict: '',
      },
      {
        what: `backup baseline: raw list + put (best of ${params.rounds})`,
        value: `${secs(best('rawBackup'))} (${rate(best('rawBackup'))})`,
        baseline: '',
        target: `${IN_FLIGHT} in flight`,
        verdict: '',
      },
      {
        what: `Backup kubernetes-objects-to-bucket (best of ${params.rounds})`,
        value: `${secs(best('backup'))} (${rate(best('backup'))})`,
        baseline: secs(best('rawBackup')),
        target: `${backupRatio.toFixed(2)}x / <= ${TARGET_RATIO}x`,
        verdict: backupRatio <= TARGET_RATIO ? 'ok' : 'MISSED',
      },
      {
        what: `restore baseline: raw get + create (best of ${params.rounds})`,
        value: `${secs(best('rawRestore'))} (${rate(best('rawRestore'))})`,
        baseline: '',
        target: `${IN_FLIGHT} in flight`,
        verdict: '',
      },
      {
        what: `restore bucket-to-kubernetes-objects (best of ${params.rounds})`,
        value: `${secs(best('restore'))} (${rate(best('restore'))})`,
        baseline: secs(best('rawRestore')),
        target: `${restoreRatio.toFixed(2)}x / <= ${TARGET_RATIO}x`,
        verdict: restoreRatio <= TARGET_RATIO ? 'ok' : 'MISSED',
      },
    ];
    const resultFile = writeBenchResult('backup', {
      runId,
      params: { ...params, inFlight: IN_FLIGHT },
      rounds: rounds.map(({ outcome, restoreOutcome, ...ms }) => ({
        ...ms,
        backup: { ms: ms.backup, progress: outcome.progress },
        restore: { ms: ms.restore, progress: restoreOutcome.progress },
      })),
      best: {
        rawBackupMs: best('rawBackup'),
        backupMs: best('backup'),
        rawRestoreMs: best('rawRestore'),
        restoreMs: best('restore'),
      },
      ratios: { backup: backupRatio, restore: restoreRatio, target: TARGET_RATIO },
    });
    console.log(renderTable(rows));
    console.log(`results: ${resultFile}`);
  } finally {
    progress('cleaning up');
    const problems = [
      ...(await deleteNamespaces(srcCore, [ns])),
      ...(await deleteNamespaces(dstCore, restored)),
    ];
    await emptyPrefix(s3, bucket, `${base}/`).catch((err: Error) => problems.push(err.message));
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
