/**
 * The process logger: pino JSON with the seed's field names (`level` as a label, `timestamp` in
 * ISO 8601, `msg`). Secrets are redacted here, once, rather than at each call site.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

/** Field paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'kubeconfig',
  '*.kubeconfig',
  'secretAccessKey',
  '*.secretAccessKey',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.stringData',
  'credentials',
  '*.credentials',
];

/** Creates the root logger. Per-resource loggers are `log.child({ kind, namespace, name })`. */
export function createLogger(opts: {
  level: LevelWithSilent;
  process?: string;
  /** Where lines go; stdout by default. */
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      level: opts.level,
      base: opts.process ? { process: { id: opts.process } } : undefined,
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    },
    opts.destination ?? pino.destination(1),
  );
}

export type { Logger };
