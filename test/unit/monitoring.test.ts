/**
 * The monitoring manifests (k8s/monitoring): the GrafanaDashboard manifests are the generated
 * embedding of dashboard.json, and they and the ServiceMonitor are valid against the real
 * operators' CRD schemas (vendored in test/unit/fixtures/crd-schemas, source in each `$comment`);
 * the Service and ServiceMonitor reach the Deployment's metrics ports; the kustomization lists them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import yaml from 'js-yaml';
import { DEFAULT_METRICS_PORT, DEFAULT_TEMPORAL_METRICS_PORT } from '../../src/config.js';
import { renderManifests, staleManifests } from '../../tools/monitoring/build-dashboards.js';

const root = process.cwd();
const dir = path.join(root, 'k8s/monitoring');
const NAMESPACE = 'resiliency-orchestrator';

type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
};
const load = (file: string) =>
  yaml.loadAll(readFileSync(path.join(root, file), 'utf8')).filter(Boolean) as KubeObject[];
const one = (file: string) => {
  const objects = load(file);
  expect(objects).toHaveLength(1);
  return objects[0];
};

// ---------------------------------------------------------------------------------------------
// A CRD's openAPIV3Schema as the API server applies it to a create: types, required fields,
// enums and patterns, and (kubectl's default strict field validation) no field the schema does
// not declare. x-kubernetes-validations (CEL) and formats are not evaluated here.

/** Adds `additionalProperties: false` to each object schema that lists its properties. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const s = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, strict(v)])) as Record<
    string,
    unknown
  >;
  if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) {
    s.additionalProperties = false;
  }
  return s;
}

interface CrdFixture {
  group: string;
  version: string;
  kind: string;
  openAPIV3Schema: object;
}
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
function crdValidator(fixture: string): { fixture: CrdFixture; validate: ValidateFunction } {
  const f = JSON.parse(
    readFileSync(path.join(root, 'test/unit/fixtures/crd-schemas', fixture), 'utf8'),
  ) as CrdFixture;
  return { fixture: f, validate: ajv.compile(strict(f.openAPIV3Schema) as object) };
}
const errorsOf = (validate: ValidateFunction, object: unknown) =>
  validate(object) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

const crds = {
  v4: crdValidator('grafana-operator-v4.10.1-grafanadashboards.json'),
  v5: crdValidator('grafana-operator-v5.24.0-grafanadashboards.json'),
  serviceMonitor: crdValidator('prometheus-operator-v0.93.0-servicemonitors.json'),
};

describe('GrafanaDashboard manifests', () => {
  const dashboardJson = readFileSync(path.join(dir, 'dashboard.json'), 'utf8');

  it('are up to date with dashboard.json (else: npm run build:dashboards)', async () => {
    expect((await staleManifests()).map((m) => m.file)).toEqual([]);
  });

  it('would be found stale after an edit of dashboard.json', async () => {
    const edited = dashboardJson.replace('"title": "Resiliency Orchestrator"', '"title": "Edited"');
    expect(edited).not.toBe(dashboardJson);
    const rendered = await renderManifests(edited);
    for (const m of rendered) {
      expect(m.text).not.toBe(readFileSync(path.join(dir, m.file), 'utf8'));
    }
  });

  it.each([
    ['grafana-v4-dashboard.yaml', 'v4', 'integreatly.org/v1alpha1'],
    ['grafana-v5-dashboard.yaml', 'v5', 'grafana.integreatly.org/v1beta1'],
  ] as const)(
    '%s embeds dashboard.json as spec.json and is valid against the %s CRD',
    (file, crd, apiVersion) => {
      const object = one(`k8s/monitoring/${file}`);
      const { fixture, validate } = crds[crd];
      expect(object).toMatchObject({ apiVersion: `${fixture.group}/${fixture.version}`, kind: fixture.kind });
      expect(object.apiVersion).toBe(apiVersion);
      expect(object.spec.json).toBe(dashboardJson);
      expect(errorsOf(validate, object)).toEqual([]);
    },
  );

  it('the v4 one carries the label the operator’s dashboardLabelSelector examples use, and no namespace', () => {
    const v4 = one('k8s/monitoring/grafana-v4-dashboard.yaml');
    expect(v4.metadata.labels).toMatchObject({ app: 'grafana' });
    expect(v4.metadata.namespace).toBeUndefined();
  });

  it('the v5 one selects Grafana instances by label and may be imported from another namespace', () => {
    const v5 = one('k8s/monitoring/grafana-v5-dashboard.yaml');
    expect(v5.metadata.namespace).toBe(NAMESPACE);
    expect(v5.spec).toMatchObject({
      instanceSelector: { matchLabels: { dashboards: 'grafana' } },
      allowCrossNamespaceImport: true,
    });
  });

  it('the CRD check is not vacuous: an unknown field, a wrong type and a missing required field fail', () => {
    const v5 = one('k8s/monitoring/grafana-v5-dashboard.yaml');
    expect(errorsOf(crds.v5.validate, { ...v5, spec: { ...v5.spec, jsonn: '{}' } })).toEqual([
      '/spec must NOT have additional properties',
    ]);
    const withoutSelector = { ...v5.spec };
    delete withoutSelector.instanceSelector;
    expect(errorsOf(crds.v5.validate, { ...v5, spec: withoutSelector })).toEqual([
      "/spec must have required property 'instanceSelector'",
    ]);
    const v4 = one('k8s/monitoring/grafana-v4-dashboard.yaml');
    expect(errorsOf(crds.v4.validate, { ...v4, spec: { json: JSON.parse(v4.spec.json as string) } })).toEqual(
      ['/spec/json must be string'],
    );
    // v4 has no instanceSelector: a v5 spec is not a v4 one
    expect(errorsOf(crds.v4.validate, { ...v4, spec: v5.spec })).toContain(
      '/spec must NOT have additional properties',
    );
  });
});

describe('Service and ServiceMonitor', () => {
  const deployment = load('k8s/install/deployment.yaml').find((o) => o.kind === 'Deployment')!;
  const template = (
    deployment.spec as {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: { ports?: { name: string; containerPort: number }[] }[] };
      };
    }
  ).template;
  const containerPorts = Object.fromEntries(
    template.spec.containers.flatMap((c) => c.ports ?? []).map((p) => [p.name, p.containerPort]),
  );
  const service = one('k8s/monitoring/service.yaml');
  const serviceSpec = service.spec as {
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: string | number }[];
  };
  const monitor = one('k8s/monitoring/servicemonitor.yaml');
  const monitorSpec = monitor.spec as {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: { port: string; path: string; interval: string }[];
  };

  it('the Deployment names both metrics ports at the orchestrator’s default port numbers', () => {
    expect(containerPorts).toMatchObject({
      metrics: DEFAULT_METRICS_PORT,
      'temporal-metrics': DEFAULT_TEMPORAL_METRICS_PORT,
    });
  });

  it('the Service selects the Deployment’s Pods and targets both named ports', () => {
    expect(service.metadata.namespace).toBe(NAMESPACE);
    expect(template.metadata.labels).toMatchObject(serviceSpec.selector);
    expect(serviceSpec.ports.map((p) => [p.name, p.port, containerPorts[p.targetPort as string]])).toEqual([
      ['metrics', DEFAULT_METRICS_PORT, DEFAULT_METRICS_PORT],
      ['temporal-metrics', DEFAULT_TEMPORAL_METRICS_PORT, DEFAULT_TEMPORAL_METRICS_PORT],
    ]);
  });

  it('the ServiceMonitor is valid against the prometheus-operator CRD and scrapes both ports every 30 s', () => {
    expect(errorsOf(crds.serviceMonitor.validate, monitor)).toEqual([]);
    expect(monitor).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' });
    expect(monitor.metadata.namespace).toBe(NAMESPACE);
    expect(monitorSpec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(monitorSpec.endpoints.map((e) => [e.port, e.path, e.interval])).toEqual([
      ['metrics', '/metrics', '30s'],
      ['temporal-metrics', '/metrics', '30s'],
    ]);
    // and the check is not vacuous
    expect(
      errorsOf(crds.serviceMonitor.validate, { ...monitor, spec: { ...monitorSpec, endpoint: [] } }),
    ).toEqual(['/spec must NOT have additional properties']);
  });

  it('the ServiceMonitor selects the metrics Service and not the webhook one', () => {
    const webhook = load('k8s/install/webhook.yaml').find((o) => o.kind === 'Service')!;
    const selects = (labels: Record<string, string> = {}) =>
      Object.entries(monitorSpec.selector.matchLabels).every(([k, v]) => labels[k] === v);
    expect(selects(service.metadata.labels)).toBe(true);
    expect(selects(webhook.metadata.labels)).toBe(false);
  });
});

describe('k8s/monitoring kustomization', () => {
  it('lists the Service, the ServiceMonitor and the v5 dashboard (v4 needs another CRD: applied on its own)', () => {
    const k = yaml.load(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    expect(k.resources).toEqual(['service.yaml', 'servicemonitor.yaml', 'grafana-v5-dashboard.yaml']);
    for (const file of k.resources) {
      for (const o of load(`k8s/monitoring/${file}`)) expect(o.metadata.namespace).toBe(NAMESPACE);
    }
  });
});
