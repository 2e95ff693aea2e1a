/**
 * Prometheus is real: a target registered through the file_sd folder is discovered, scraped and
 * reported up, a query returns its series with the job and instance labels, and unregistering it
 * removes it from the targets.
 */
import { createServer, type Server } from 'node:http';
import { waitFor } from '../bench/util.js';
import { activeTargets, registerScrapeTarget, waitForSeries } from './prometheus.js';
import { uniqueName } from './stack-env.js';

const METRICS = `# HELP smoke_metric A gauge the smoke test serves by hand.
# TYPE smoke_metric gauge
smoke_metric{kind="x"} 42
`;

describe('Prometheus', () => {
  let server: Server;
  let address = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(METRICS);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('scrapes a registered target and answers a query with its series, then forgets it', async () => {
    const run = uniqueName('smoke');
    const unregister = registerScrapeTarget(run, address, { smoke_run: run });
    try {
      const series = await waitForSeries(`smoke_metric{smoke_run="${run}"}`, 30_000);
      expect(series).toHaveLength(1);
      expect(series[0].metric).toEqual({
        __name__: 'smoke_metric',
        kind: 'x',
        job: 'resiliency-orchestrator',
        instance: address,
        smoke_run: run,
      });
      expect(series[0].value[1]).toBe('42');

      const target = (await activeTargets()).find((t) => t.labels.smoke_run === run);
      expect(target).toMatchObject({
        scrapePool: 'resiliency-orchestrator',
        scrapeUrl: `http://${address}/metrics`,
        health: 'up',
        lastError: '',
      });
    } finally {
      unregister();
    }
    await waitFor(
      'the unregistered target to leave /api/v1/targets',
      async () => !(await activeTargets()).some((t) => t.labels.smoke_run === run),
      20_000,
    );
  });
});
