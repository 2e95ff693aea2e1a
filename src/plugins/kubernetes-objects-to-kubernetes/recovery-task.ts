/**
 * The recovery Task of a LiveSynchronization (seed 5.1.3.5): its `recoveryProcess` entries as a
 * `kubernetes-objects-transformation` Task, kept in the destination cluster for the day of a
 * disaster. Pure.
 */
import { apiVersionOf, type ResourceRef } from '../../api/kinds.js';
import type { KubernetesObjectsToKubernetesConfig } from './index.js';
import { OWNER_ANNOTATION, OWNER_LABEL, ownerLabelValue } from './transform.js';

/** The recovery Task of a LiveSynchronization, as seed 5.1.3.5 describes it, or undefined. */
export function recoveryTask(ref: ResourceRef, config: KubernetesObjectsToKubernetesConfig) {
  const owner = { namespace: ref.namespace, name: ref.name };
  const resources = config.replication.resources
    .filter((r) => r.recoveryProcess?.fromPatch?.length || r.recoveryProcess?.fromOriginal?.enabled)
    .map((r) => ({
      identifier: { group: r.group ?? '', version: r.version, resources: r.resource },
      ...(r.recoveryProcess?.fromPatch?.length ? { patch: { operations: r.recoveryProcess.fromPatch } } : {}),
      ...(r.recoveryProcess?.patchOptions ? { patchOptions: r.recoveryProcess.patchOptions } : {}),
      // Only the objects this LiveSynchronization replicated.
      selector: { matchLabels: { [OWNER_LABEL]: ownerLabelValue(owner) } },
      ...(r.recoveryProcess?.fromOriginal?.enabled
        ? {
            fromOriginal: {
              enabled: true,
              ...(config.bucketName ? { bucketName: config.bucketName } : {}),
              liveSynchronization: `${owner.namespace}/${owner.name}`,
            },
          }
        : {}),
    }));
  if (resources.length === 0) return undefined;
  return {
    apiVersion: apiVersionOf('Task'),
    kind: 'Task',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { [OWNER_LABEL]: ownerLabelValue(owner) },
      annotations: {
        [OWNER_ANNOTATION]: `${owner.namespace}/${owner.name}`,
        'automation.astronetes.io/managed-by': 'LiveSynchronization; do not edit, changes are overwritten',
      },
    },
    spec: { plugin: 'kubernetes-objects-transformation', config: { resources } },
  };
}
