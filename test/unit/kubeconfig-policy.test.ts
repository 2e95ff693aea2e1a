import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { AssetLoader } from '../../src/assets/load.js';
import {
  checkKubeconfig,
  describeKubeconfigProblems,
  type KubeconfigCheck,
} from '../../src/assets/kubeconfig-policy.js';

const SENTINEL = 'sentinel-3c1f9a7e-do-not-print';

/** A kubeconfig with one cluster, one user and a context that uses them. */
function kubeconfig(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443' },
  extra: { users?: unknown[]; clusters?: unknown[] } = {},
): string {
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }, ...(extra.clusters ?? [])],
    users: [{ name: 'u', user }, ...(extra.users ?? [])],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
}

const execUser = {
  exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', 'id > /tmp/pwned'] },
};

function paths(check: KubeconfigCheck): string[] {
  return check.ok || check.reason !== 'InsecureKubeconfig' ? [] : check.problems.map((p) => p.path);
}

describe('checkKubeconfig', () => {
  it.each([
    ['an inline token', { token: SENTINEL }, undefined],
    [
      'an inline client certificate and key',
      { 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5' },
      undefined,
    ],
    ['username and password', { username: 'admin', password: SENTINEL }, undefined],
    [
      'impersonation',
      { token: 't', as: 'someone', 'as-groups': ['g'], 'as-uid': '1', 'as-user-extra': { a: ['b'] } },
      undefined,
    ],
    ['no credentials at all', {}, undefined],
    ['an exec field set to null (inert)', { token: 't', exec: null }, undefined],
    [
      'every inert cluster field',
      { token: 't' },
      {
        server: 'https://10.0.0.1:6443',
        'certificate-authority-data': 'Y2E=',
        'insecure-skip-tls-verify': false,
        'tls-server-name': 'kubernetes',
        'proxy-url': 'http://proxy:3128',
        'disable-compression': true,
        extensions: [{ name: 'e', extension: {} }],
      },
    ],
  ])('accepts %s', (_what, user, cluster) => {
    expect(checkKubeconfig(kubeconfig(user, cluster))).toEqual({ ok: true });
  });

  it.each([
    ['exec', execUser, undefined, ['users[0].user.exec'], /runs a command inside the orchestrator/],
    [
      'auth-provider',
      { 'auth-provider': { name: 'gcp', config: { 'cmd-path': 'sh' } } },
      undefined,
      ['users[0].user.auth-provider'],
      /auth-provider plugin/,
    ],
    [
      'token-file (client-node spelling)',
      { 'token-file': '/var/run/secrets/kubernetes.io/serviceaccount/token' },
      undefined,
      ['users[0].user.token-file'],
      /reads a file/,
    ],
    [
      'tokenFile (kubectl spelling)',
      { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
      undefined,
      ['users[0].user.tokenFile'],
      /reads a file/,
    ],
    [
      'client-certificate and client-key paths',
      { 'client-certificate': '/etc/tls.crt', 'client-key': '/etc/tls.key' },
      undefined,
      ['users[0].user.client-certificate', 'users[0].user.client-key'],
      /client-certificate-data/,
    ],
    [
      'a certificate-authority path',
      { token: 't' },
      { server: 'https://x', 'certificate-authority': '/etc/ca.crt' },
      ['clusters[0].cluster.certificate-authority'],
      /certificate-authority-data/,
    ],
    [
      'an unknown user field',
      { token: 't', 'token-command': 'sh' },
      undefined,
      ['users[0].user.token-command'],
      /unknown field/,
    ],
    [
      'an unknown cluster field',
      { token: 't' },
      { server: 'https://x', 'ca-file': '/etc/ca' },
      ['clusters[0].cluster.ca-file'],
      /unknown field/,
    ],
  ])('refuses %s, naming the field', (_what, user, cluster, expected, message) => {
    const check = checkKubeconfig(kubeconfig(user, cluster));
    expect(check).toMatchObject({ ok: false, reason: 'InsecureKubeconfig' });
    expect(paths(check)).toEqual(expected);
    expect(
      describeKubeconfigProblems(check.ok || check.reason !== 'InsecureKubeconfig' ? [] : check.problems),
    ).toMatch(message);
  });

  it('checks every user and cluster entry, not only the current context’s', () => {
    const check = checkKubeconfig(
      kubeconfig({ token: 't' }, undefined, {
        users: [
          { name: 'spare', user: execUser },
          { name: 'other', user: { 'token-file': '/t' } },
        ],
        clusters: [{ name: 'd', cluster: { server: 'https://y', 'certificate-authority': '/ca' } }],
      }),
    );
    expect(paths(check)).toEqual([
      'users[1].user.exec',
      'users[2].user.token-file',
      'clusters[1].cluster.certificate-authority',
    ]);
  });

  it('allows exec when the policy does, and nothing else that was refused', () => {
    expect(checkKubeconfig(kubeconfig(execUser), { allowExec: true })).toEqual({ ok: true });
    const check = checkKubeconfig(
      kubeconfig({ ...execUser, 'auth-provider': { name: 'oidc' }, 'token-file': '/t', 'client-key': '/k' }),
      { allowExec: true },
    );
    expect(paths(check)).toEqual([
      'users[0].user.auth-provider',
      'users[0].user.token-file',
      'users[0].user.client-key',
    ]);
  });

  it('never echoes a value, nor a field name that does not look like one', () => {
    const check = checkKubeconfig(
      kubeconfig({
        'token-file': SENTINEL,
        exec: { command: SENTINEL },
        [SENTINEL]: 'x',
        'client-key': SENTINEL,
      }),
    );
    expect(check.ok).toBe(false);
    expect(paths(check)).toContain('users[0].user.<field 3>');
    expect(JSON.stringify(check)).not.toContain(SENTINEL);
    expect(JSON.stringify(check)).not.toContain('sentinel');
  });

  it.each([
    [
      'bad indentation',
      `users:\n- name: u\n  user:\n    token: ${SENTINEL}\n   password: ${SENTINEL}\n`,
      /^not valid YAML: .+ at line \d+, column \d+$/,
    ],
    [
      'a duplicated key',
      `users:\n- name: u\n  user:\n    token: ${SENTINEL}\n    token: ${SENTINEL}\n`,
      /duplicated mapping key/,
    ],
    [
      'an unknown alias',
      `users:\n- name: u\n  user:\n    token: *${SENTINEL}\n`,
      /^not valid YAML: unidentified alias "\.\.\."/,
    ],
    ['an unknown tag', `users:\n- name: u\n  user:\n    token: !<${SENTINEL}> x\n`, /^not valid YAML: /],
    ['a plain string', SENTINEL, /^not a YAML mapping$/],
  ])('reports %s as InvalidKubeconfig without quoting the text', (_what, text, message) => {
    const check = checkKubeconfig(text);
    expect(check).toMatchObject({
      ok: false,
      reason: 'InvalidKubeconfig',
      message: expect.stringMatching(message),
    });
    expect(JSON.stringify(check)).not.toContain(SENTINEL);
  });

  it('keeps the status message short when many fields are refused', () => {
    const problems = Array.from({ length: 8 }, (_, i) => ({ path: `users[${i}].user.exec`, message: 'm' }));
    expect(describeKubeconfigProblems(problems)).toBe(
      'users[0].user.exec: m; users[1].user.exec: m; users[2].user.exec: m; users[3].user.exec: m; users[4].user.exec: m; and 3 more',
    );
  });
});

describe('why the check runs on the raw text', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubeconfig-policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('client-node reads token-file inside loadFromString, before any request', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'the orchestrator’s own token');
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig({ 'token-file': file }));
    expect(kc.getCurrentUser()?.token).toBe('the orchestrator’s own token');
    expect(paths(checkKubeconfig(kubeconfig({ 'token-file': file })))).toEqual(['users[0].user.token-file']);
  });

  it('parses with the very js-yaml copy client-node loads the kubeconfig with', () => {
    const ours = createRequire(import.meta.url).resolve('js-yaml/package.json');
    const clientNode = createRequire(
      createRequire(import.meta.url).resolve('@kubernetes/client-node'),
    ).resolve('js-yaml/package.json');
    expect(clientNode).toBe(ours);
  });
});

