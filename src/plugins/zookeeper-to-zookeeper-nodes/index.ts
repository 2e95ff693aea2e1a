/**
 * `zookeeper-to-zookeeper-nodes`: copies a ZooKeeper tree from one Database to another (seed
 * section 5.2.2). This module holds its config schema and checks; the copy is in engine.ts
 * (pure logic in logic.ts, the pipelined session in session.ts). See docs/zookeeper.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { regexProblem } from '../common.js';
import { copyZooKeeperTree } from './engine.js';
import type { Plugin, Problem } from '../types.js';

/** The config schema. */
export const ZookeeperToZookeeperConfig = Type.Object(
  {
    sourceName: Type.String({ minLength: 1, description: 'Database acting as source' }),
    destinationName: Type.String({ minLength: 1, description: 'Database acting as destination' }),
    rootPath: Type.String({ pattern: '^/', description: 'root of the tree to copy' }),
    createRootPath: Type.Optional(Type.Boolean()),
    ignoreEphemeral: Type.Optional(Type.Boolean()),
    excludePathRegexp: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type ZookeeperToZookeeperConfig = Static<typeof ZookeeperToZookeeperConfig>;

export const zookeeperToZookeeperNodes: Plugin<typeof ZookeeperToZookeeperConfig> = {
  name: 'zookeeper-to-zookeeper-nodes',
  appliesTo: ['Synchronization'],
  configSchema: ZookeeperToZookeeperConfig,
  normalize(config) {
    const warnings: Problem[] = [];
    if (!config || typeof config !== 'object' || !('createRoutePath' in config)) return { config, warnings };
    const { createRoutePath, ...rest } = config as Record<string, unknown>;
    warnings.push({
      path: 'spec.config.createRoutePath',
      message: 'accepted as a misspelling of createRootPath; please rename it',
    });
    return { config: { createRootPath: createRoutePath, ...rest }, warnings };
  },
  references: (config) => [
    { kind: 'Database', name: config.sourceName, field: 'sourceName' },
    { kind: 'Database', name: config.destinationName, field: 'destinationName' },
  ],
  check(config) {
    const problem =
      config.excludePathRegexp === undefined ? undefined : regexProblem(config.excludePathRegexp);
    return problem ? [{ path: 'spec.config.excludePathRegexp', message: problem }] : [];
  },
  execute: (run) => copyZooKeeperTree(run),
};
