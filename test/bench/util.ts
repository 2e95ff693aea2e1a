/**
 * Small helpers of the benchmark: abortable sleeps, a bounded-concurrency pool, retries of setup
 * calls, percentiles and number formatting, and emptying a bucket prefix.
 */
import { parseArgs } from 'node:util';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { kubeErrorText } from '../../src/kube/errors.js';

/** Sleeps `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export { pool } from '../../src/pool.js';

/** A TCP port free right now on 127.0.0.1 (for the orchestrator's metrics port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** HTTP status of a @kubernetes/client-node error, if any. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** A one-line description of an error from the Kubernetes client or anything else. */
export function errText(err: unknown): string {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return `${typeof code === 'number' ? `${code} ` : ''}${kubeErrorText(err)}`;
}

/**
 * Retries `fn` on what is worth retrying in setup and clean-up (5xx, 429, connection errors), up
 * to `attempts` times. `ok` statuses (e.g. 409 on create, 404 on delete) count as success.
 */
export async function retry<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; ok?: number[]; signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && opts.ok?.includes(status)) return undefined;
      const transient = status === undefined || status >= 500 || status === 429;
      if (!transient || attempt >= attempts) throw err;
      await sleep(250 * 2 ** attempt, opts.signal);
    }
  }
}

/** Waits until `probe` returns something truthy, polling every `everyMs`; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false | null>,
  timeoutMs: number,
  signal?: AbortSignal,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${errText(last)}` : ''}`,
      );
    await sleep(everyMs, signal);
  }
}

/** The nearest-rank percentile of ascending `sorted` (Infinity entries allowed). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** p50/p90/p99/max/mean of a sample (in its own unit). */
export function summarize(values: readonly number[]): {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
} {
  const sorted = [...values].sort((a, b) => a - b);
  const finite = sorted.filter(Number.isFinite);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
    mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN,
  };
}

/** Seconds with two decimals. */
export const secs = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
/** Milliseconds, rounded. */
export const millis = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : 'never');
/** Mebibytes with one decimal. */
export const mib = (bytes: number): string =>
  Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a';

/** Deletes every key under `prefix`. */
export async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((c) => ({ Key: c.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    token = page.NextContinuationToken;
  } while (token);
}

/**
 * Parses `--objects N --rounds N` (each also read from BENCH_OBJECTS / BENCH_ROUNDS), printing
 * `usage` for `--help`. Every value is an integer >= 1.
 */
export function objectsAndRounds(
  usage: string,
  defaults: { objects: number; rounds: number },
): { objects: number; rounds: number } {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      objects: { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const num = (flag: 'objects' | 'rounds'): number => {
    const env = `BENCH_${flag.toUpperCase()}`;
    const text = values[flag] ?? process.env[env];
    if (text === undefined) return defaults[flag];
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${flag} / ${env}: '${text}' is not an integer >= 1`);
    return n;
  };
  return { objects: num('objects'), rounds: num('rounds') };
}

const benchStarted = Date.now();

/** A progress line on stderr, with the seconds since the script started. */
export function benchProgress(line: string): void {
  process.stderr.write(`bench [${((Date.now() - benchStarted) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

/** Runs `fn` and returns how long it took, in milliseconds, with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** An S3 client on the stack's MinIO, from the stack env's S3_* variables. */
export function stackS3Client(env: Record<string, string | undefined>): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID!, secretAccessKey: env.S3_SECRET_ACCESS_KEY! },
  });
}

/**
 * A numeric option of a bench script: `values[flag]` (from parseArgs), else `BENCH_<FLAG>`, else
 * `dflt`; anything that is not a number >= `min` stops the script, naming the flag.
 */
export function numberFlag(values: Record<string, unknown>, flag: string, dflt: number, min = 1): number {
  const env = `BENCH_${flag.toUpperCase().replaceAll('-', '_')}`;
  const text = (values[flag] as string | undefined) ?? process.env[env];
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${flag} / ${env}: '${text}' is not a number >= ${min}`);
  return n;
}

/** A progress printer for a bench script: `<name> [  12.3 s] line` on stderr, timed from now. */
export function progressPrinter(name: string): (line: string) => void {
  const t0 = Date.now();
  return (line) =>
    process.stderr.write(`${name} [${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}
