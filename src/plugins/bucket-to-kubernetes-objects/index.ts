/**
 * `bucket-to-kubernetes-objects`: the restore of a `kubernetes-objects-to-bucket` Backup, as a
 * Synchronization whose source is a backup (an addition to the seed's API, which describes no
 * restore; SPEC-NOTES). A SynchronizationPlan can run it, and a `run-synchronization` Task runs it
 * on the day of a disaster. The run is in restore.ts. See docs/backup.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { checkRestoreSource, RestoreSource } from '../backup-common.js';
import { StringEnum } from '../common.js';
import type { Plugin, Problem } from '../types.js';
import { restoreKubernetesObjects } from './restore.js';

const NAMESPACE = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** The config schema. */
export const KubernetesRestoreConfig = Type.Object(
  {
    source: RestoreSource,
    destination: Type.Object(
      {
        kubernetesCluster: Type.Object(
          { name: Type.String({ minLength: 1, description: 'KubernetesCluster to restore into' }) },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    namespaces: Type.Optional(
      Type.Array(Type.String({ pattern: NAMESPACE, maxLength: 63 }), {
        description: "namespaces of the backup to restore; all of the backup's when omitted",
      }),
    ),
    namespaceMapping: Type.Optional(
      Type.Record(Type.String(), Type.String({ pattern: NAMESPACE, maxLength: 63 }), {
        description: 'restore namespace <key> as namespace <value>',
      }),
    ),
    existingResourcePolicy: Type.Optional(
      StringEnum(['none', 'update'] as const, {
        description:
          "none (default): an object that exists is skipped; update: it is replaced by the backup's",
      }),
    ),
  },
  { additionalProperties: false },
);
export type KubernetesRestoreConfig = Static<typeof KubernetesRestoreConfig>;

export const bucketToKubernetesObjects: Plugin<typeof KubernetesRestoreConfig> = {
  name: 'bucket-to-kubernetes-objects',
  appliesTo: ['Synchronization'],
  configSchema: KubernetesRestoreConfig,
  references: (config) => [
    ...(config.source.bucket
      ? [{ kind: 'Bucket' as const, name: config.source.bucket.name, field: 'source.bucket.name' }]
      : []),
    {
      kind: 'KubernetesCluster',
      name: config.destination.kubernetesCluster.name,
      field: 'destination.kubernetesCluster.name',
    },
  ],
  check(config) {
    const problems: Problem[] = checkRestoreSource(config.source);
    const targets = Object.values(config.namespaceMapping ?? {});
    const twice = targets.filter((t, i) => targets.indexOf(t) !== i);
    for (const t of new Set(twice))
      problems.push({ path: 'spec.config.namespaceMapping', message: `two namespaces are mapped to ${t}` });
    return problems;
  },
  execute: (run) => restoreKubernetesObjects(run),
};
