/**
 * `npm start`: the development entry. Without a Temporal address it brings up the local stack (or
 * reuses the running one), prints where everything is and points the configuration at it; then it
 * runs the orchestrator in this process through `runOrchestrator`, as `src/main.ts` does. With a
 * Temporal address it does just what `src/main.ts` does. Never part of the image. It runs from the
 * TypeScript sources with tsx (no build step), so the worker bundles `workflows/` with webpack at
 * start-up: seconds more, and about twice the memory of the built entry (docs/benchmarks.md).
 */
import { ConfigError, loadConfig, USAGE } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { endWithError, runOrchestrator } from '../src/run.js';
import { StackError } from './stack/errors.js';
import { stackEnvFile } from './stack/paths.js';
import { registerScrapeTarget } from './stack/scrape-targets.js';
import { up } from './stack/stack.js';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config.help) {
    console.log(USAGE);
    return;
  }
  const log = createLogger({ level: config.logLevel, process: 'orchestrator' });
  let temporalUi: string | undefined;
  if (!config.temporal.address && (config.temporal.tls || config.temporal.apiKey)) {
    throw new ConfigError(
      'TLS or an API key is configured but no --temporal-address / TEMPORAL_ADDRESS: the local stack has neither; set the address of the server they are for',
    );
  }
  if (!config.temporal.address) {
    log.info('no Temporal address configured: bringing up the local stack (npm run stack -- up)');
    const { env } = await up({ print: (line) => log.info(line) });
    config.temporal.address = env.TEMPORAL_ADDRESS;
    config.temporal.namespace = env.TEMPORAL_NAMESPACE;
    config.managementKubeconfig ??= env.MANAGEMENT_KUBECONFIG;
    temporalUi = env.TEMPORAL_UI_URL;
    process.stderr.write(
      [
        '',
        `  Temporal UI:   ${env.TEMPORAL_UI_URL}`,
        `  temporal CLI:  temporal --address ${env.TEMPORAL_ADDRESS} workflow list`,
        `  kubectl:       kubectl --kubeconfig ${env.MANAGEMENT_KUBECONFIG} get ns   (management)`,
        `                 kubectl --kubeconfig ${env.SOURCE_KUBECONFIG} get ns       (source)`,
        `                 kubectl --kubeconfig ${env.DESTINATION_KUBECONFIG} get ns  (destination)`,
        ...(config.metrics
          ? [
              `  metrics:       ${localUrl(`${config.metrics.host}:${config.metrics.port}`)}` +
                (env.PROMETHEUS_URL ? ` (scraped by ${env.PROMETHEUS_URL})` : ''),
            ]
          : []),
        ...(config.temporalMetrics
          ? [`  SDK metrics:   ${localUrl(config.temporalMetrics.bindAddress)}`]
          : []),
        `  everything:    ${stackEnvFile}`,
        '',
      ].join('\n') + '\n',
    );
    // The stack's Prometheus scrapes this process while it runs (the dashboard's queries work).
    if (config.metrics && env.PROMETHEUS_TARGETS_DIR) {
      const unregister = registerScrapeTarget(
        env.PROMETHEUS_TARGETS_DIR,
        'npm-start',
        `${config.metrics.host === '0.0.0.0' ? '127.0.0.1' : config.metrics.host}:${config.metrics.port}`,
        { source: 'npm-start' },
      );
      process.once('exit', unregister);
    }
  }
  await runOrchestrator(config, { log, temporalUi });
}

/** The scrape URL of a metrics endpoint bound to `hostPort`, with 0.0.0.0 shown as 127.0.0.1. */
function localUrl(hostPort: string): string {
  return `http://${hostPort.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}/metrics`;
}

main().catch((err: unknown) => {
  if (err instanceof StackError) {
    console.error(`error: ${err.oneLine()}`);
    process.exitCode = 1;
  } else endWithError(err);
  process.exit(); // as src/main.ts: a failed start must not leave the process hanging
});
