/**
 * `npm run dashboard:queries -- [--namespace a,b] [--livesynchronization x] [--object-namespace y]
 * [--api-group z] [--range 1h] [--prometheus URL]`: prints every panel query of the Grafana
 * dashboard with its variables filled in as Grafana would (a filter left out is "All"). With
 * `--prometheus` (default `$PROMETHEUS_URL`, as `.stack/env` sets it) it also runs each one and
 * prints how many series it returned: the dashboard without Grafana.
 */
import { parseArgs } from 'node:util';
import { expandedTargets, loadDashboard, type Selection } from '../../test/integration/dashboard-queries.js';

const { values } = parseArgs({
  options: {
    namespace: { type: 'string' },
    livesynchronization: { type: 'string' },
    'object-namespace': { type: 'string' },
    'api-group': { type: 'string' },
    range: { type: 'string', default: '1h' },
    prometheus: { type: 'string', default: process.env.PROMETHEUS_URL },
  },
});
const list = (v: string | undefined) => (v === undefined ? 'all' : v.split(','));
const selection: Selection = {
  namespace: list(values.namespace),
  livesynchronization: list(values.livesynchronization),
  object_namespace: list(values['object-namespace']),
  api_group: list(values['api-group']),
};

for (const t of expandedTargets(loadDashboard(), selection, { range: values.range })) {
  let result = '';
  if (values.prometheus) {
    const url = new URL('/api/v1/query', values.prometheus);
    url.searchParams.set('query', t.query);
    const answer = await fetch(url).catch((e: Error) => {
      console.error(`cannot reach Prometheus at ${values.prometheus}: ${e.message}`);
      process.exit(1);
    });
    const body = (await answer.json()) as {
      status: string;
      error?: string;
      data?: { result: unknown[] };
    };
    result = body.status === 'success' ? `  -> ${body.data!.result.length} series` : `  -> ${body.error}`;
  }
  console.log(`${t.panelTitle} [${t.refId}]${result}\n  ${t.query}`);
}
