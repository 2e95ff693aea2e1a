/**
 * The orchestrator process, as the image runs it: compiled by `npm run build`, started as
 * `node dist/src/main.js`. Thin on purpose: it reads the configuration and runs the worker, the CRD bridge and (when configured)
 * the audit webhook until SIGINT/SIGTERM. It needs a Temporal address; `npm start`
 * (`tools/dev.ts`) is the development entry that brings up the local stack first.
 */
import { loadConfig, USAGE } from './config.js';
import { createLogger } from './logger.js';
import { endWithError, runOrchestrator } from './run.js';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config.help) {
    console.log(USAGE);
    return;
  }
  await runOrchestrator(config, { log: createLogger({ level: config.logLevel, process: 'orchestrator' }) });
}

main().catch((err: unknown) => {
  endWithError(err);
  // A failed start can leave handles that keep the process alive (the Temporal SDK's workflow
  // thread when Worker.create fails, say on an unknown namespace; its runtime once installed):
  // exit, so that the Pod restarts instead of hanging with the error printed.
  process.exit();
});
