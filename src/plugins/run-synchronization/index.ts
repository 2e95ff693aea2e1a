/**
 * `run-synchronization` (seed 002 section 3): creates a Synchronization from a template. Its config
 * schema; the template's own plugin config is validated as the Synchronization's (see `nested`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../common.js';
import type { Plugin, Problem } from '../types.js';
import { runSynchronizationOnce } from './execute.js';

/** The seed's spellings of `kubernetes-objects-to-kubernetes` in its run-synchronization samples. */
const PLUGIN_ALIASES: Record<string, string> = {
  'kubernetes-to-kubernetes': 'kubernetes-objects-to-kubernetes',
  'kuberentes-to-kubernetes': 'kubernetes-objects-to-kubernetes',
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
            backoffLimit: Type.Optional(Type.Integer({ minimum: 0 })),
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
  normalize(config) {
    const warnings: Problem[] = [];
    const c = config as { template?: { spec?: { plugin?: unknown } } };
    const plugin = c?.template?.spec?.plugin;
    if (typeof plugin !== 'string' || !PLUGIN_ALIASES[plugin]) return { config, warnings };
    warnings.push({
      path: 'spec.config.template.spec.plugin',
      message: `"${plugin}" accepted as ${PLUGIN_ALIASES[plugin]}; please rename it`,
    });
    const template = { ...c.template, spec: { ...c.template!.spec, plugin: PLUGIN_ALIASES[plugin] } };
    return { config: { ...c, template }, warnings };
  },
  execute: (run) => runSynchronizationOnce(run),
  nested: (config) => [
    { kind: 'Synchronization', spec: config.template.spec, prefix: 'spec.config.template.spec' },
  ],
};
