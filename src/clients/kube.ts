/**
 * KubeConfigs whose HTTPS connections are kept alive and reused.
 *
 * @kubernetes/client-node 1.x builds a new `https.Agent` for every request (`createAgent` in its
 * config.js), so every call opens a new connection and pays a TLS handshake with client-
 * certificate authentication, on our side and on the API server's. Under a watch-driven write
 * load that is most of the CPU and of the latency (see docs/benchmarks.md). This keeps one
 * keep-alive agent per API server and credentials, shared by every KubeConfig of this process:
 * the asset checks load a cluster's kubeconfig again every 30 s, and each load must not leave a
 * pool of idle sockets behind.
 */
import { createHash } from 'node:crypto';
import type { Agent } from 'node:http';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';

type AgentFactory = (cluster: Cluster | null, options: Record<string, unknown>) => Agent;

/** The agent options that make two connections interchangeable (server identity and credentials). */
const IDENTITY = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'];

/** Agents by server and credentials; the oldest is closed beyond {@link MAX_AGENTS}. */
const agents = new Map<string, Agent>();
const MAX_AGENTS = 256;

function agentKey(cluster: Cluster | null, options: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(cluster?.server ?? '');
  hash.update(cluster?.proxyUrl ?? '');
  for (const k of IDENTITY) hash.update(`\0${k}=${String(options[k] ?? '')}`);
  return hash.digest('hex');
}

/**
 * Makes `kc` reuse one keep-alive agent per API server and credentials; returns `kc`. The agent
 * keeps Node's default of no socket limit: every watch holds a connection for as long as it runs,
 * and a limit would queue writes behind watches once a server has that many.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createAgent: AgentFactory; __pooled?: boolean };
  if (target.__pooled) return kc;
  const create = target.createAgent.bind(kc);
  target.createAgent = (cluster, options) => {
    const key = agentKey(cluster, options);
    let agent = agents.get(key);
    if (!agent) {
      agent = create(cluster, { ...options, keepAlive: true });
      agents.set(key, agent);
      if (agents.size > MAX_AGENTS) {
        const [oldestKey, oldest] = agents.entries().next().value as [string, Agent];
        agents.delete(oldestKey);
        oldest.destroy();
      }
    }
    return agent;
  };
  target.__pooled = true;
  return kc;
}

/**
 * An error body as client-node gives it, read: its generated APIs give the response text (a
 * Status as JSON, or plain text from something that is not an API server); its log and metrics
 * helpers give a parsed V1Status.
 */
function readBody(body: unknown): { status?: { message?: unknown; reason?: unknown }; text?: string } {
  if (typeof body !== 'string') return { status: (body ?? undefined) as object | undefined };
  try {
    return { status: JSON.parse(body) as object };
  } catch {
    return { text: body };
  }
}

/** The first non-empty line of `text`, trimmed. */
function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

/** `value` if it is a string with something in it. */
function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * One line for an error of @kubernetes/client-node: the API server's Status message when the body
 * has one, whole (`services "web" already exists`), else the error's own first line. An
 * ApiException's message is several lines (code, message, body, headers): without a Status
 * message, its first line is followed by what else there is, e.g. `HTTP-Code: 404 (404 page not
 * found)` for a plain-text body, `HTTP-Code: 401 (Unauthorized)` for the client's own word.
 */
export function kubeErrorText(err: unknown): string {
  const e = err as { body?: unknown; message?: unknown } | null | undefined;
  const { status, text } = readBody(e?.body);
  const fromStatus = nonEmpty(status?.message);
  if (fromStatus) return fromStatus.replace(/\s*\n\s*/g, ' ').trim();
  const message = nonEmpty(e?.message) ?? String(err);
  const first = firstLine(message);
  if (!first.startsWith('HTTP-Code:')) return first;
  const said = /^Message: (.*)$/m.exec(message)?.[1]?.trim();
  const detail =
    nonEmpty(text && firstLine(text).slice(0, 200)) ??
    nonEmpty(status?.reason) ??
    (said !== 'Unknown API Status Code!' ? nonEmpty(said) : undefined);
  return detail ? `${first} (${detail})` : first;
}

/** Socket errors of an API server that is restarting, not up yet or briefly out of reach. */
const PASSING_SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Whether an error of @kubernetes/client-node passes by itself, so that retrying is the answer:
 * 429 (an API server that has just started answers "storage is (re)initializing"), a 5xx, or a
 * connection refused, reset or cut (a server starting or restarting). Anything else (401, 403,
 * 404, 422, …) needs someone to act.
 */
export function isTransientKubeError(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown; cause?: unknown } | null | undefined;
  const status = [e?.code, e?.statusCode].find((c): c is number => typeof c === 'number');
  if (status !== undefined) return status === 429 || status >= 500;
  return [e?.code, (e?.cause as { code?: unknown } | null | undefined)?.code].some(
    (c) => typeof c === 'string' && PASSING_SOCKET_ERRORS.has(c),
  );
}

/** How many pooled agents this process holds (for tests). */
export function pooledAgentCount(): number {
  return agents.size;
}
