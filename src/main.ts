/**
 * The orchestrator process, as the image runs it (`node --import tsx src/main.ts`). Thin on
 * purpose: it reads the configuration and runs the worker, the CRD bridge and (when configured)
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

main().catch(endWithError);
