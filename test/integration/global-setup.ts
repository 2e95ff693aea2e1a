/**
 * Jest global setup of the integration project: brings the real local stack up, or reuses a
 * running one (`npm run stack -- up` beforehand keeps it between runs), and exports `.stack/env`
 * into process.env for the tests.
 */
import { up } from '../../src/stack/stack.js';

declare global {
  var __STACK_STARTED_BY_TESTS__: boolean | undefined;
}

export default async function globalSetup(): Promise<void> {
  const { env, reused } = await up({ print: (line) => process.stderr.write(`${line}\n`) });
  Object.assign(process.env, env);
  globalThis.__STACK_STARTED_BY_TESTS__ = !reused;
}
