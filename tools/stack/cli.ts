/**
 * `npm run tools` and `npm run stack -- <up|down|status|restart|stop|start> [component]`.
 * Thin: it parses the words and calls ./tools.ts or ./stack.ts; errors end as one line.
 */
import { StackError } from './errors.js';
import { control, down, readEnv, status, up, COMPONENTS } from './stack.js';
import { ensureTools } from './tools.js';
import { stackEnvFile } from './paths.js';
import { endQuietlyWhenReaderCloses } from './output.js';

const USAGE = `usage: npm run stack -- <command>
  up                     start the local stack (or reuse the running one) and write ${stackEnvFile};
                         STACK_NO_CLEAN=1: fail rather than restart a partly running stack
  down                   stop every process of the stack
  status                 what runs, where, and its log file
  restart <component>    stop and start one component on the same ports and data
  stop <component>       stop one component (crash tests)
  start <component>      start a stopped component again
  tools                  build or reuse the server binaries
components: ${COMPONENTS.join(', ')}`;

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv;
  switch (command) {
    case 'tools': {
      const paths = await ensureTools();
      for (const [name, path] of Object.entries(paths)) console.log(`${name.padEnd(23)} ${path}`);
      return;
    }
    case 'up': {
      const { env } = await up({ noClean: process.env.STACK_NO_CLEAN === '1' });
      console.log(`Temporal UI:        ${env.TEMPORAL_UI_URL}`);
      console.log(
        `Temporal address:   ${env.TEMPORAL_ADDRESS}  (temporal --address ${env.TEMPORAL_ADDRESS} workflow list)`,
      );
      console.log(`kubectl management: kubectl --kubeconfig ${env.MANAGEMENT_KUBECONFIG} get ns`);
      console.log(`kubectl source:     kubectl --kubeconfig ${env.SOURCE_KUBECONFIG} get ns`);
      console.log(`kubectl destination: kubectl --kubeconfig ${env.DESTINATION_KUBECONFIG} get ns`);
      console.log(`kubectl source 1.29: kubectl --kubeconfig ${env.SOURCE_V129_KUBECONFIG} get ns`);
      console.log(
        `Prometheus:         ${env.PROMETHEUS_URL}  (API only; scrape targets: ${env.PROMETHEUS_TARGETS_DIR}/*.json)`,
      );
      console.log(`all variables:      set -a; . ${stackEnvFile}; set +a`);
      return;
    }
    case 'down':
      return down();
    case 'status': {
      const rows = await status();
      if (rows.length === 0) {
        console.log('stack: not started (npm run stack -- up)');
        process.exitCode = 3;
        return;
      }
      for (const r of rows) {
        console.log(
          `${r.component.padEnd(29)} ${r.state.padEnd(10)} ${String(r.pid ?? '-').padEnd(8)} ${r.address.padEnd(48)} ${r.logFile}`,
        );
      }
      if (readEnv()) console.log(`env: ${stackEnvFile}`);
      if (rows.some((r) => r.state !== 'up')) process.exitCode = 3;
      return;
    }
    case 'restart':
    case 'stop':
    case 'start':
      if (!arg) throw new StackError(`'${command}' needs a component: ${COMPONENTS.join(', ')}`);
      return control(command, arg);
    default:
      console.error(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

endQuietlyWhenReaderCloses(process.stdout);
endQuietlyWhenReaderCloses(process.stderr);
main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof StackError) console.error(`error: ${err.oneLine()}`);
  else console.error(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
