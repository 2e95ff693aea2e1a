// Jest global setup of the integration project: brings the real local stack up through the same
// CLI a developer uses (`npm run stack -- up`), or reuses a running one. Plain JS that spawns the
// CLI, because jest loads global setup outside its module mapping. The tests read `.stack/env`.
import { spawnSync } from 'node:child_process';

const stack = (command, stdio) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'tools/stack/cli.ts', command], {
    stdio,
    env: process.env,
  });

export default async function globalSetup() {
  const wasUp = stack('status', 'ignore').status === 0;
  const result = stack('up', ['ignore', 'inherit', 'inherit']);
  if (result.status !== 0) throw new Error('the local stack did not come up: see the error line above');
  globalThis.__STACK_STARTED_BY_TESTS__ = !wasUp;
}
