/**
 * The plugin registry and config validation. Each plugin's TypeBox schema is the one source of
 * truth: ajv checks a config against it and every problem comes back with its field path, ready
 * for a status message.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Kind } from '../api/kinds.js';
import { bucketToKubernetesObjects } from './bucket-to-kubernetes-objects/index.js';
import { kubernetesObjectsToBucket } from './kubernetes-objects-to-bucket/index.js';
import { kubernetesObjectsToKubernetes } from './kubernetes-objects-to-kubernetes/index.js';
import { customImage } from './custom-image/index.js';
import { kubernetesObjectsTransformation } from './kubernetes-objects-transformation/index.js';
import { runSynchronization } from './run-synchronization/index.js';
import type { AssetReference, Plugin, Problem } from './types.js';
import { zookeeperToZookeeperNodes } from './zookeeper-to-zookeeper-nodes/index.js';
import { zookeeperNodesToBucket } from './zookeeper-nodes-to-bucket/index.js';
import { bucketToZookeeperNodes } from './bucket-to-zookeeper-nodes/index.js';

export { formatProblems, type Problem } from '../api/problems.js';
export type { Plugin } from './types.js';

/** Every plugin the orchestrator knows. */
export const PLUGINS: readonly Plugin[] = [
  kubernetesObjectsToKubernetes,
  zookeeperToZookeeperNodes,
  kubernetesObjectsToBucket,
  zookeeperNodesToBucket,
  bucketToKubernetesObjects,
  bucketToZookeeperNodes,
  kubernetesObjectsTransformation,
  customImage,
  runSynchronization,
] as Plugin[];

/** The plugin named `name`, or undefined. */
export function findPlugin(name: string): Plugin | undefined {
  return PLUGINS.find((p) => p.name === name);
}

/** Names of the plugins that `kind` may use. */
export function pluginsFor(kind: Kind): string[] {
  return PLUGINS.filter((p) => p.appliesTo.includes(kind)).map((p) => p.name);
}

/**
 * The assets a plugin config names, each with its field path under `prefix` (`spec`, or
 * `spec.template.spec` on a plan): what must be Ready before the resource is.
 */
export function referencesOf(
  pluginName: string | undefined,
  config: unknown,
  prefix = 'spec',
): (AssetReference & { path: string })[] {
  const plugin = findPlugin(pluginName ?? '');
  return (plugin?.references?.(config as never) ?? []).map((r) => ({
    ...r,
    path: `${prefix}.config.${r.field}`,
  }));
}

/** Result of {@link validatePluginSpec}: the normalized config when valid, every problem when not. */
export type PluginValidation =
  | { ok: true; plugin: Plugin; config: unknown; warnings: Problem[] }
  | { ok: false; problems: Problem[]; warnings: Problem[] };

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

function validatorOf(plugin: Plugin): ValidateFunction {
  let v = compiled.get(plugin.name);
  if (!v) {
    v = ajv.compile(plugin.configSchema);
    compiled.set(plugin.name, v);
  }
  return v;
}

/** `/replication/resources/0/version` → `.replication.resources[0].version`. */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('');
}

/** One ajv error as a problem with a field path under `base`. */
export function ajvProblem(err: ErrorObject, base: string): Problem {
  const at = `${base}${pointerToPath(err.instancePath)}`;
  switch (err.keyword) {
    case 'required':
      return { path: `${at}.${err.params.missingProperty}`, message: 'required' };
    case 'additionalProperties':
      return { path: `${at}.${err.params.additionalProperty}`, message: 'unknown field' };
    case 'enum':
      return { path: at, message: `must be one of ${(err.params.allowedValues as string[]).join(', ')}` };
    default:
      return { path: at, message: err.message ?? err.keyword };
  }
}

/** Re-roots plugin paths (`spec.config…`) under another prefix, e.g. `spec.template.spec`. */
function rebase(problems: Problem[], prefix: string): Problem[] {
  if (prefix === 'spec') return problems;
  return problems.map((p) => ({ ...p, path: p.path.replace(/^spec\./, `${prefix}.`) }));
}

/**
 * Validates `{ plugin, config }` of a resource of `kind`: the plugin exists and applies to the
 * kind, the config passes its schema (after aliases are normalized) and its semantic checks.
 * `prefix` is the field path of the block (`spec`, or `spec.template.spec` on a plan).
 */
export function validatePluginSpec(
  kind: Kind,
  spec: { plugin?: unknown; config?: unknown },
  prefix = 'spec',
): PluginValidation {
  const name = typeof spec.plugin === 'string' ? spec.plugin : '';
  const plugin = findPlugin(name);
  if (!plugin || !plugin.appliesTo.includes(kind)) {
    const known = pluginsFor(kind);
    const message = !name
      ? 'required'
      : `${plugin ? 'plugin does not apply to' : 'unknown plugin for'} ${kind}: "${name}"; ` +
        (known.length ? `use one of ${known.join(', ')}` : `no plugin supports ${kind} yet`);
    return { ok: false, problems: [{ path: `${prefix}.plugin`, message }], warnings: [] };
  }
  const { config, warnings } = plugin.normalize
    ? plugin.normalize(spec.config)
    : { config: spec.config, warnings: [] };
  const validate = validatorOf(plugin);
  if (!validate(config)) {
    const problems = (validate.errors ?? []).map((e) => ajvProblem(e, `${prefix}.config`));
    return { ok: false, problems: dedupe(problems), warnings: rebase(warnings, prefix) };
  }
  const problems = [...(plugin.check?.(config as never) ?? [])];
  for (const nested of plugin.nested?.(config as never) ?? []) {
    const inner = validatePluginSpec(nested.kind, nested.spec, nested.prefix);
    if (!inner.ok) problems.push(...inner.problems);
    warnings.push(...inner.warnings);
  }
  if (problems.length)
    return { ok: false, problems: rebase(problems, prefix), warnings: rebase(warnings, prefix) };
  return { ok: true, plugin, config, warnings: rebase(warnings, prefix) };
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
