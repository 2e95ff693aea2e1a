/**
 * What the backup plugins and the restore plugins share: the config blocks (a Backup's bucket
 * destination, a restore's source), opening a run for writing with its checkpoint, ending it
 * Complete or Partial, and opening a backup for reading with every failure named by field.
 * See docs/backup.md.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Type, type Static } from '@sinclair/typebox';
import { FailureType } from '../api/errors.js';
import type { LoadedBucket } from '../assets/load.js';
import {
  BackupReadError,
  BackupReader,
  BackupWriter,
  BucketWriteError,
  type ManifestHeader,
} from '../bucket/backup-store.js';
import { BACKUP_MANIFEST, backupPrefix, runName } from '../bucket/layout.js';
import type { BackupManifest } from '../bucket/manifest.js';
import type { PluginOutcome, PluginRun, Problem } from './types.js';

/** `destination.bucket` of a Backup (seed: BackupDestinationBucket). */
export const BackupBucket = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Bucket asset to write to' }),
    basePath: Type.Optional(Type.String({ description: 'key prefix for the Backup data' })),
  },
  { additionalProperties: false },
);

/** `destination` of a Backup. */
export const BackupDestination = Type.Object({ bucket: BackupBucket }, { additionalProperties: false });

/**
 * `source` of a restore: a Backup of the restore's namespace (its last run, as its status names
 * it), or a run's prefix in a Bucket, for when the Backup object is gone with its cluster.
 */
