/**
 * `bucket-to-zookeeper-nodes`: the restore of a `zookeeper-nodes-to-bucket` backup, run as a
 * Synchronization whose source is the backup. This module holds its config schema and checks; the
 * restore is in restore.ts. See docs/backup-zookeeper.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { checkRestoreSource, RestoreSource } from '../backup-common.js';
import { StringEnum } from '../common.js';
import type { Plugin, Problem } from '../types.js';
import { isExcluded } from '../zookeeper-to-zookeeper-nodes/logic.js';
import { DatabaseRef } from '../zookeeper-nodes-to-bucket/index.js';
import { RESTORE_PLUGIN, restoreZooKeeperTree } from './restore.js';

/** The config schema. */
export const ZookeeperRestoreConfig = Type.Object(
  {
    source: RestoreSource,
    destination: DatabaseRef,
    rootPath: Type.Optional(
      Type.String({
        pattern: '^/',
        description: "where the backup's root is restored (default: its own path)",
      }),
    ),
    existingResourcePolicy: Type.Optional(
      StringEnum(['none', 'update'], {
        description: 'none (default): an existing znode is left alone; update: its data and ACL are set',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ZookeeperRestoreConfig = Static<typeof ZookeeperRestoreConfig>;

export const bucketToZookeeperNodes: Plugin<typeof ZookeeperRestoreConfig> = {
  name: RESTORE_PLUGIN,
  appliesTo: ['Synchronization'],
  configSchema: ZookeeperRestoreConfig,
  references: (config) => [
    ...(config.source.bucket
      ? [{ kind: 'Bucket' as const, name: config.source.bucket.name, field: 'source.bucket.name' }]
      : []),
    { kind: 'Database', name: config.destination.database.name, field: 'destination.database.name' },
  ],
  check(config) {
    const problems: Problem[] = checkRestoreSource(config.source);
    if (config.rootPath !== undefined && isExcluded(config.rootPath, undefined))
      problems.push({
        path: 'spec.config.rootPath',
        message: "ZooKeeper's own subtree (/zookeeper) is never restored",
      });
    return problems;
  },
  execute: (run) => restoreZooKeeperTree(run),
};
