// Stops the stack if the global setup started it (STACK_KEEP=1 keeps it for the next run); a
// stack that was already running before the tests is left running.
import { spawnSync } from 'node:child_process';

export default async function globalTeardown() {
  if (globalThis.__STACK_STARTED_BY_TESTS__ && !process.env.STACK_KEEP) {
    spawnSync(process.execPath, ['--import', 'tsx', 'src/stack/cli.ts', 'down'], { stdio: 'inherit' });
  }
}
