/**
 * `npm start`: the orchestrator process. Thin on purpose: it reads the configuration, brings up
 * the local stack when nothing is configured, and runs the worker, the CRD bridge and (when
 * configured) the audit webhook until SIGINT/SIGTERM.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, loadConfig, USAGE } from './config.js';
import { createLogger } from './logger.js';
import { startOrchestrator } from './orchestrator.js';
import { StackError } from '../tools/stack/errors.js';
import { stackEnvFile } from '../tools/stack/paths.js';
import { up } from '../tools/stack/stack.js';
import { installTemporalRuntime } from './temporal/runtime.js';

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
  const orchestrator = await startOrchestrator({
    temporal: {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
    },
    management,
    log,
    instance: config.instance,
    namespaces: config.namespaces,
    webhook: config.webhook,
  });
  log.info(
    {
      temporal: { ...config.temporal, ui: temporalUi },
      managementCluster: management.getCurrentCluster()?.server,
      namespaces: config.namespaces.length ? config.namespaces : 'all',
      webhook: orchestrator.webhook?.url,
    },
    'orchestrator running',
  );
  await orchestrator.done;
  log.info('orchestrator stopped');
}

main().catch((err: unknown) => {
  if (err instanceof StackError || err instanceof ConfigError) {
    console.error(`error: ${err instanceof StackError ? err.oneLine() : err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = 1;
});
