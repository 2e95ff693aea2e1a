/**
 * `kubernetes-objects-to-bucket`: a Backup of a KubernetesCluster (optionally only some
 * `namespaces`) into a Bucket under `basePath` (seed API reference 7.2: BackupSourceKubernetesCluster,
 * BackupDestinationBucket; the plugin name is ours, SPEC-NOTES). The run is in backup.ts; what is
 * taken, in selection.ts. See docs/backup.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BackupDestination } from '../backup-common.js';
import type { Plugin } from '../types.js';
import { backUpKubernetesObjects } from './backup.js';

/** The config schema. */
export const KubernetesBackupConfig = Type.Object(
  {
    source: Type.Object(
      {
        kubernetesCluster: Type.Object(
          {
            name: Type.String({ minLength: 1, description: 'KubernetesCluster to back up' }),
            namespaces: Type.Optional(
              Type.Array(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }), {
                description:
                  'namespaces to back up; all but kube-system, kube-public and kube-node-lease when omitted',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    destination: BackupDestination,
  },
  { additionalProperties: false },
);
export type KubernetesBackupConfig = Static<typeof KubernetesBackupConfig>;

export const kubernetesObjectsToBucket: Plugin<typeof KubernetesBackupConfig> = {
  name: 'kubernetes-objects-to-bucket',
  appliesTo: ['Backup'],
  configSchema: KubernetesBackupConfig,
  references: (config) => [
    {
      kind: 'KubernetesCluster',
      name: config.source.kubernetesCluster.name,
      field: 'source.kubernetesCluster.name',
    },
    { kind: 'Bucket', name: config.destination.bucket.name, field: 'destination.bucket.name' },
  ],
  execute: (run) => backUpKubernetesObjects(run),
};
