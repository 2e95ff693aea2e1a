/** The local stack's `.stack/env`, as the global setup exported it, for integration tests. */
import { randomBytes } from 'node:crypto';
import { readEnv, type StackEnv } from '../../tools/stack/stack.js';

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
