/**
 * The local stack's Prometheus, for integration tests: register a scrape target through its
 * file_sd folder, run instant queries, wait for a series, and list the active targets.
 */
import { registerScrapeTarget as registerTarget } from '../../tools/stack/scrape-targets.js';
import { waitFor } from '../bench/util.js';
import { stackEnv } from './stack-env.js';

/** One element of an instant query's result vector. */
export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as Prometheus prints it] */
  value: [number, string];
}

/** One active target of /api/v1/targets. */
export interface PromTarget {
  scrapePool: string;
  scrapeUrl: string;
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

function prometheusEnv(): { url: string; targetsDir: string } {
  const env = stackEnv();
  if (!env.PROMETHEUS_URL || !env.PROMETHEUS_TARGETS_DIR) {
    throw new Error(
      '.stack/env has no PROMETHEUS_URL: the stack predates Prometheus; `npm run stack -- up` adds it',
    );
  }
  return { url: env.PROMETHEUS_URL, targetsDir: env.PROMETHEUS_TARGETS_DIR };
}

/**
 * Registers `address` (`host:port`, scraped at `/metrics`) as a target of the stack's Prometheus
 * (see tools/stack/scrape-targets.ts). Prometheus picks it up within its 2 s refresh. Returns the
 * unregister function.
 */
export function registerScrapeTarget(
  name: string,
  address: string,
  labels: Record<string, string> = {},
): () => void {
  return registerTarget(prometheusEnv().targetsDir, name, address, labels);
}

async function promGet<T>(path: string): Promise<T> {
  const { url } = prometheusEnv();
  const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data?: T; errorType?: string; error?: string };
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(
      `Prometheus ${path}: HTTP ${res.status} ${body.errorType ?? ''}: ${body.error ?? 'no data'}`,
    );
  }
  return body.data;
}

/** Runs an instant query (`/api/v1/query`) and returns its result vector; a bad expression throws. */
export async function promQuery(expr: string): Promise<PromSample[]> {
  const data = await promGet<{ resultType: string; result: PromSample[] }>(
    `/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  if (data.resultType !== 'vector') {
    throw new Error(`query ${expr} returned a ${data.resultType}, not an instant vector`);
  }
  return data.result;
}

/** The active targets of every scrape pool (`/api/v1/targets?state=active`). */
export async function activeTargets(): Promise<PromTarget[]> {
  const data = await promGet<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active');
  return data.activeTargets;
}

/**
 * Polls `expr` every half second until it returns at least one series, and returns them. On timeout
 * the error names the expression and the state of every target, the usual reason being a target
 * that is down or not yet discovered.
 */
export async function waitForSeries(expr: string, timeoutMs = 30_000): Promise<PromSample[]> {
  try {
    return await waitFor(
      `a series of ${expr}`,
      async () => {
        const result = await promQuery(expr);
        return result.length > 0 ? result : undefined;
      },
      timeoutMs,
      undefined,
      500,
    );
  } catch (err) {
    const targets = await activeTargets().catch(() => []);
    const described = targets.map(
      (t) => `${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`,
    );
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}; targets: ${described.join(', ') || 'none'}`,
      { cause: err },
    );
  }
}
