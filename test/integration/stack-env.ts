/** The local stack's `.stack/env`, as the global setup exported it, for integration tests. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readEnv, type StackEnv } from '../../tools/stack/stack.js';
import { TOOL_VERSIONS } from '../../tools/stack/tools.js';
import { stackKubeconfigDir } from '../../tools/stack/paths.js';

/** Reads the stack env; fails loudly when the global setup did not run. */
export function stackEnv(): StackEnv {
  const env = readEnv();
  if (!env?.TEMPORAL_ADDRESS)
    throw new Error('.stack/env is missing: the integration global setup did not bring the stack up');
  return env;
}

/** A name unique to this test run, valid as a Kubernetes namespace or a znode. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A source cluster the replication scenarios read from: its admin kubeconfig and the version it serves. */
export interface SourceCluster {
  /** The stack component: `source` (1.34, like the destination) or `source-v129` (the older source). */
  component: 'source' | 'source-v129';
  kubeconfig: string;
  /** `/version`'s gitVersion, for example `v1.29.15`. */
  version: string;
}

/**
 * One of the stack's two source clusters, from `.stack/env`. A shared stack's env rewritten by an
 * older checkout's `up` (one without `source-v129`) lacks SOURCE_V129_KUBECONFIG while the
 * server and its kubeconfig file are there: the file's fixed path is used then.
 */
export function sourceCluster(component: SourceCluster['component']): SourceCluster {
  const env = stackEnv();
  return component === 'source'
    ? { component, kubeconfig: env.SOURCE_KUBECONFIG, version: `v${TOOL_VERSIONS.kubernetes}` }
    : {
        component,
        kubeconfig: env.SOURCE_V129_KUBECONFIG ?? join(stackKubeconfigDir, 'source-v129.yaml'),
        version: `v${TOOL_VERSIONS.kubernetesSource}`,
      };
}
