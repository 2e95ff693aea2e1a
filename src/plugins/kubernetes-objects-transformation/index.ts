/**
 * `kubernetes-objects-transformation` (seed section 5.1.3.5, 6.1.4): patches objects of the
 * destination cluster back to life, or restores them from the bucket, on the day of a disaster.
 * Its config schema and checks.
 */
import { Type, type Static } from '@sinclair/typebox';
import { checkPatch, LabelSelector, normalizePatch, PatchOperation, PatchOptions } from '../common.js';
import type { Plugin, Problem } from '../types.js';
import { transformObjects } from './execute.js';

/** kubernetes-objects-transformation config: patches per resource type. */
export const TransformationConfig = Type.Object(
  {
    resources: Type.Array(
      Type.Object(
        {
          identifier: Type.Object(
            {
              group: Type.Optional(Type.String()),
              version: Type.String({ minLength: 1 }),
              resource: Type.Optional(Type.String({ minLength: 1 })),
              resources: Type.Optional(
                Type.String({ minLength: 1, description: 'accepted spelling of resource' }),
              ),
            },
            { additionalProperties: false },
          ),
          patch: Type.Optional(
            Type.Object({ operations: Type.Array(PatchOperation) }, { additionalProperties: false }),
          ),
          patchOptions: Type.Optional(PatchOptions),
          selector: Type.Optional(LabelSelector),
          fromOriginal: Type.Optional(
            Type.Object(
              {
                enabled: Type.Optional(Type.Boolean()),
                bucketName: Type.Optional(Type.String()),
                liveSynchronization: Type.Optional(
                  Type.String({
                    pattern: '^[^/]+/[^/]+$',
                    description:
                      'namespace/name of the LiveSynchronization whose bucket originals to restore',
                  }),
                ),
                quarantine: Type.Optional(
                  Type.String({
                    description:
                      'restore from the quarantine instead of the originals: the folders whose time (e.g. 20261128T083500Z) starts with this prefix; "" for every folder. The newest copy of an object wins',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
export type TransformationConfig = Static<typeof TransformationConfig>;

export const kubernetesObjectsTransformation: Plugin<typeof TransformationConfig> = {
  name: 'kubernetes-objects-transformation',
  appliesTo: ['Task'],
  configSchema: TransformationConfig,
  normalize(config) {
    const warnings: Problem[] = [];
    const c = config as { resources?: unknown[] };
    if (!c || typeof c !== 'object' || !Array.isArray(c.resources)) return { config, warnings };
    const resources = c.resources.map((r, i) => {
      const res = r as { patch?: { operations?: unknown } };
      if (!res || typeof res !== 'object' || !res.patch) return r;
      const operations = normalizePatch(
        res.patch.operations,
        `spec.config.resources[${i}].patch.operations`,
        warnings,
      );
      return { ...res, patch: { ...res.patch, operations } };
    });
    return { config: { ...c, resources }, warnings };
  },
  check(config) {
    const problems: Problem[] = [];
    config.resources.forEach((r, i) => {
      const base = `spec.config.resources[${i}]`;
      const { resource, resources } = r.identifier;
      if (!resource && !resources) {
        problems.push({
          path: `${base}.identifier.resource`,
          message: 'required: the plural resource name, e.g. deployments',
        });
      } else if (resource && resources && resource !== resources) {
        problems.push({
          path: `${base}.identifier`,
          message: `resource "${resource}" and resources "${resources}" disagree`,
        });
      }
      problems.push(...checkPatch(r.patch?.operations, `${base}.patch.operations`));
      const quarantine = r.fromOriginal?.quarantine;
      if (quarantine !== undefined && !/^\d{0,8}(T\d{0,6}Z?)?$/.test(quarantine))
        problems.push({
          path: `${base}.fromOriginal.quarantine`,
          message: `"${quarantine}" is not the start of a quarantine folder's time (e.g. 20261128T083500Z): use e.g. "20261128", "20261128T0835", or "" for every folder`,
        });
    });
    return problems;
  },
  execute: (run) => transformObjects(run),
};
