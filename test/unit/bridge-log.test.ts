/**
 * What a freshly started orchestrator logs while its API server finishes starting: the bridge's
 * informers retry by design, so the API server's 429 "storage is (re)initializing" is a warning,
 * while a failure retrying cannot heal (403: a permission is missing) is an error. The API server
 * is an in-process fake that answers the bridge's list and watch requests.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { ALL_KINDS } from '../../src/api/kinds.js';
import { startBridge, type Bridge } from '../../src/bridge/bridge.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { localApiServer } from './local-server.js';

type Line = { level: string; msg: string; err?: string };

/** An API server that fails the first `failures` lists of each path with `status`, then serves empty lists. */
async function fakeApiServer(status: number, reason: string, message: string, failures: number) {
  const lists = new Map<string, number>();
  const watches = new Set<ServerResponse>();
  const { server, kc } = await localApiServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.add(res);
      return;
    }
    const n = (lists.get(url.pathname) ?? 0) + 1;
    lists.set(url.pathname, n);
    res.setHeader('content-type', 'application/json');
    if (n <= failures) {
      res.statusCode = status;
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message,
          reason,
          code: status,
        }),
      );
    } else {
      res.end(
        JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [], metadata: { resourceVersion: '1' } }),
      );
    }
  });
  return {
    kc,
    /** Paths listed successfully. */
    served: () => [...lists.values()].filter((n) => n > failures).length,
    async close() {
      for (const w of watches) w.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function bridgeLog(
  status: number,
  reason: string,
  message: string,
  failures: number,
  until: (served: number, lines: Line[]) => boolean,
): Promise<Line[]> {
  const api = await fakeApiServer(status, reason, message, failures);
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      cb();
    },
  });
  let bridge: Bridge | undefined;
  try {
    // No object is ever listed, so nothing reaches Temporal.
    bridge = await startBridge({
      management: api.kc,
      client: {} as Client,
      taskQueue: 'unused',
      log: createLogger({ level: 'info', destination }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const deadline = Date.now() + 20_000;
    while (!until(api.served(), lines) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return lines.filter((l) => l.msg.startsWith('watch failed'));
  } finally {
    await bridge?.stop();
    await api.close();
  }
}

describe('the bridge, while its API server starts', () => {
  it('logs the retried 429 "storage is (re)initializing" as a warning, naming it', async () => {
    const failed = await bridgeLog(
      429,
      'TooManyRequests',
      'storage is (re)initializing',
      2,
      (served) => served === ALL_KINDS.length,
    );
    expect(failed).toHaveLength(2 * ALL_KINDS.length);
    expect(new Set(failed.map((l) => l.level))).toEqual(new Set(['warn']));
    expect(new Set(failed.map((l) => l.err))).toEqual(new Set(['storage is (re)initializing']));
  }, 30_000);

  it('logs a 403, which no retry heals, as an error', async () => {
    const message =
      'livesynchronizations.automation.astronetes.io is forbidden: User "x" cannot list resource';
    const failed = await bridgeLog(
      403,
      'Forbidden',
      message,
      1,
      (_, lines) => lines.filter((l) => l.msg.startsWith('watch failed')).length >= ALL_KINDS.length,
    );
    expect(failed).toHaveLength(ALL_KINDS.length);
    expect(new Set(failed.map((l) => l.level))).toEqual(new Set(['error']));
    expect(failed.map((l) => l.err)).toContain(message);
  }, 30_000);
});
