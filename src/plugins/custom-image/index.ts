/**
 * `custom-image` (seed 002): runs a container image as a Pod in the Task's namespace, within
 * what the operator allows (policy.ts). Its config schema; the run is in run.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Plugin } from '../types.js';
import { runCustomImage } from './run.js';

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
  execute: (run) => runCustomImage(run),
};
