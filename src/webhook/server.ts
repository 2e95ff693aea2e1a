/**
 * The HTTPS server of the audit-annotation mutating admission webhook: `POST /audit` takes an
 * `admission.k8s.io/v1` AdmissionReview and answers with the decision of {@link decideAudit};
 * `GET /healthz` answers `ok`. The API server only talks TLS to webhooks, hence node:https.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { listen } from '../net/listen.js';
import { reviewAudit, type AdmissionRequest, type AdmissionReview, type AuditOptions } from './audit.js';

/** The largest request body accepted: an AdmissionReview carries the object twice (new and old). */
export const MAX_REVIEW_BYTES = 8 * 1024 * 1024;

/** Options of {@link startAuditWebhook}. */
export interface AuditWebhookOptions {
  /** Address to listen on, for example `0.0.0.0` in a Pod or `127.0.0.1` in tests. */
  host: string;
  /** Port to listen on; 0 picks a free one (read it back from the result). */
  port: number;
  /** Serving certificate (PEM), with the chain if any. */
  cert: string;
  /** Private key of the certificate (PEM). */
  key: string;
  log: Logger;
  /** The clock used for `last-update-time`; `new Date()` by default. */
  now?: AuditOptions['now'];
}

/** A running webhook server. */
export interface AuditWebhook {
  /** Base URL, for example `https://127.0.0.1:9443`; the webhook path is `/audit`. */
  url: string;
  port: number;
  /** Stops listening and closes open connections (the API server keeps them alive). */
  close(): Promise<void>;
  /** Whether the server listens (readiness). */
  readonly listening: boolean;
}

/**
 * Starts the audit webhook's HTTPS server and resolves once it listens.
 *
 * Every request is allowed (auditing never blocks a user); a body that is not an AdmissionReview
 * with a `request` gets a 400 with the reason. Each mutation is logged at debug with the kind,
 * namespace, name and username, never the object itself.
 */
export async function startAuditWebhook(opts: AuditWebhookOptions): Promise<AuditWebhook> {
  const log = opts.log.child({ component: 'audit-webhook' });
  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    handle(req, res, log, opts.now).catch((err: unknown) => {
      log.error({ err }, 'audit webhook request failed');
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'audit webhook TLS handshake failed'));

  const { port, base: url, close } = await listen(server, { ...opts, scheme: 'https' });
  server.on('error', (err) => log.error({ err }, 'audit webhook server error'));
  log.info({ url }, 'audit webhook listening');
  return {
    url,
    port,
    close,
    get listening() {
      return server.listening;
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
  now: AuditOptions['now'],
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    return sendText(res, 200, 'ok\n');
  }
  if (path !== '/audit') return sendText(res, 404, `not found: ${path}\n`);
  if (req.method !== 'POST') return sendText(res, 405, 'method not allowed: POST an AdmissionReview\n');

  const body = await readBody(req, MAX_REVIEW_BYTES);
  if (body === undefined) {
    res.setHeader('connection', 'close');
    return sendText(res, 413, `AdmissionReview larger than ${MAX_REVIEW_BYTES} bytes\n`);
  }
  const parsed = parseReview(body);
  if (typeof parsed === 'string') {
    log.warn({ reason: parsed }, 'audit webhook rejected a malformed AdmissionReview');
    return sendText(res, 400, `bad AdmissionReview: ${parsed}\n`);
  }

  const { review, decision } = reviewAudit(parsed, { now });
  const request = parsed.request;
  const fields = {
    operation: request.operation,
    kind: request.kind?.kind ?? request.object?.kind,
    namespace: request.namespace,
    name: request.name || request.object?.metadata?.name,
    username: request.userInfo?.username,
    outcome: decision.outcome,
    ...(request.dryRun ? { dryRun: true } : {}),
  };
  if (decision.outcome === 'stamped' || decision.outcome === 'restored')
    log.debug(fields, 'audit annotations updated');
  else log.trace(fields, 'audit annotations left as they are');

  const out = JSON.stringify(review);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
  res.end(out);
}

/** The review, or why it is not one the webhook can answer. */
function parseReview(body: string): (AdmissionReview & { request: AdmissionRequest }) | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return `body is not JSON (${(err as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'body is not a JSON object';
  const review = value as Partial<AdmissionReview>;
  if (review.kind !== 'AdmissionReview')
    return `kind is ${JSON.stringify(review.kind)}, want "AdmissionReview"`;
  if (typeof review.apiVersion !== 'string' || !review.apiVersion.startsWith('admission.k8s.io/'))
    return `apiVersion is ${JSON.stringify(review.apiVersion)}, want "admission.k8s.io/v1"`;
  const request = review.request;
  if (typeof request !== 'object' || request === null) return 'request is missing';
  if (typeof request.uid !== 'string' || request.uid === '') return 'request.uid is missing';
  if (typeof request.operation !== 'string') return 'request.operation is missing';
  return review as AdmissionReview & { request: AdmissionRequest };
}

/**
 * The body as UTF-8, or undefined when it grows past `limit` bytes (the rest is read and dropped,
 * so the answer can still be written on the same connection).
 */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks).toString('utf8');
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
