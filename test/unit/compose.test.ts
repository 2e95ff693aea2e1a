/**
 * docker-compose.temporal.yml, which no machine of ours can run (no Docker engine): its shape is
 * checked here. It follows Temporal's current compose layout (temporalio/server plus a
 * temporal-sql-tool schema job, not the deprecated auto-setup image), its jobs never hide a
 * failure behind `|| true`, and the search-attribute job registers exactly the attributes the
 * workflows set (src/api/search-attributes.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { SEARCH_ATTRIBUTES } from '../../src/api/search-attributes.js';

interface Service {
  image: string;
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  entrypoint?: string[];
  command?: string[];
  ports?: string[];
  healthcheck?: unknown;
}

const text = readFileSync(path.join(process.cwd(), 'docker-compose.temporal.yml'), 'utf8');
const compose = yaml.load(text) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { services } = compose;
/** A job's shell script as the container runs it (compose turns `$$` into `$`). */
const script = (name: string) => (services[name].command ?? []).join('\n').replaceAll('$$', '$');

describe('docker-compose.temporal.yml', () => {
  it('runs temporalio/server after a temporal-sql-tool schema job, and no auto-setup image', () => {
    expect(text).not.toMatch(/auto-setup/);
    expect(services.temporal.image).toMatch(/^temporalio\/server:1\.29\.\d+$/);
    expect(services.temporal.depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:1\.29\./);
    const schema = script('temporal-schema');
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d']) expect(schema).toContain(step);
    expect(schema).toContain('--plugin postgres12');
    expect(services.postgresql.image).toMatch(/^postgres:\d+$/);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
  });

  it('gives the server the same database settings the schema job created', () => {
    const env = services.temporal.environment ?? {};
    expect(env).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', POSTGRES_USER: 'temporal' });
    expect(services['temporal-schema'].depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
  });

  it('registers exactly the search attributes of src/api/search-attributes.ts, as Keyword, after the namespace', () => {
    const job = services['temporal-search-attributes'];
    expect(job.environment?.SEARCH_ATTRIBUTES.split(/\s+/).sort()).toEqual(
      SEARCH_ATTRIBUTES.map((a) => a.name).sort(),
    );
    expect(SEARCH_ATTRIBUTES.every((a) => a.type === 'Keyword')).toBe(true);
    expect(script('temporal-search-attributes')).toContain('--type Keyword');
    expect(job.depends_on).toEqual({ 'temporal-namespace': { condition: 'service_completed_successfully' } });
    expect(services['temporal-namespace'].environment?.NAMESPACE).toBe(job.environment?.NAMESPACE);
  });

  it.each(['temporal-schema', 'temporal-namespace', 'temporal-search-attributes'])(
    '%s fails loudly: set -eu, no `|| true`, bounded retries that exit 1',
    (name) => {
      const s = script(name);
      expect(s).toMatch(/^set -eu$/m);
      expect(s).not.toMatch(/\|\|\s*true/);
      expect(s).not.toMatch(/\|\|\s*:/);
      if (name !== 'temporal-schema') {
        expect(s).toMatch(/-ge \d+ \]; then echo .* >&2; exit 1; fi/);
        expect(s).toMatch(/already exists/);
      }
    },
  );

  it('publishes the server and the UI on loopback only', () => {
    expect(services.temporal.ports).toEqual(['127.0.0.1:7233:7233']);
    expect(services['temporal-ui'].ports).toEqual(['127.0.0.1:8080:8080']);
  });
});
