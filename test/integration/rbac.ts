/**
 * The orchestrator's identity on the management cluster as the install gives it, for integration
 * tests: the ServiceAccount of k8s/install/rbac.yaml, bound to exactly that file's roles and
 * authenticated with a TokenRequest token, as in a Pod. A suite that passes
 * {@link orchestratorKubeConfig} to `startOrchestrator` instead of the admin KubeConfig proves the
 * orchestrator needs nothing the install does not grant.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig, loadAllYaml, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { stackKubeconfigDir } from '../../tools/stack/paths.js';
import { kubectlOk } from './kubectl.js';
import { stackEnv } from './stack-env.js';

/** Where the install puts the orchestrator, and the ServiceAccount it runs as. */
export const INSTALL_NAMESPACE = 'resiliency-orchestrator';
export const SERVICE_ACCOUNT = 'resiliency-orchestrator';

const rbacFile = path.join(process.cwd(), 'k8s/install/rbac.yaml');
const PART_OF = 'app.kubernetes.io/part-of=resiliency-orchestrator';

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}
interface Binding {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  subjects?: Subject[];
}

const isOurServiceAccount = (s: Subject) =>
  s.kind === 'ServiceAccount' && s.name === SERVICE_ACCOUNT && s.namespace === INSTALL_NAMESPACE;

/**
 * Applies k8s/install/namespace.yaml and rbac.yaml to the management cluster, deletes what an
 * older rbac.yaml installed and this one no longer has, and checks that no other binding names the
 * ServiceAccount: afterwards it holds exactly what rbac.yaml grants.
 */
export async function applyInstallRbac(): Promise<void> {
  await kubectlOk(['apply', '-f', path.join(process.cwd(), 'k8s/install/namespace.yaml')]);
  await kubectlOk(['apply', '-f', rbacFile]);
  const wanted = new Set(
    (loadAllYaml(readFileSync(rbacFile, 'utf8')) as Binding[]).map((o) => `${o.kind}/${o.metadata?.name}`),
  );
  const kc = admin();
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const leftovers: [string, string, () => Promise<unknown>][] = [];
  for (const r of (await rbac.listClusterRole({ labelSelector: PART_OF })).items)
    leftovers.push([
      'ClusterRole',
      r.metadata!.name!,
      () => rbac.deleteClusterRole({ name: r.metadata!.name! }),
    ]);
  for (const b of (await rbac.listClusterRoleBinding({ labelSelector: PART_OF })).items)
    leftovers.push([
      'ClusterRoleBinding',
      b.metadata!.name!,
      () => rbac.deleteClusterRoleBinding({ name: b.metadata!.name! }),
    ]);
  const namespace = INSTALL_NAMESPACE;
  for (const r of (await rbac.listNamespacedRole({ namespace, labelSelector: PART_OF })).items)
    leftovers.push([
      'Role',
      r.metadata!.name!,
      () => rbac.deleteNamespacedRole({ namespace, name: r.metadata!.name! }),
    ]);
  for (const b of (await rbac.listNamespacedRoleBinding({ namespace, labelSelector: PART_OF })).items)
    leftovers.push([
      'RoleBinding',
      b.metadata!.name!,
      () => rbac.deleteNamespacedRoleBinding({ namespace, name: b.metadata!.name! }),
    ]);
  for (const [kind, name, remove] of leftovers) if (!wanted.has(`${kind}/${name}`)) await remove();

  const bindings: Binding[] = [
    ...(await rbac.listClusterRoleBinding()).items.map((b) => ({ ...b, kind: 'ClusterRoleBinding' })),
    ...(await rbac.listRoleBindingForAllNamespaces()).items.map((b) => ({ ...b, kind: 'RoleBinding' })),
  ];
  const foreign = bindings
    .filter((b) => b.subjects?.some(isOurServiceAccount) && !wanted.has(`${b.kind}/${b.metadata?.name}`))
    .map((b) => `${b.kind} ${b.metadata?.namespace ?? ''}/${b.metadata?.name}`);
  if (foreign.length)
    throw new Error(
      `bindings outside k8s/install/rbac.yaml grant the ServiceAccount more: ${foreign.join(', ')}`,
    );
}

function admin(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv().MANAGEMENT_KUBECONFIG);
  return kc;
}

/**
 * A KubeConfig for the management cluster that authenticates as the install's ServiceAccount
 * (a one-hour TokenRequest token), after {@link applyInstallRbac}.
 */
export async function orchestratorKubeConfig(): Promise<KubeConfig> {
  await applyInstallRbac();
  const kc = admin();
  const cluster = kc.getCurrentCluster()!;
  const { status } = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace: INSTALL_NAMESPACE,
    name: SERVICE_ACCOUNT,
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const sa = new KubeConfig();
  sa.loadFromOptions({
    clusters: [{ ...cluster, name: 'management' }],
    users: [{ name: SERVICE_ACCOUNT, token: status!.token }],
    contexts: [{ name: 'orchestrator', cluster: 'management', user: SERVICE_ACCOUNT }],
    currentContext: 'orchestrator',
  });
  return sa;
}

/**
 * The same identity as a kubeconfig file (mode 0600, in the stack's kubeconfig folder), for an
 * orchestrator started as a process (`--kubeconfig`), as the crash tests start it.
 */
export async function orchestratorKubeconfigFile(): Promise<string> {
  const file = path.join(stackKubeconfigDir, 'orchestrator-serviceaccount.yaml');
  writeFileSync(file, (await orchestratorKubeConfig()).exportConfig(), { mode: 0o600 });
  return file;
}
