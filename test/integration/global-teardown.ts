/**
 * Stops the stack if the global setup started it (set STACK_KEEP=1 to keep it for the next run);
 * a stack that was already running before the tests is left running.
 */
import { down } from '../../src/stack/stack.js';

export default async function globalTeardown(): Promise<void> {
  if (globalThis.__STACK_STARTED_BY_TESTS__ && !process.env.STACK_KEEP) {
    await down({ print: (line) => process.stderr.write(`${line}\n`) });
  }
}
