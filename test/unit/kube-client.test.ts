import type { Agent } from 'node:http';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pooledAgentCount, reuseConnections } from '../../src/kube/connections.js';
import { isTransientKubeError, kubeErrorText } from '../../src/kube/errors.js';
import { localApiServer } from './local-server.js';

const kubeconfig = (server: string, user: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server } }],
    users: [{ name: 'u', user: { token: user } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });

function agentOf(kc: KubeConfig, options: Record<string, unknown> = {}): Agent {
  const createAgent = (kc as unknown as { createAgent: (c: unknown, o: unknown) => Agent }).createAgent;
  return createAgent(kc.getCurrentCluster(), options);
}

function load(server: string, user = 't'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig(server, user));
  return reuseConnections(kc);
}

describe('reuseConnections', () => {
  it('gives every request to one API server the same keep-alive agent, across KubeConfig loads', () => {
    const first = agentOf(load('https://127.0.0.1:6443'));
    const again = agentOf(load('https://127.0.0.1:6443'));
    expect(again).toBe(first);
    expect((first as unknown as { keepAlive: boolean }).keepAlive).toBe(true);
  });

  it('keeps servers and client certificates apart', () => {
    const before = pooledAgentCount();
    const a = agentOf(load('https://127.0.0.1:7443'), { cert: 'A', key: 'a' });
    const b = agentOf(load('https://127.0.0.1:7443'), { cert: 'B', key: 'b' });
    const c = agentOf(load('https://127.0.0.1:8443'), { cert: 'A', key: 'a' });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(pooledAgentCount()).toBe(before + 3);
  });
});

/** A Status body exactly as kube-apiserver writes it. */
function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

/** What a client-node 1.x generated API throws for a status it does not model (see its gen/apis). */
function apiException(code: number, body: unknown, word = 'Unknown API Status Code!'): ApiException<unknown> {
  return new ApiException(code, word, body, { 'content-type': 'application/json' });
}

/** The error client-node throws when `createNamespacedService` gets `status` and `body` back. */
async function thrownByClient(
  status: number,
  body: string,
  contentType = 'application/json',
): Promise<unknown> {
  const { server, kc } = await localApiServer((_, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  try {
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedService({ namespace: 'dr', body: { metadata: { name: 'web' } } });
    throw new Error('no error');
  } catch (err) {
    return err;
  } finally {
    server.close();
  }
}

describe('kubeErrorText', () => {
  it('gives the whole Status message of a real client-node error, quotes included', async () => {
    const err = await thrownByClient(409, statusBody(409, 'AlreadyExists', 'services "web" already exists'));
    expect(err).toBeInstanceOf(ApiException);
    expect(kubeErrorText(err)).toBe('services "web" already exists');
  });

  it('falls back to the code and the text of a body that is not JSON', async () => {
    const err = await thrownByClient(404, '404 page not found\n', 'text/plain');
    expect(kubeErrorText(err)).toBe('HTTP-Code: 404 (404 page not found)');
  });

  it.each([
    [
      'a Status as text (generated APIs)',
      apiException(
        422,
        statusBody(
          422,
          'Invalid',
          'Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
        ),
      ),
      'Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    ],
    [
      'a parsed Status (log and metrics helpers)',
      apiException(429, {
        kind: 'Status',
        message: 'storage is (re)initializing',
        reason: 'TooManyRequests',
      }),
      'storage is (re)initializing',
    ],
    [
      'a Status message on several lines',
      apiException(500, statusBody(500, 'InternalError', 'first\n  second')),
      'first second',
    ],
    [
      'a Status with a reason only',
      apiException(503, '{"kind":"Status","reason":"ServiceUnavailable"}'),
      'HTTP-Code: 503 (ServiceUnavailable)',
    ],
    [
      "no body, the client's own word",
      apiException(401, undefined, 'Unauthorized'),
      'HTTP-Code: 401 (Unauthorized)',
    ],
    ['no body and nothing said', apiException(500, ''), 'HTTP-Code: 500'],
    [
      'a watch error (statusText)',
      Object.assign(new Error('Too Many Requests'), { statusCode: 429 }),
      'Too Many Requests',
    ],
    [
      'a connection error',
      Object.assign(
        new Error('request to https://127.0.0.1:1/api failed, reason: connect ECONNREFUSED 127.0.0.1:1'),
        {
          code: 'ECONNREFUSED',
        },
      ),
      'request to https://127.0.0.1:1/api failed, reason: connect ECONNREFUSED 127.0.0.1:1',
    ],
    ['an error on several lines', new Error('first line\nsecond line'), 'first line'],
    ['a string', 'boom', 'boom'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
  ])('reads %s', (_, err, text) => {
    expect(kubeErrorText(err)).toBe(text);
  });
});

/** The error client-node throws when nothing listens on the API server's port. */
async function thrownByClosedPort(): Promise<unknown> {
  const { server, kc } = await localApiServer(() => undefined);
  await new Promise((resolve) => server.close(resolve)); // nothing listens on its port any more
  return kc
    .makeApiClient(CoreV1Api)
    .listNamespace()
    .then(
      () => new Error('no error'),
      (err: unknown) => err,
    );
}

describe('isTransientKubeError', () => {
  it('is true for a real 429 "storage is (re)initializing" of a freshly started API server', async () => {
    const err = await thrownByClient(429, statusBody(429, 'TooManyRequests', 'storage is (re)initializing'));
    expect(isTransientKubeError(err)).toBe(true);
  });

  it('is true for a real connection refused (a server not up yet, or restarting)', async () => {
    const err = await thrownByClosedPort();
    expect(kubeErrorText(err)).toMatch(/ECONNREFUSED/);
    expect(isTransientKubeError(err)).toBe(true);
  });

  it('is false for a real 404 (a CRD that is not installed)', async () => {
    const err = await thrownByClient(
      404,
      statusBody(404, 'NotFound', 'the server could not find the requested resource'),
    );
    expect(isTransientKubeError(err)).toBe(false);
  });

  it.each([
    ['429 from a list', apiException(429, statusBody(429, 'TooManyRequests', 'storage is (re)initializing'))],
    ['500', apiException(500, statusBody(500, 'InternalError', 'etcdserver: request timed out'))],
    [
      '503',
      apiException(
        503,
        statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'),
      ),
    ],
    ['a watch 429 (statusCode)', Object.assign(new Error('Too Many Requests'), { statusCode: 429 })],
    ['a watch 504', Object.assign(new Error('Gateway Timeout'), { statusCode: 504 })],
    ['a connection reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    [
      'a watch cut short',
      Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
    ],
    ['a cause with a socket error', new Error('fetch failed', { cause: { code: 'ECONNREFUSED' } })],
  ])('is true for %s', (_, err) => {
    expect(isTransientKubeError(err)).toBe(true);
  });

  it.each([
    ['401', apiException(401, undefined, 'Unauthorized')],
    ['403', apiException(403, statusBody(403, 'Forbidden', 'livesynchronizations is forbidden'))],
    ['422', apiException(422, statusBody(422, 'Invalid', 'Service "web" is invalid'))],
    ['a watch 404', Object.assign(new Error('Not Found'), { statusCode: 404 })],
    ['an unknown host', Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' })],
    ['a plain error', new Error('boom')],
    ['undefined', undefined],
  ])('is false for %s', (_, err) => {
    expect(isTransientKubeError(err)).toBe(false);
  });
});
