/**
 * Where the local stack keeps its files. One module, so that the tool installer, the stack
 * launcher, `npm start` and the jest global setup agree on every path.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Git-ignored folder whose `bin/` links to the cached server binaries. */
export const toolsDir = join(projectRoot, '.tools');
export const toolsBinDir = join(toolsDir, 'bin');

/**
 * Cache of built binaries, keyed by tool and version. It lives outside the checkout so that a
 * fresh clone on the same machine (CI) reuses what an earlier run built.
 */
export const toolCacheDir = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'resiliency-orchestrator',
  'tools',
);

/** Git-ignored folder of the running local stack: state, data, logs, certificates, kubeconfigs. */
export const stackDir = process.env.STACK_DIR ? resolve(process.env.STACK_DIR) : join(projectRoot, '.stack');
export const stackEnvFile = join(stackDir, 'env');
export const stackStateFile = join(stackDir, 'state.json');
export const stackLogDir = join(stackDir, 'logs');
export const stackPkiDir = join(stackDir, 'pki');
export const stackKubeconfigDir = join(stackDir, 'kubeconfig');
