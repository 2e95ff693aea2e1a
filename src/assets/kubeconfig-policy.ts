/**
 * What a kubeconfig from a Secret may ask of the orchestrator. Such a kubeconfig is untrusted
 * input: whoever may create a Secret and a KubernetesCluster in any watched namespace writes it.
 * @kubernetes/client-node obeys every field it knows, and some of them act on the orchestrator's
 * own machine rather than on the remote cluster:
 *
 * - `exec` runs a command (`child_process.spawn`, with the orchestrator's environment);
 * - `auth-provider` runs `cmd-path` through a shell (gcp, azure), reads `tokenFile` (the
 *   in-cluster provider) or talks to an identity provider (oidc);
 * - `token-file` is read from disk inside `KubeConfig.loadFromString` itself, `client-certificate`,
 *   `client-key` and `certificate-authority` on every request; pointed at the orchestrator's own
 *   ServiceAccount token, they send it to whichever server the kubeconfig names.
 *
 * So the check runs on the raw text, before the kubeconfig is loaded. It is an allow-list: every
 * field of a `users[].user` and `clusters[].cluster` entry must be one this module knows to be
 * inert, so that a field a future client library learns to obey is refused until reviewed here.
 * Inline credentials keep working: `token`, `client-certificate-data` and `client-key-data`,
 * `username` and `password`, `certificate-authority-data`.
 *
 * The text is parsed with js-yaml's `load`, the same package and call client-node uses, so the
 * object checked here is the object client-node loads (a unit test checks they share one copy).
 */
import { load, YAMLException } from 'js-yaml';

/** What an operator allows beyond inline credentials. */
export interface KubeconfigPolicy {
  /**
   * Allow `exec` credential plugins (cloud-provider helpers such as `aws eks get-token`). They
   * run as the orchestrator, with its environment and files: only for installs where everyone
   * who may create a KubernetesCluster and its Secret is trusted with the orchestrator itself.
   */
  allowExec: boolean;
}

/** The default: nothing beyond inline credentials. */
export const STRICT_KUBECONFIG_POLICY: KubeconfigPolicy = { allowExec: false };

/** One refused field, by its path in the kubeconfig (`users[0].user.exec`). */
export interface KubeconfigProblem {
  path: string;
  message: string;
}

/** The outcome of {@link checkKubeconfig}. */
export type KubeconfigCheck =
  | { ok: true }
  /** Not YAML, or not a mapping: the text cannot be a kubeconfig. */
  | { ok: false; reason: 'InvalidKubeconfig'; message: string }
  /** A kubeconfig that asks for something the policy refuses; every such field is listed. */
  | { ok: false; reason: 'InsecureKubeconfig'; problems: KubeconfigProblem[] };

const READS_FILE = "reads a file on the orchestrator's machine; refused in a kubeconfig from a Secret";

const INLINE_INSTEAD = {
  token: 'put the token itself in token',
  cert: 'put the PEM certificate, base64-encoded, in client-certificate-data',
  key: 'put the PEM key, base64-encoded, in client-key-data',
  ca: 'put the PEM CA certificate, base64-encoded, in certificate-authority-data',
};

/** Fields of `users[].user` that only carry data sent to the cluster, or nothing at all. */
const USER_FIELDS = new Set([
  'token',
  'client-certificate-data',
  'client-key-data',
  'username',
  'password',
  'as',
  'as-uid',
  'as-groups',
  'as-user-extra',
  'extensions',
]);

/** Fields of `clusters[].cluster` that only say where and how to connect. */
const CLUSTER_FIELDS = new Set([
  'server',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
  'proxy-url',
  'disable-compression',
  'extensions',
]);

