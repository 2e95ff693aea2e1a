/**
 * The install manifests (k8s/install, `kubectl apply -k`) are accepted by a real kube-apiserver
 * (the stack's management cluster) in a server-side dry run, hang together (the webhook Service
 * selects the Deployment's Pods and targets its port, the Pods run as the ServiceAccount the RBAC
 * binds), pass the restricted Pod Security Standard, and give the ServiceAccount what the
 * orchestrator needs and nothing it must not have, as `kubectl auth can-i` reports it.
 */
import path from 'node:path';
import { kubectl } from './kubectl.js';
import { applyInstallRbac } from './rbac.js';

const root = process.cwd();
const installDir = path.join(root, 'k8s/install');
const NAMESPACE = 'resiliency-orchestrator';
const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:resiliency-orchestrator`;

type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
};

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: object }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: number | string; scheme: string } };
  livenessProbe?: { httpGet?: { path: string; port: number | string; scheme: string } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string }; emptyDir?: object }[];
}
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}

let installed: KubeObject[] = [];
let dryRunStderr = '';

function find(kind: string, name?: string): KubeObject {
  const found = installed.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`the dry run returned no ${kind}${name ? ` ${name}` : ''}`);
  return found;
}

beforeAll(async () => {
  // A server-side dry run creates nothing, the Namespace included, so every namespaced object in
  // the same dry run fails with `namespaces "resiliency-orchestrator" not found`. Creating the
  // Namespace for real first is harmless (it is empty, and nothing is deleted afterwards: without
  // kube-controller-manager a deleted namespace would stay Terminating and break the next run).
  // The RBAC objects are applied for real so that `kubectl auth can-i --as` can evaluate them
  // (what an older rbac.yaml had and this one has not is deleted); they only grant the install's
  // ServiceAccount, which the security suite runs an orchestrator as. They stay, like the Namespace.
  await applyInstallRbac();

  // The whole kustomization, CRDs (../crds) included, exactly as a user would apply it.
  const result = await kubectl(['apply', '--dry-run=server', '-k', installDir, '-o', 'json']);
  if (result.code !== 0) {
    throw new Error(`kubectl apply --dry-run=server -k k8s/install exited ${result.code}:\n${result.stderr}`);
  }
  dryRunStderr = result.stderr;
  const list = JSON.parse(result.stdout) as { kind: string; items?: KubeObject[] } & KubeObject;
  installed = list.kind === 'List' ? (list.items ?? []) : [list];
});

describe('kubectl apply --dry-run=server -k k8s/install', () => {
  it('is accepted, with every object of the kustomization and no warning but the CRDs’ own', () => {
    const kinds = installed.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        'Namespace/resiliency-orchestrator',
        'CustomResourceDefinition/kubernetesclusters.assets.astronetes.io',
        'CustomResourceDefinition/buckets.assets.astronetes.io',
        'CustomResourceDefinition/databases.assets.astronetes.io',
        'CustomResourceDefinition/livesynchronizations.automation.astronetes.io',
        'CustomResourceDefinition/synchronizations.automation.astronetes.io',
        'CustomResourceDefinition/synchronizationplans.automation.astronetes.io',
        'CustomResourceDefinition/backups.automation.astronetes.io',
        'CustomResourceDefinition/tasks.automation.astronetes.io',
        'CustomResourceDefinition/taskruns.automation.astronetes.io',
        'ServiceAccount/resiliency-orchestrator',
        'ClusterRole/resiliency-orchestrator',
        'ClusterRoleBinding/resiliency-orchestrator',
        'ClusterRole/resiliency-orchestrator-custom-image-runner',
        'ClusterRole/resiliency-orchestrator-recovery',
        'ClusterRoleBinding/resiliency-orchestrator-recovery',
        'Role/resiliency-orchestrator-leader-election',
        'RoleBinding/resiliency-orchestrator-leader-election',
        'Deployment/resiliency-orchestrator',
        'PodDisruptionBudget/resiliency-orchestrator',
        'Service/resiliency-orchestrator-webhook',
        'MutatingWebhookConfiguration/resiliency-orchestrator-audit',
      ].sort(),
    );
    for (const o of installed.filter((o) => o.metadata.namespace !== undefined)) {
      expect(`${o.kind}/${o.metadata.name} in ${o.metadata.namespace}`).toBe(
        `${o.kind}/${o.metadata.name} in ${NAMESPACE}`,
      );
    }
    // CRDs another test applied server-side lack kubectl's last-applied annotation: kubectl warns
    // and adds it. Anything else (a Pod Security warning, a deprecated API) is a finding.
    const otherWarnings = dryRunStderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !/last-applied-configuration annotation/.test(line));
    expect(otherWarnings).toEqual([]);
  });

  it('runs the orchestrator image as the bound ServiceAccount, configured for in-cluster use', () => {
    const spec = find('Deployment', 'resiliency-orchestrator').spec as unknown as DeploymentSpec;
    expect(spec.replicas).toBe(2);
    const pod = spec.template.spec;
    expect(pod.serviceAccountName).toBe('resiliency-orchestrator');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(find('ClusterRoleBinding', 'resiliency-orchestrator').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'resiliency-orchestrator', namespace: NAMESPACE },
    ]);
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container.image).toBe('ghcr.io/resiliency-orchestrator/resiliency-orchestrator:0.1.0');
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toEqual({
      TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'resiliency-orchestrator',
      LOG_LEVEL: 'info',
      WEBHOOK_PORT: '9443',
      WEBHOOK_CERT_DIR: '/tls',
      POD_NAME: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
      POD_NAMESPACE: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
    });
    expect(env).not.toHaveProperty('MANAGEMENT_KUBECONFIG');
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const mounts = Object.fromEntries((container.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
    expect(volumes[mounts['/tls']].secret?.secretName).toBe('resiliency-orchestrator-webhook-tls');
    expect(volumes[mounts['/tmp']].emptyDir).toBeDefined();
    expect(find('PodDisruptionBudget').spec).toMatchObject({
      minAvailable: 1,
      selector: { matchLabels: spec.selector.matchLabels },
    });
  });

  it('has the webhook Service select the Deployment’s Pods and target their webhook port', () => {
    const deployment = find('Deployment', 'resiliency-orchestrator').spec as unknown as DeploymentSpec;
    const podLabels = deployment.template.metadata.labels;
    expect(podLabels).toMatchObject(deployment.selector.matchLabels);
    const service = find('Service', 'resiliency-orchestrator-webhook').spec as {
      selector: Record<string, string>;
      ports: { port: number; targetPort: number | string }[];
    };
    expect(podLabels).toMatchObject(service.selector);
    const [container] = deployment.template.spec.containers;
    const webhookPort = container.ports?.find((p) => p.name === 'webhook');
    expect(webhookPort?.containerPort).toBe(9443);
    expect([webhookPort?.containerPort, webhookPort?.name]).toContain(service.ports[0].targetPort);
    // The probes are plain HTTP on the metrics port (the orchestrator serves /healthz and /readyz there).
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics', scheme: 'HTTP' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics', scheme: 'HTTP' });
    expect(container.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9464);
    const webhook = find('MutatingWebhookConfiguration') as unknown as {
      webhooks: { clientConfig: { service: { name: string; namespace: string; port: number } } }[];
    };
    expect(webhook.webhooks[0].clientConfig.service).toMatchObject({
      name: 'resiliency-orchestrator-webhook',
      namespace: NAMESPACE,
      port: service.ports[0].port,
    });
  });

  it('has a Pod template the restricted Pod Security Standard admits in its namespace', async () => {
    const deployment = find('Deployment', 'resiliency-orchestrator').spec as unknown as DeploymentSpec;
    // namespace.yaml enforces `restricted`; a Deployment only gets warnings, a Pod is refused.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'pod-security-check',
        namespace: NAMESPACE,
        labels: deployment.template.metadata.labels,
      },
      spec: deployment.template.spec,
    };
    const result = await kubectl(
      ['create', '--dry-run=server', '-o', 'name', '-f', '-'],
      JSON.stringify(pod),
    );
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });

    // The control: the same Pod on the host's network is refused, so the check above is not vacuous.
    const privileged = { ...pod, spec: { ...pod.spec, hostNetwork: true } };
    const refused = await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(privileged));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });
});

describe('the ServiceAccount, as kubectl auth can-i sees it', () => {
  /** `kubectl auth can-i --as=<the ServiceAccount> <args>`: true for yes (exit 0), false for no (exit 1). */
  async function can(args: string[]): Promise<boolean> {
    const r = await kubectl(['auth', 'can-i', `--as=${SERVICE_ACCOUNT}`, ...args]);
    if (r.code !== 0 && r.code !== 1) throw new Error(`kubectl auth can-i exited ${r.code}: ${r.stderr}`);
    return r.code === 0;
  }

  // What the code calls (docs/security.md lists each call site), and nothing else.
  const allowed = [
    ['watch', 'kubernetesclusters.assets.astronetes.io', '--all-namespaces'],
    ['list', 'taskruns.automation.astronetes.io', '--all-namespaces'],
    ['get', 'buckets.assets.astronetes.io', '-n', 'team-a'],
    ['patch', 'taskruns.automation.astronetes.io', '-n', 'team-a'],
    ['patch', 'livesynchronizations.automation.astronetes.io', '--subresource=status', '-n', 'team-a'],
    ['patch', 'databases.assets.astronetes.io', '--subresource=status', '-n', 'team-a'],
    ['update', 'synchronizationplans.automation.astronetes.io', '--subresource=finalizers', '-n', 'team-a'],
    ['create', 'synchronizations.automation.astronetes.io', '-n', 'team-a'],
    ['delete', 'synchronizations.automation.astronetes.io', '-n', 'team-a'],
    ['get', 'secrets', '-n', 'team-a'],
    ['create', 'events', '-n', 'team-a'],
    ['update', 'taskruns.automation.astronetes.io', '--subresource=finalizers', '-n', 'team-a'],
    // recovery Tasks (resiliency-orchestrator-recovery): patch workloads, write dry-run reports
    ['list', 'deployments.apps', '--all-namespaces'],
    ['update', 'statefulsets.apps', '-n', 'team-a'],
    ['create', 'configmaps', '-n', 'team-a'],
    ['create', 'deployments.apps', '-n', 'team-a'],
    // custom-image: a Task's clusterRole is read; its Pods need the runner role bound per namespace
    ['get', 'clusterroles.rbac.authorization.k8s.io/view'],
    // leader election: the Lease in the install's namespace
    ['get', 'leases.coordination.k8s.io', '-n', NAMESPACE],
    ['create', 'leases.coordination.k8s.io', '-n', NAMESPACE],
    ['update', 'leases.coordination.k8s.io', '-n', NAMESPACE],
  ];
  const denied = [
    ['delete', 'deployments.apps', '-n', 'team-a'],
    ['update', 'secrets', '-n', 'team-a'],
    ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['update', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['delete', 'secrets', '-n', 'team-a'],
    ['list', 'secrets', '-n', 'team-a'],
    ['watch', 'secrets', '--all-namespaces'],
    ['get', 'nodes'],
    ['create', 'namespaces'],
    ['update', 'kubernetesclusters.assets.astronetes.io', '-n', 'team-a'],
    ['update', 'synchronizationplans.automation.astronetes.io', '--subresource=status', '-n', 'team-a'],
    ['update', 'livesynchronizations.automation.astronetes.io', '--subresource=finalizers', '-n', 'team-a'],
    ['delete', 'livesynchronizations.automation.astronetes.io', '-n', 'team-a'],
    ['create', 'livesynchronizations.automation.astronetes.io', '-n', 'team-a'],
    ['create', 'tasks.automation.astronetes.io', '-n', 'team-a'],
    ['delete', 'kubernetesclusters.assets.astronetes.io', '-n', 'team-a'],
    ['patch', 'events', '-n', 'team-a'],
    ['create', 'events.events.k8s.io', '-n', 'team-a'],
    ['create', 'pods', '-n', 'team-a'],
    ['get', 'pods', '-n', 'team-a'],
    ['create', 'serviceaccounts', '-n', 'team-a'],
    ['create', 'serviceaccounts', '--subresource=token', '-n', NAMESPACE],
    ['create', 'leases.coordination.k8s.io', '-n', 'team-a'],
    ['update', 'leases.coordination.k8s.io', '-n', 'kube-node-lease'],
    ['delete', 'leases.coordination.k8s.io', '-n', NAMESPACE],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
    ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', 'team-a'],
    ['bind', 'clusterroles.rbac.authorization.k8s.io/cluster-admin'],
    ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
    ['impersonate', 'serviceaccounts'],
    ['*', '*'],
  ];
  const titled = (cases: string[][]) => cases.map((args) => [args.join(' '), args] as const);

  it.each(titled(allowed))('can %s', async (_title, args) => {
    expect(await can(args)).toBe(true);
  });

  it.each(titled(denied))('cannot %s', async (_title, args) => {
    expect(await can(args)).toBe(false);
  });
});
