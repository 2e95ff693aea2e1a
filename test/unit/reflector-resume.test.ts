/**
 * A reflector resumed from a checkpoint (real client-node watch code, canned API server answers):
 * it watches from the given resourceVersion without listing, hands the replayed events over, and on
 * 410 Gone stops and reports the expiry to its owner instead of listing by itself.
 */
import type { IncomingMessage, Server } from 'node:http';
import pino from 'pino';
import { Reflector } from '../../src/kube/reflector.js';
import { localApiServer } from './local-server.js';

const TYPE = { apiVersion: 'v1', kind: 'ConfigMap', path: '/api/v1/configmaps' };
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
const cm = (name: string, rv: string) => ({ metadata: { namespace: 'ns', name, resourceVersion: rv } });

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A server that answers each watch with `events` (then keeps the stream open), and records every request. */
async function serve(events: (req: IncomingMessage) => string) {
  const requests: string[] = [];
  const started = await localApiServer((req, res) => {
    requests.push(req.url ?? '');
    if (!req.url?.includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '999' }, items: [] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(events(req));
  });
  server = started.server;
  return { kc: started.kc, requests };
}

it('watches from the checkpoint version, without a list, and hands the replayed events over', async () => {
  const { kc, requests } = await serve(() =>
    [line('MODIFIED', cm('a', '101')), line('DELETED', cm('b', '102')), line('BOOKMARK', cm('', '150'))].join(
      '',
    ),
  );
  const changes: string[] = [];
  const bookmarks: string[] = [];
  const r = new Reflector({
    kubeconfig: kc,
    type: TYPE,
    log: pino({ level: 'silent' }),
    onChange: (key, event, obj) => changes.push(`${event} ${key} ${obj?.metadata?.resourceVersion}`),
    onBookmark: (v) => bookmarks.push(v),
    onExpired: () => undefined,
  });
  r.watchFrom('100');
  for (let i = 0; i < 100 && bookmarks.length === 0; i++) await new Promise((s) => setTimeout(s, 20));
  r.stop();
  expect(changes).toEqual(['modified ns/a 101', 'deleted ns/b 102']);
  expect(bookmarks).toEqual(['150']);
  expect(r.version).toBe('150');
  expect(requests).toHaveLength(1);
  expect(requests[0]).toContain('resourceVersion=100');
  expect(requests.some((u) => !u.includes('watch=true'))).toBe(false); // no list
});

it('on 410 Gone stops and reports the expiry instead of listing', async () => {
  const { kc, requests } = await serve(() =>
    line('ERROR', {
      kind: 'Status',
      code: 410,
      reason: 'Expired',
      message: 'too old resource version: 5 (900)',
    }),
  );
  const expired = await new Promise<string>((resolve) => {
    const r = new Reflector({
      kubeconfig: kc,
      type: TYPE,
      log: pino({ level: 'silent' }),
      onChange: () => undefined,
      onExpired: resolve,
    });
    r.watchFrom('5');
  });
  expect(expired).toContain('410');
  await new Promise((s) => setTimeout(s, 1500)); // a reflector of its own would list after 1 s
  expect(requests.filter((u) => !u.includes('watch=true'))).toEqual([]);
});
