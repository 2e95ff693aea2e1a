// Stops the stack if the global setup started it (STACK_KEEP=1 keeps it for the next run); a
// stack that was already running before the tests is left running.
import { spawnSync } from 'node:child_process';

export default async function globalTeardown() {
  if (globalThis.__STACK_STARTED_BY_TESTS__ && !process.env.STACK_KEEP) {
    // Bounded: `down` gives each server 10 s to exit and 15 s more after SIGKILL; a stuck stop
    // must end the test run with a message, not hang it.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'tools/stack/cli.ts', 'down'], {
      stdio: 'inherit',
      timeout: 5 * 60_000,
      killSignal: 'SIGKILL',
    });
    if (result.error)
      process.stderr.write(`global teardown: stack down did not finish: ${result.error.message}\n`);
  }
}