/** Why each refused user field is refused, and what to use instead. */
function userFieldProblem(field: string, policy: KubeconfigPolicy): string | undefined {
  switch (field) {
    case 'exec':
      return policy.allowExec
        ? undefined
        : 'runs a command inside the orchestrator (exec credential plugin); refused unless the ' +
            'orchestrator runs with --allow-kubeconfig-exec: use an inline token or client-certificate-data ' +
            'and client-key-data instead';
    case 'auth-provider':
      return (
        'runs a legacy auth-provider plugin (gcp and azure run a command, others read files or call ' +
        'an identity provider); refused: use an inline token or client certificate instead'
      );
    case 'token-file':
    case 'tokenFile':
      return `${READS_FILE}: ${INLINE_INSTEAD.token}`;
    case 'client-certificate':
      return `${READS_FILE}: ${INLINE_INSTEAD.cert}`;
    case 'client-key':
      return `${READS_FILE}: ${INLINE_INSTEAD.key}`;
    default:
      return USER_FIELDS.has(field)
        ? undefined
        : `unknown field, refused (a kubeconfig from a Secret may set only ${[...USER_FIELDS].join(', ')})`;
  }
}

/** Why each refused cluster field is refused, and what to use instead. */
function clusterFieldProblem(field: string): string | undefined {
  if (field === 'certificate-authority') return `${READS_FILE}: ${INLINE_INSTEAD.ca}`;
  return CLUSTER_FIELDS.has(field)
    ? undefined
    : `unknown field, refused (a kubeconfig from a Secret may set only ${[...CLUSTER_FIELDS].join(', ')})`;
}

/**
 * A field name as it may appear in a message. Real kubeconfig fields are short words with dashes;
 * anything else (a credential pasted where a key should be, say) is not echoed.
 */
function fieldLabel(field: string, index: number): string {
  return /^[A-Za-z][A-Za-z-]{0,39}$/.test(field) ? field : `<field ${index + 1}>`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The problems of every entry of `list` (`users` or `clusters`), by path. */
function entryProblems(
  list: unknown,
  listName: 'users' | 'clusters',
  fieldProblem: (field: string) => string | undefined,
): KubeconfigProblem[] {
  if (!Array.isArray(list)) return [];
  const inner = listName === 'users' ? 'user' : 'cluster';
  const problems: KubeconfigProblem[] = [];
  list.forEach((entry: unknown, i) => {
    if (!isMapping(entry)) return;
    const body = entry[inner];
    if (!isMapping(body)) return;
    Object.entries(body).forEach(([field, value], f) => {
      // A null value is inert: neither client-node nor kubectl acts on it.
      if (value === null || value === undefined) return;
      const message = fieldProblem(field);
      if (message) problems.push({ path: `${listName}[${i}].${inner}.${fieldLabel(field, f)}`, message });
    });
  });
  return problems;
}

/**
 * Checks the raw text of a kubeconfig from a Secret against `policy`, before anything loads it.
 * Every `users[]` and `clusters[]` entry is checked, not only the current context's. Messages
 * name fields, never their values (the text holds credentials).
 */
export function checkKubeconfig(
  text: string,
  policy: KubeconfigPolicy = STRICT_KUBECONFIG_POLICY,
): KubeconfigCheck {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    // js-yaml's message quotes the offending lines, which may hold a credential: keep only the
    // reason and the position.
    // reason and the position, and not even the quoted names a few reasons carry.
    if (!(err instanceof YAMLException))
      return { ok: false, reason: 'InvalidKubeconfig', message: 'not valid YAML' };
    const reason = err.reason.replace(/"[^"]*"/g, '"..."').replace(/!<[^>]*>/g, '!<...>');
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    return { ok: false, reason: 'InvalidKubeconfig', message: `not valid YAML: ${reason}${where}` };
  }
  if (!isMapping(doc)) return { ok: false, reason: 'InvalidKubeconfig', message: 'not a YAML mapping' };
  const problems = [
    ...entryProblems(doc.users, 'users', (field) => userFieldProblem(field, policy)),
    ...entryProblems(doc.clusters, 'clusters', clusterFieldProblem),
  ];
  return problems.length ? { ok: false, reason: 'InsecureKubeconfig', problems } : { ok: true };
}

/** The problems as one line for a status message, at most `max` of them spelled out. */
export function describeKubeconfigProblems(problems: KubeconfigProblem[], max = 5): string {
  const shown = problems.slice(0, max).map((p) => `${p.path}: ${p.message}`);
  if (problems.length > max) shown.push(`and ${problems.length - max} more`);
  return shown.join('; ');
}
