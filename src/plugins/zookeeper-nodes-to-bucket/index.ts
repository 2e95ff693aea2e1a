/**
 * `zookeeper-nodes-to-bucket`: a Backup of a ZooKeeper tree to a Bucket, as chunks of JSON lines
 * under the run's prefix, with a manifest. This module holds its config schema and checks; the
 * walk is in backup.ts, the chunk format in format.ts. See docs/backup-zookeeper.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BackupDestination } from '../backup-common.js';
import { regexProblem } from '../common.js';
import type { Plugin } from '../types.js';
import { BACKUP_PLUGIN, backupZooKeeperTree } from './backup.js';

/** `source.database` / `destination.database`: a Database of the resource's namespace. */
export const DatabaseRef = Type.Object(
  {
    database: Type.Object(
      { name: Type.String({ minLength: 1, description: 'Database asset' }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The config schema. */
export const ZookeeperBackupConfig = Type.Object(
  {
    source: DatabaseRef,
    destination: BackupDestination,
    rootPath: Type.Optional(
      Type.String({ pattern: '^/', description: 'root of the tree to back up (default /)' }),
    ),
    excludePathRegexp: Type.Optional(
      Type.String({ description: 'a JS RegExp tested against full paths: left out with their subtree' }),
    ),
  },
  { additionalProperties: false },
);
export type ZookeeperBackupConfig = Static<typeof ZookeeperBackupConfig>;

export const zookeeperNodesToBucket: Plugin<typeof ZookeeperBackupConfig> = {
  name: BACKUP_PLUGIN,
  appliesTo: ['Backup'],
  configSchema: ZookeeperBackupConfig,
  references: (config) => [
    { kind: 'Database', name: config.source.database.name, field: 'source.database.name' },
    { kind: 'Bucket', name: config.destination.bucket.name, field: 'destination.bucket.name' },
  ],
  check(config) {
    const problem =
      config.excludePathRegexp === undefined ? undefined : regexProblem(config.excludePathRegexp);
    return problem ? [{ path: 'spec.config.excludePathRegexp', message: problem }] : [];
  },
  execute: (run) => backupZooKeeperTree(run),
};
