/**
 * `npm start`: the orchestrator process. Thin on purpose: it reads the configuration, brings up
 * the local stack when nothing is configured, and runs the Temporal worker until SIGINT/SIGTERM.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig, USAGE } from './config.js';
import { createLogger } from './logger.js';
import { StackError } from './stack/errors.js';
import { stackEnvFile } from './stack/paths.js';
import { up } from './stack/stack.js';
import { installTemporalRuntime } from './temporal/runtime.js';
import { createWorker } from './temporal/worker.js';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config.help) {
    console.log(USAGE);
    return;
  }
  const log = createLogger({ level: config.logLevel, process: 'orchestrator' });
  let temporalUi: string | undefined;
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
        `  everything:    ${stackEnvFile}`,
        '',
      ].join('\n') + '\n',
    );
  }
  const management = new KubeConfig();
  if (config.managementKubeconfig) management.loadFromFile(config.managementKubeconfig);
  else management.loadFromDefault();

  installTemporalRuntime(log);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps: { management, log },
  });
  log.info(
    {
      temporal: { ...config.temporal, ui: temporalUi },
      managementCluster: management.getCurrentCluster()?.server,
    },
    'orchestrator worker running',
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
  log.info('orchestrator worker stopped');
}

main().catch((err: unknown) => {
  if (err instanceof StackError || err instanceof ConfigError) {
    console.error(`error: ${err instanceof StackError ? err.oneLine() : err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = 1;
});