export const RestoreSource = Type.Object(
  {
    backup: Type.Optional(
      Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    bucket: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, description: 'Bucket asset holding the backup' }),
          path: Type.String({
            minLength: 1,
            description:
              "the run's prefix, as a Backup's status.report.manifest.key shows it without manifest.json",
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type RestoreSource = Static<typeof RestoreSource>;

/** Checks that a restore's source names exactly one of backup and bucket. */
export function checkRestoreSource(source: RestoreSource): Problem[] {
  const set = [source.backup && 'backup', source.bucket && 'bucket'].filter(Boolean);
  if (set.length === 1) return [];
  return [
    {
      path: 'spec.config.source',
      message: set.length
        ? 'set only one of backup, bucket'
        : 'set one of backup (a Backup name) or bucket (a name and path)',
    },
  ];
}

/** Where a Backup's status says its last run's manifest is. */
export interface ManifestLocation {
  /** The Bucket asset's name. */
  bucket: string;
  /** The manifest's key. */
  key: string;
}

/** What a backup run's `status.report` holds. */
export interface BackupReport {
  manifest: ManifestLocation;
  state: BackupManifest['state'];
  items: number;
  bytes: number;
  counts?: BackupManifest['counts'];
  reason?: string;
}

/** The checkpoint of a backup run: its name, so a retried attempt resumes the same run. */
interface BackupCheckpoint {
  run: string;
}

async function loadBucket(run: PluginRun, name: string, field: string): Promise<LoadedBucket> {
  const loaded = await run.assets.bucket(run.ref.namespace, name);
  if (!loaded.ok)
    throw ApplicationFailure.nonRetryable(`${field}: ${loaded.message}`, FailureType.AssetNotReady);
  return loaded.value;
}

/**
 * Runs a backup: opens the run (a new one, or the checkpoint's after a lost worker), lets `body`
 * write its files, then writes the `Complete` manifest. A failure or a cancellation leaves a
 * `Partial` manifest saying why; a refused write ends `BucketWriteFailed`, naming the bucket.
 */
export async function runBackup(
  run: PluginRun,
  opts: {
    plugin: string;
    destination: Static<typeof BackupDestination>;
    source: ManifestHeader['source'];
    body(writer: BackupWriter): Promise<void>;
    /** The outcome's message from the finished manifest. */
    describe(manifest: BackupManifest): string;
  },
): Promise<PluginOutcome> {
  const field = 'spec.config.destination.bucket.name';
  const bucket = await loadBucket(run, opts.destination.bucket.name, field);
  const checkpoint = run.checkpoint as BackupCheckpoint | undefined;
  const resumed = typeof checkpoint?.run === 'string';
  const name = resumed ? checkpoint!.run : runName(new Date());
  run.heartbeat({ run: name } satisfies BackupCheckpoint);
  const prefix = backupPrefix(run.ref, name, opts.destination.bucket.basePath);
  const location: ManifestLocation = {
    bucket: opts.destination.bucket.name,
    key: `${prefix}${BACKUP_MANIFEST}`,
  };
  const where = `Bucket ${run.ref.namespace}/${opts.destination.bucket.name} (S3 bucket ${bucket.name})`;
  const header: ManifestHeader = {
    plugin: opts.plugin,
    backup: { namespace: run.ref.namespace, name: run.ref.name, uid: run.ref.uid },
    run: name,
    source: opts.source,
    startedAt: new Date().toISOString(),
  };
  let writer: BackupWriter;
  try {
    writer = await BackupWriter.open({ client: bucket.client, bucket: bucket.name, prefix }, header, resumed);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `${field}: ${where}: ${(err as Error).message}`,
      FailureType.BucketWriteFailed,
    );
  }
  if (resumed) run.log.info({ run: name, prefix }, 'backup resumed after a lost worker');
  const report = (state: BackupManifest['state'], extra: Partial<BackupReport> = {}) =>
    run.report({ manifest: location, state, ...writer.totals, ...extra } satisfies BackupReport);
  report('InProgress');
  try {
    await opts.body(writer);
  } catch (err) {
    const cancelled = run.signal.aborted || err instanceof CancelledFailure;
    const reason = cancelled
      ? 'cancelled: the Backup was deleted while it ran'
      : err instanceof BucketWriteError
        ? `${where}: ${err.message}`
        : (err as Error).message;
    const recorded = await writer.partial(reason);
    report('Partial', { reason });
    run.log.error({ run: name, prefix, reason, manifestWritten: recorded }, 'backup ended partial');
    if (cancelled) throw err;
    if (err instanceof BucketWriteError)
      throw ApplicationFailure.nonRetryable(`${field}: ${reason}`, FailureType.BucketWriteFailed);
    throw err;
  }
  let manifest: BackupManifest;
  try {
    manifest = await writer.complete();
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `${field}: ${where}: ${(err as Error).message}`,
      FailureType.BucketWriteFailed,
    );
  }
  report('Complete', { counts: manifest.counts });
  run.log.info(
    {
      run: name,
      prefix,
      items: manifest.totals.items,
      bytes: manifest.totals.bytes,
      written: writer.written,
      skipped: writer.skipped,
    },
    'backup complete',
  );
  return {
    message: `${opts.describe(manifest)}; manifest ${location.key} in Bucket ${location.bucket}`,
    progress: {
      items: manifest.totals.items,
      bytes: manifest.totals.bytes,
      written: writer.written,
      alreadyInBucket: writer.skipped,
    },
  };
}

/**
 * Opens the backup a restore names, checked: it exists, its manifest is readable, it was written
 * by `plugin` (the backup kind this restore takes), and it is Complete.
 */
export async function openRestoreSource(
  run: PluginRun,
  source: RestoreSource,
  plugin: { backup: string; restore: string },
): Promise<{ reader: BackupReader; describe: string }> {
  let bucketName: string;
  let prefix: string;
  let field: string;
  let describe: string;
  if (source.backup) {
    field = 'spec.config.source.backup.name';
    const backup = await run.assets.getResource('Backup', run.ref.namespace, source.backup.name);
    if (!backup)
      throw ApplicationFailure.nonRetryable(
        `${field}: Backup ${run.ref.namespace}/${source.backup.name} not found`,
        FailureType.BackupNotFound,
      );
    const status = (backup as { status?: { phase?: string; report?: Partial<BackupReport> } }).status;
    const at = status?.report?.manifest;
    if (!at?.bucket || !at.key)
      throw ApplicationFailure.nonRetryable(
        `${field}: Backup ${run.ref.namespace}/${source.backup.name} has written no backup yet (phase ${status?.phase ?? 'Pending'})`,
        FailureType.BackupIncomplete,
      );
    bucketName = at.bucket;
    prefix = at.key.slice(0, at.key.length - BACKUP_MANIFEST.length);
    describe = `Backup ${source.backup.name}`;
  } else {
    field = 'spec.config.source.bucket';
    bucketName = source.bucket!.name;
    prefix = `${source.bucket!.path.replace(/^\/+/, '').replace(/\/*(manifest\.json)?$/, '')}/`;
    describe = `${source.bucket!.name}/${prefix}`;
  }
  const bucket = await loadBucket(run, bucketName, source.backup ? field : `${field}.name`);
  let reader: BackupReader;
  try {
    reader = await BackupReader.open({ client: bucket.client, bucket: bucket.name, prefix });
  } catch (err) {
    if (!(err instanceof BackupReadError)) throw err;
    throw ApplicationFailure.nonRetryable(
      `${field}: ${err.message}`,
      err.code === 'NotFound' ? FailureType.BackupNotFound : FailureType.BackupCorrupted,
    );
  }
  const m = reader.manifest;
  if (m.plugin !== plugin.backup)
    throw ApplicationFailure.nonRetryable(
      `${field}: ${describe} was written by ${m.plugin}; ${plugin.restore} restores ${plugin.backup} backups`,
      'InvalidSpec',
    );
  if (m.state !== 'Complete')
    throw ApplicationFailure.nonRetryable(
      `${field}: ${describe} (run ${m.run}) is ${m.state === 'Partial' ? `partial (${m.reason ?? 'no reason recorded'})` : 'still in progress'}: only a Complete backup is restored`,
      FailureType.BackupIncomplete,
    );
  return { reader, describe: `${describe} (run ${m.run})` };
}
