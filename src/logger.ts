/**
 * The process logger: pino JSON with the seed's field names (`level` as a label, `timestamp` in
 * ISO 8601, `msg`). Secrets are redacted here, once, rather than at each call site: credential
 * keys anywhere, and the object fields (`sourceObject`, `oldSourceObject`, `destinationObject`)
 * keep only an object's identity, so a Secret's data, labels or annotations never reach a line.
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
  '*.data',
  '*.binaryData',
];

/** The seed's fields that name a Kubernetes object (section 5.1.4.2). */
export const OBJECT_FIELDS = ['sourceObject', 'oldSourceObject', 'destinationObject'] as const;

/** What an object field may carry: the seed's identity fields, never content. */
const IDENTITY_KEYS = [
  'apiGroup',
  'apiVersion',
  'kind',
  'resource',
  'name',
  'namespace',
  'resourceVersion',
  'uid',
] as const;

/**
 * Reduces whatever a call site logs as an object field to the seed's identity fields: a whole
 * object (a Secret with `data`, labels, annotations, `last-applied-configuration`) is logged as
 * its `apiVersion`, `kind`, `name`, `namespace`, `resourceVersion` and `uid` only.
 */
export function objectIdentity(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  const metadata = ((typeof v.metadata === 'object' && v.metadata) || {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of IDENTITY_KEYS) {
    const field = v[key] ?? metadata[key];
    if (typeof field === 'string' || typeof field === 'number') out[key] = field;
  }
  return out;
}

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
      base: undefined,
      // The process identity, unless a child names a more precise one (the replicator): one
      // `process` key per line, as pino would otherwise write both.
      mixin: opts.process
        ? (_obj, _level, logger) => ('process' in logger.bindings() ? {} : { process: { id: opts.process } })
        : undefined,
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      serializers: Object.fromEntries(OBJECT_FIELDS.map((f) => [f, objectIdentity])),
    },
    opts.destination ?? pino.destination(1),
  );
}

export type { Logger };
