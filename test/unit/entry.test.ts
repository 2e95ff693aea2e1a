/**
 * The image's entry (`src/main.ts`, compiled to `dist/src/main.js`) runs only against a configured
 * Temporal server; bringing up the local stack is `npm start`'s job (`tools/dev.ts`), which the
 * image does not contain, nor anything else of `tools/` or `test/`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { NO_TEMPORAL_ADDRESS } from '../../src/run.js';

describe('src/main.ts', () => {
  it('without a Temporal address, exits 1 with one line naming the flag and the variable', () => {
    const env = { ...process.env };
    delete env.TEMPORAL_ADDRESS;
    const res = spawnSync(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'src/main.ts'], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.stderr).toBe(`error: ${NO_TEMPORAL_ADDRESS}\n`);
    expect(res.stdout).toBe('');
    expect(res.status).toBe(1);
    expect(NO_TEMPORAL_ADDRESS).toMatch(/--temporal-address.*TEMPORAL_ADDRESS.*npm start/);
  });
});

describe('the product does not import development code', () => {
  it.each([
    ['src/run.ts', "import { up } from '../tools/stack/stack.js';"],
    ['src/kube/list.ts', "import { up } from '../../tools/stack/stack.js';"],
    ['src/plugins/custom-image/index.ts', "import { up } from '../../../tools/stack/stack.js';"],
    ['src/kube/list.ts', "import { sleep } from '../../test/bench/util.js';"],
    ['activities/index.ts', "import { stackEnv } from '../test/integration/stack-env.js';"],
    ['workflows/index.ts', "import type { StackEnv } from '../tools/stack/stack.js';"],
  ])('ESLint rejects, in %s: %s', async (file, line) => {
    const [result] = await new ESLint().lintText(`${line}\nexport const x = 1;\n`, {
      filePath: join(process.cwd(), file),
    });
    expect(result.messages.map((m) => m.message)).toContainEqual(
      expect.stringMatching(/tools\/ and test\/ are development-only/),
    );
  });

  it('ESLint lets src/ import src/ (the rule is not a blanket ban)', async () => {
    const [result] = await new ESLint().lintText(
      "import { backoffDelay } from '../api/backoff.js';\nexport const x = backoffDelay;\n",
      { filePath: join(process.cwd(), 'src/kube/list.ts') },
    );
    expect(result.messages.filter((m) => /development-only/.test(m.message))).toEqual([]);
  });
});