describe('AssetLoader.kubernetesCluster', () => {
  /** An AssetLoader whose management cluster holds one KubernetesCluster and its Secret. */
  function loaderWith(text: string, allowExec = false): AssetLoader {
    const custom = {
      getNamespacedCustomObject: async () => ({ spec: { secretName: 'creds' }, metadata: { name: 'prod' } }),
    };
    const core = {
      readNamespacedSecret: async () => ({
        data: { 'kubeconfig.yaml': Buffer.from(text).toString('base64') },
      }),
    };
    const management = {
      makeApiClient: (api: unknown) =>
        api === CustomObjectsApi ? custom : api === CoreV1Api ? core : undefined,
    } as unknown as KubeConfig;
    return new AssetLoader(management, { kubeconfigPolicy: { allowExec } });
  }

  it('refuses an exec kubeconfig as InsecureKubeconfig, naming the Secret, the key and the field', async () => {
    const marker = join(tmpdir(), `kubeconfig-policy-${process.pid}`);
    const text = kubeconfig({ exec: { command: 'sh', args: ['-c', `touch ${marker}`] } });
    const loaded = await loaderWith(text).kubernetesCluster('team-a', 'prod');
    expect(loaded).toEqual({
      ok: false,
      reason: 'InsecureKubeconfig',
      message: expect.stringMatching(
        /^spec\.secretName: Secret team-a\/creds key kubeconfig\.yaml: users\[0\]\.user\.exec: runs a command inside the orchestrator/,
      ),
    });
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a token-file kubeconfig without reading the file', async () => {
    const loaded = await loaderWith(kubeconfig({ 'token-file': '/nonexistent/token' })).kubernetesCluster(
      'team-a',
      'prod',
    );
    // Loading it would have thrown ENOENT (InvalidKubeconfig): the policy answered first.
    expect(loaded).toMatchObject({ ok: false, reason: 'InsecureKubeconfig' });
    expect(loaded.ok ? '' : loaded.message).toContain('users[0].user.token-file: reads a file');
  });

  it('loads inline credentials, and exec when the policy allows it', async () => {
    const inline = await loaderWith(kubeconfig({ token: SENTINEL })).kubernetesCluster('team-a', 'prod');
    expect(inline.ok && inline.value.getCurrentUser()?.token).toBe(SENTINEL);
    const exec = await loaderWith(kubeconfig(execUser), true).kubernetesCluster('team-a', 'prod');
    expect(exec.ok && exec.value.getCurrentUser()?.exec).toMatchObject({ command: 'sh' });
  });

  it('reports YAML that does not parse as InvalidKubeconfig, without the text', async () => {
    const loaded = await loaderWith(`users: [\n  token: ${SENTINEL}`).kubernetesCluster('team-a', 'prod');
    expect(loaded).toMatchObject({ ok: false, reason: 'InvalidKubeconfig' });
    expect(loaded.ok ? '' : loaded.message).toMatch(
      /^spec\.secretName: Secret team-a\/creds key kubeconfig\.yaml: not valid YAML/,
    );
    expect(JSON.stringify(loaded)).not.toContain(SENTINEL);
  });
});
