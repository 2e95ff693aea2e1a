/**
 * Starting and stopping the orchestrator's own HTTP(S) servers (audit webhook, metrics) the same
 * way: listen and resolve once bound (or reject, e.g. EADDRINUSE), read back the port (0 picks a
 * free one), and close with the kept-alive connections.
 */
import type { AddressInfo, Server } from 'node:net';

/** A listening server: its port, its base URL and how to close it. */
export interface Listening {
  port: number;
  /** `scheme://host:port`, an IPv6 host in brackets. */
  base: string;
  close(): Promise<void>;
}

/** Listens on `host:port`; resolves once bound, rejects when binding fails. */
export async function listen(
  server: Server & { closeAllConnections?(): void },
  opts: { host: string; port: number; scheme: 'http' | 'https' },
): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    port,
    base: `${opts.scheme}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections?.();
      }),
  };
}
