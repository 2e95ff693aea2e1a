/**
 * The image's entry (`src/main.ts`) runs only against a configured Temporal server; bringing up the
 * local stack is `npm start`'s job (`tools/dev.ts`), which the image does not contain.
 */
import { spawnSync } from 'node:child_process';
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
