/**
 * Routes the Temporal SDK's own logs (worker, sandbox, core) through our pino logger, so that a
 * process writes one JSON stream, redacted like every other line. Core's (native) lines are
 * forwarded too; without `forward` they go to the console on their own, past the logger. Must run
 * once, before any worker or connection is created.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from '../logger.js';

const LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Installs the Temporal runtime with `log` as its logger and, given `metrics`, the SDK's own
 * Prometheus exporter (worker and client metrics: task slots, polls, latencies) on
 * `metrics.bindAddress` (`host:port`, served at `/metrics`). Once per process: the tests that start
 * several orchestrators in one process leave it to the SDK's default runtime.
 */
export function installTemporalRuntime(log: Logger, metrics?: { bindAddress: string }): void {
  const child = log.child({ component: 'temporal-sdk' });
  const at =
    (level: LogLevel) =>
    (message: string, meta?: LogMetadata): void =>
      child[LEVEL[level]](meta ?? {}, message);
  const logger: TemporalLogger = {
    log: (level, message, meta) => at(level)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
  Runtime.install({
    logger,
    // src/run.ts handles SIGINT/SIGTERM itself: the bridge stops and the Lease is released before
    // the worker drains. The runtime's own handler would shut the worker down first.
    shutdownSignals: [],
    telemetryOptions: {
      logging: { forward: {} },
      ...(metrics && {
        // Prometheus' conventions: counters end in _total, durations in seconds with the unit in the name.
        metrics: {
          prometheus: {
            bindAddress: metrics.bindAddress,
            countersTotalSuffix: true,
            unitSuffix: true,
            useSecondsForDurations: true,
          },
        },
      }),
    },
  });
}

/**
 * Shuts the installed Temporal runtime down. An installed runtime keeps the process alive until
 * its last connection and worker are gone, so a start-up that fails after
 * {@link installTemporalRuntime} calls this, or the process would hang instead of exiting 1.
 */
export async function shutdownTemporalRuntime(): Promise<void> {
  await Runtime.instance().shutdown();
}
