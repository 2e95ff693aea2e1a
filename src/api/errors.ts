/**
 * The failure types of the orchestrator, in one place. Activities throw `ApplicationFailure`s with
 * one of these `type`s (and `nonRetryable` where retrying cannot help); workflows tell failures
 * apart by `type`, never by `instanceof` (Temporal's habit, sdk-typescript `common/src/failure.ts`).
 * Pure; safe in workflows.
 */

/** `ApplicationFailure.type` values. */
export const FailureType = {
  /** A KubernetesCluster, Bucket or Database a spec names is missing or not usable yet (retryable). */
  AssetNotReady: 'AssetNotReady',
  /** The destination already has a Task of the LiveSynchronization's name that it does not manage. */
  RecoveryTaskConflict: 'RecoveryTaskConflict',
  /** `checkAsset` was asked about a kind that is not an asset. */
  NotAnAsset: 'NotAnAsset',
  /** The plugin validates, but this version cannot execute it yet. */
  PluginNotImplemented: 'PluginNotImplemented',
  /** A Database gave no ZooKeeper session in time, or its session ended during a copy. */
  DatabaseUnreachable: 'DatabaseUnreachable',
  /** A Database refused its credentials, or they do not authorize reading or writing the root path. */
  DatabaseAuthFailed: 'DatabaseAuthFailed',
  /** `spec.config.rootPath` does not exist (on the source; on the destination without createRootPath). */
  RootPathNotFound: 'RootPathNotFound',
  /** A ZooKeeper copy finished, but some znodes could not be copied (the message names the first ones). */
  ZnodeCopyFailed: 'ZnodeCopyFailed',
  /** A bucket refused a write of a backup (denied, full, gone); the run's manifest says Partial. */
  BucketWriteFailed: 'BucketWriteFailed',
  /** A namespace a Backup names does not exist in its cluster. */
  NamespaceNotFound: 'NamespaceNotFound',
  /** A restore names a Backup, or a bucket path, that holds no backup. */
  BackupNotFound: 'BackupNotFound',
  /** A restore names a backup that is not Complete (in progress, or Partial after a failure). */
  BackupIncomplete: 'BackupIncomplete',
  /** A backup's manifest is unreadable, or is not the kind of backup the restore plugin takes. */
  BackupCorrupted: 'BackupCorrupted',
  /** A restore finished, but some objects or znodes failed (checksum, refused write): its report names them. */
  RestoreIncomplete: 'RestoreIncomplete',
} as const;

/** One of {@link FailureType}. */
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

interface FailureLike {
  type?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The failure and its causes, outermost first (an ActivityFailure wraps the activity's ApplicationFailure). */
function chain(err: unknown): FailureLike[] {
  const out: FailureLike[] = [];
  for (
    let e = err as FailureLike | undefined;
    e && typeof e === 'object' && out.length < 10;
    e = e.cause as FailureLike
  )
    out.push(e);
  return out;
}

/** The first `type` along the failure's cause chain (the ApplicationFailure's), if any. */
export function failureTypeOf(err: unknown): string | undefined {
  return chain(err).find((e) => typeof e.type === 'string')?.type as string | undefined;
}

/** The message of the innermost failure that has one: what the activity said, not "Activity task failed". */
export function failureMessageOf(err: unknown): string {
  const messages = chain(err)
    .map((e) => e.message)
    .filter((m): m is string => typeof m === 'string' && m !== '');
  return messages.at(-1) ?? String(err);
}
