/**
 * `npm run build`: the production build, in one step so that its two halves cannot drift apart.
 *
 * 1. `dist/` is emptied, then `tsc -p tsconfig.build.json` type-checks and compiles `src/`,
 *    `activities/` and `workflows/` to ES modules in `dist/` (same layout, `.js` specifiers kept).
 * 2. `dist/` must hold exactly those three folders: anything else means the product imports
 *    `tools/` or `test/`, which the image does not contain.
 * 3. The compiled workflows (`dist/workflows/index.js`) are bundled once with `bundleWorkflowCode`
 *    into `dist/workflow-bundle.js`, which the compiled worker loads instead of running webpack at
 *    start-up (src/temporal/worker.ts, `workflowSource`). The bundle is written last, under a
 *    temporary name then renamed, so a failed build never leaves a bundle beside other code.
 *
 * Runs in the image's build stage and in the integration test of the built orchestrator. Prints
 * one line per step with its duration; a failure ends with one `error:` line.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE } from '../src/temporal/workflow-source.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
/** What the build output may hold at its top level, besides the bundle. */
const COMPILED = ['activities', 'src', 'workflows'];

class BuildError extends Error {}

function step<T>(what: string, fn: () => T): T;
function step<T>(what: string, fn: () => Promise<T>): Promise<T>;
function step<T>(what: string, fn: () => T | Promise<T>): T | Promise<T> {
  const started = performance.now();
  const done = (v: T): T => {
    process.stderr.write(`build: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    return v;
  };
  const v = fn();
  return v instanceof Promise ? v.then(done) : done(v);
}

async function main(): Promise<void> {
  const started = performance.now();
  rmSync(dist, { recursive: true, force: true });
  step('tsc -p tsconfig.build.json: src/, activities/, workflows/ compiled to dist/', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const res = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: 'inherit',
    });
    if (res.status !== 0)
      throw new BuildError(`tsc failed (exit code ${res.status ?? res.signal}): see its errors above`);
  });
  const top = readdirSync(dist).sort();
  const extra = top.filter((f) => !COMPILED.includes(f));
  if (extra.length)
    throw new BuildError(
      `dist/ holds ${extra.map((f) => `${f}/`).join(', ')}: src/, activities/ or workflows/ import code ` +
        'outside them (tools/ and test/ are development-only and not in the image)',
    );
  const bundlePath = join(dist, WORKFLOW_BUNDLE_FILE);
  await step(
    `bundleWorkflowCode: dist/workflows/index.js bundled into dist/${WORKFLOW_BUNDLE_FILE}`,
    async () => {
      const problems: string[] = [];
      const keep =
        (level: string) =>
        (message: string, meta?: unknown): void => {
          problems.push(`${level}: ${message}${meta ? ` ${JSON.stringify(meta)}` : ''}`);
        };
      const quiet = () => undefined;
      const { code } = await bundleWorkflowCode({
        workflowsPath: join(dist, 'workflows', 'index.js'),
        // webpack's statistics (info) are noise here; its warnings and errors are not.
        logger: {
          log: quiet,
          trace: quiet,
          debug: quiet,
          info: quiet,
          warn: keep('warn'),
          error: keep('error'),
        },
      }).catch((err: unknown) => {
        throw new BuildError(`bundling the workflows failed: ${String(err)}\n${problems.join('\n')}`);
      });
      for (const p of problems) process.stderr.write(`build: ${p}\n`);
      writeFileSync(`${bundlePath}.tmp`, code);
      renameSync(`${bundlePath}.tmp`, bundlePath);
    },
  );
  const mib = (statSync(bundlePath).size / 1024 / 1024).toFixed(2);
  process.stderr.write(
    `build: done in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `run it with \`node dist/src/main.js\` (workflow bundle ${mib} MiB)\n`,
  );
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof BuildError ? err.message : String((err as Error)?.stack ?? err)}`);
  process.exitCode = 1;
});
