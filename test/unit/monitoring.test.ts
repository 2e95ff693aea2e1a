/**
 * The monitoring manifests (k8s/monitoring): the GrafanaDashboard manifests are the generated
 * embedding of dashboard.json, with the fields the Grafana Operator v4 and v5 documentation gives
 * (no CRD schema is copied into the project: the operators' CRDs are not checked offline); the
 * Service and ServiceMonitor reach the Deployment's metrics ports; the kustomization lists them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
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
    ['grafana-v4-dashboard.yaml', 'integreatly.org/v1alpha1'],
    ['grafana-v5-dashboard.yaml', 'grafana.integreatly.org/v1beta1'],
  ] as const)('%s is a GrafanaDashboard of %s embedding dashboard.json as spec.json', (file, apiVersion) => {
    const object = one(`k8s/monitoring/${file}`);
    expect(object).toMatchObject({ apiVersion, kind: 'GrafanaDashboard' });
    expect(object.spec.json).toBe(dashboardJson);
  });

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
      'sdk-metrics': DEFAULT_TEMPORAL_METRICS_PORT,
    });
  });

  it('the Service selects the Deployment’s Pods and targets both named ports', () => {
    expect(service.metadata.namespace).toBe(NAMESPACE);
    expect(template.metadata.labels).toMatchObject(serviceSpec.selector);
    expect(serviceSpec.ports.map((p) => [p.name, p.port, containerPorts[p.targetPort as string]])).toEqual([
      ['metrics', DEFAULT_METRICS_PORT, DEFAULT_METRICS_PORT],
      ['sdk-metrics', DEFAULT_TEMPORAL_METRICS_PORT, DEFAULT_TEMPORAL_METRICS_PORT],
    ]);
  });

  it('the ServiceMonitor scrapes both ports every 30 s', () => {
    expect(monitor).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' });
    expect(monitor.metadata.namespace).toBe(NAMESPACE);
    expect(monitorSpec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(monitorSpec.endpoints.map((e) => [e.port, e.path, e.interval])).toEqual([
      ['metrics', '/metrics', '30s'],
      ['sdk-metrics', '/metrics', '30s'],
    ]);
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
