/**
 * The plain-HTTP metrics server: `GET /metrics` answers the registry in Prometheus' text format;
 * other routes (the health endpoints of src/probes/) are passed in.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { listen } from '../net/listen.js';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  registry: Registry;
  /** Address to listen on, for example `0.0.0.0` in a Pod or `127.0.0.1` in tests. */
  host: string;
  /** Port to listen on; 0 picks a free one (read it back from the result). */
  port: number;
  log: Logger;
  /** More GET routes by path (`/healthz`, `/readyz`). */
  routes?: Record<string, Route>;
}

/** A route's answer. */
export interface RouteAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** A GET route of the server. */
export type Route = () => Promise<RouteAnswer>;

/** A running metrics server. */
export interface MetricsServer {
  /** Scrape URL, for example `http://127.0.0.1:9464/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the metrics server and resolves once it listens. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const log = opts.log.child({ component: 'metrics' });
  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/metrics': async (res) => {
      const body = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
    },
  };
  for (const [path, route] of Object.entries(opts.routes ?? {})) {
    routes[path] = async (res) => {
      const a = await route();
      res.writeHead(a.status, { 'content-type': a.contentType }).end(a.body);
    };
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!route) {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`not found: try ${Object.keys(routes).join(', ')}\n`);
      return;
    }
    route(res).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'metrics request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      else res.destroy();
    });
  });
  const { port, base, close } = await listen(server, { ...opts, scheme: 'http' });
  server.on('error', (err) => log.error({ err: err.message }, 'metrics server error'));
  const url = `${base}/metrics`;
  log.info({ url }, 'metrics listening');
  return { url, port, close };
}
