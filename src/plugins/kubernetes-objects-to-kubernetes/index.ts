/**
 * `kubernetes-objects-to-kubernetes`: replicates Kubernetes objects from a source cluster to a
 * destination cluster (seed section 5.1.5). This module holds its config schema and checks.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  checkDuration,
  checkPatch,
  checkRegexes,
  LabelSelector,
  normalizePatch,
  PatchOperation,
  PatchOptions,
} from '../common.js';
import type { Plugin, Problem } from '../types.js';
import { synchronizeOnce } from './once.js';
import { checkComponents, componentWarnings } from './components.js';

const Component = Type.Object(
  {
    logLevel: Type.Optional(Type.String()),
    imagePullPolicy: Type.Optional(Type.String()),
    resources: Type.Optional(Type.Unknown()),
    concurrentTasks: Type.Optional(Type.Integer({ minimum: 1 })),
    replicas: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: true },
);

/** One entry of `replication.resources`. */
export const ReplicatedResource = Type.Object(
  {
    group: Type.Optional(Type.String({ description: 'API group; "" or absent for the core group' })),
    version: Type.String({ minLength: 1 }),
    resource: Type.String({ minLength: 1, description: 'plural resource name, e.g. deployments' }),
    transformation: Type.Optional(
      Type.Object(
        { patchOptions: Type.Optional(PatchOptions), patch: Type.Optional(Type.Array(PatchOperation)) },
        { additionalProperties: false },
      ),
    ),
    filters: Type.Optional(
      Type.Object(
        {
          selector: Type.Optional(LabelSelector),
          namespaceSelector: Type.Optional(LabelSelector),
          nameSelector: Type.Optional(
            Type.Object(
              {
                regex: Type.Optional(Type.Array(Type.String())),
                excludeRegex: Type.Optional(Type.Array(Type.String())),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    recoveryProcess: Type.Optional(
      Type.Object(
        {
          patchOptions: Type.Optional(PatchOptions),
          fromPatch: Type.Optional(Type.Array(PatchOperation)),
          fromOriginal: Type.Optional(
            Type.Object({ enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ReplicatedResource = Static<typeof ReplicatedResource>;

/** The config schema. */
export const KubernetesObjectsToKubernetesConfig = Type.Object(
  {
    sourceName: Type.String({ minLength: 1, description: 'KubernetesCluster acting as source' }),
    destinationName: Type.String({ minLength: 1, description: 'KubernetesCluster acting as destination' }),
    bucketName: Type.Optional(Type.String({ minLength: 1, description: 'Bucket to upload every object to' })),
    resyncPeriod: Type.Optional(
      Type.String({ description: 'accepted spelling of replication.resyncPeriod' }),
    ),
    replication: Type.Object(
      {
        resyncPeriod: Type.Optional(Type.String()),
        forceNamespaceCreation: Type.Optional(Type.Boolean()),
        quarantine: Type.Optional(
          Type.Object(
            {
              retention: Type.Optional(
                Type.String({
                  description:
                    'how long pruned objects are kept in the bucket quarantine, e.g. 168h (the default)',
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        resources: Type.Array(ReplicatedResource, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
    observability: Type.Optional(
      Type.Object(
        { enabled: Type.Optional(Type.Boolean()), interval: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    components: Type.Optional(Type.Record(Type.String(), Component)),
  },
  { additionalProperties: false },
);
export type KubernetesObjectsToKubernetesConfig = Static<typeof KubernetesObjectsToKubernetesConfig>;

/** Components of the seed's runtime that Temporal replaces: accepted, reported as not applicable. */
export const NOT_APPLICABLE_COMPONENTS = ['nats', 'redis'];

export const kubernetesObjectsToKubernetes: Plugin<typeof KubernetesObjectsToKubernetesConfig> = {
  name: 'kubernetes-objects-to-kubernetes',
  appliesTo: ['LiveSynchronization', 'Synchronization'],
  configSchema: KubernetesObjectsToKubernetesConfig,
  normalize(config) {
    const warnings: Problem[] = [];
    const c = config as { replication?: { resources?: unknown[] }; components?: Record<string, unknown> };
    if (!c || typeof c !== 'object' || !Array.isArray(c.replication?.resources)) return { config, warnings };
    const resources = c.replication.resources.map((r, i) => {
      if (!r || typeof r !== 'object') return r;
      const res = r as { transformation?: { patch?: unknown }; recoveryProcess?: { fromPatch?: unknown } };
      const base = `spec.config.replication.resources[${i}]`;
      return {
        ...res,
        ...(res.transformation && {
          transformation: {
            ...res.transformation,
            patch: normalizePatch(res.transformation.patch, `${base}.transformation.patch`, warnings),
          },
        }),
        ...(res.recoveryProcess && {
          recoveryProcess: {
            ...res.recoveryProcess,
            fromPatch: normalizePatch(
              res.recoveryProcess.fromPatch,
              `${base}.recoveryProcess.fromPatch`,
              warnings,
            ),
          },
        }),
      };
    });
    warnings.push(...componentWarnings(c.components as never));
    for (const name of NOT_APPLICABLE_COMPONENTS) {
      if (c.components?.[name] !== undefined) {
        warnings.push({
          path: `spec.config.components.${name}`,
          message: `not applicable: Temporal replaces ${name}; the setting is ignored`,
        });
      }
    }
    return { config: { ...c, replication: { ...c.replication, resources } }, warnings };
  },
  references: (config) => [
    { kind: 'KubernetesCluster', name: config.sourceName, field: 'sourceName' },
    { kind: 'KubernetesCluster', name: config.destinationName, field: 'destinationName' },
    { kind: 'Bucket', name: config.bucketName, field: 'bucketName' },
  ],
  check(config) {
    const problems: Problem[] = [
      ...checkDuration(config.replication.resyncPeriod, 'spec.config.replication.resyncPeriod'),
      ...checkDuration(config.resyncPeriod, 'spec.config.resyncPeriod'),
      ...checkDuration(config.observability?.interval, 'spec.config.observability.interval'),
      ...checkComponents(config.components),
      ...checkDuration(
        config.replication.quarantine?.retention,
        'spec.config.replication.quarantine.retention',
      ),
    ];
    config.replication.resources.forEach((r, i) => {
      const base = `spec.config.replication.resources[${i}]`;
      problems.push(
        ...checkRegexes(r.filters?.nameSelector?.regex, `${base}.filters.nameSelector.regex`),
        ...checkRegexes(r.filters?.nameSelector?.excludeRegex, `${base}.filters.nameSelector.excludeRegex`),
        ...checkPatch(r.transformation?.patch, `${base}.transformation.patch`),
        ...checkPatch(r.recoveryProcess?.fromPatch, `${base}.recoveryProcess.fromPatch`),
      );
    });
    return problems;
  },
  execute: (run) => synchronizeOnce(run),
};
