/**
 * An HTTP server on a free loopback port standing in for an API server's answers, and a
 * KubeConfig that points client-node at it: for unit tests of how our code reads the client's
 * errors and responses (real client code, canned answers).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/** Starts `handler` on 127.0.0.1 and returns the server and a KubeConfig for it. */
export async function localApiServer(handler: RequestListener): Promise<{ server: Server; kc: KubeConfig }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { server, kc };
}
