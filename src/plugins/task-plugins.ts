/**
 * The Task plugins (seed 002 and section 5.1.3.5): `kubernetes-objects-transformation`,
 * `custom-image` and `run-synchronization`. This module holds their config schemas and checks.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  checkPatch,
  LabelSelector,
  normalizePatch,
  PatchOperation,
  PatchOptions,
  StringEnum,
} from './common.js';
import type { Plugin, Problem } from './types.js';

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
              { enabled: Type.Optional(Type.Boolean()), bucketName: Type.Optional(Type.String()) },
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
    });
    return problems;
  },
};

/** custom-image config: a container image to run as a Pod in the Task's namespace. */
export const CustomImageConfig = Type.Object(
  {
    image: Type.String({ minLength: 1 }),
    command: Type.Array(Type.String(), { minItems: 1 }),
    clusterRole: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type CustomImageConfig = Static<typeof CustomImageConfig>;

export const customImage: Plugin<typeof CustomImageConfig> = {
  name: 'custom-image',
  appliesTo: ['Task'],
  configSchema: CustomImageConfig,
};

/** run-synchronization config: the Synchronization to create, as a template. */
export const RunSynchronizationConfig = Type.Object(
  {
    template: Type.Object(
      {
        metadata: Type.Optional(
          Type.Object(
            {
              labels: Type.Optional(Type.Record(Type.String(), Type.String())),
              annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
            },
            { additionalProperties: false },
          ),
        ),
        spec: Type.Object(
          {
            restartPolicy: Type.Optional(StringEnum(['Always', 'OnFailure', 'Never'] as const)),
            plugin: Type.String({ minLength: 1 }),
            config: Type.Unknown(),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RunSynchronizationConfig = Static<typeof RunSynchronizationConfig>;

export const runSynchronization: Plugin<typeof RunSynchronizationConfig> = {
  name: 'run-synchronization',
  appliesTo: ['Task'],
  configSchema: RunSynchronizationConfig,
};
