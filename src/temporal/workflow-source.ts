/**
 * Where the worker's workflow code comes from: the prebuilt bundle of `npm run build`, or the
 * TypeScript sources bundled at start-up. Kept apart from worker.ts, with no heavy import, so that
 * the build script (tools/build.ts) shares the bundle's file name without loading the activities
 * and their clients.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config.js';

/** File name of the prebuilt workflow bundle, at the top of the build output (`dist/`). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/**
 * The workflow code of a worker: the prebuilt bundle of the build output, or the TypeScript
 * sources bundled at start-up.
 */
export type WorkflowSource =
  { kind: 'prebuilt'; codePath: string } | { kind: 'source'; workflowsPath: string };

/**
 * Where a worker takes its workflows from, decided by `moduleUrl` (by default this module's own
 * `import.meta.url`; it sits beside worker.ts, so both are compiled or neither is):
 *
 * - compiled (a `.js` file, `dist/src/temporal/…`): the bundle `dist/workflow-bundle.js` that
 *   `npm run build` writes with the compiled code, so the two never come from different sources.
 *   It throws a {@link ConfigError} (one `error:` line at the entry) naming the file and the fix
 *   when the bundle is missing (a half-done build), rather than running webpack at start-up in
 *   production;
 * - from source (`.ts`, under tsx or jest): `workflows/index.ts`, bundled by the SDK with webpack
 *   when the worker is created.
 */
export function workflowSource(moduleUrl: string = import.meta.url): WorkflowSource {
  if (!new URL(moduleUrl).pathname.endsWith('.js'))
    return { kind: 'source', workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', moduleUrl)) };
  const codePath = fileURLToPath(new URL(`../../${WORKFLOW_BUNDLE_FILE}`, moduleUrl));
  if (!existsSync(codePath))
    throw new ConfigError(
      `${codePath} is missing: the compiled worker runs the workflow bundle of the same build; run \`npm run build\``,
    );
  return { kind: 'prebuilt', codePath };
}
