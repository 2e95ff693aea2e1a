/**
 * The audit webhook against the real management kube-apiserver: the API server calls it over TLS
 * (a serving certificate for 127.0.0.1 signed by the stack's CA), and the audit annotations of a
 * LiveSynchronization follow spec changes but not status or finalizer changes. The webhook is
 * registered for one fresh namespace only (namespaceSelector), so other tests never see it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { createLogger } from '../../src/logger.js';
import { AUDIT_ANNOTATIONS, auditUserUid } from '../../src/webhook/audit.js';
import { startAuditWebhook, type AuditWebhook } from '../../src/webhook/server.js';
import { stackPkiDir } from '../../tools/stack/paths.js';
import { stackEnv, uniqueName } from './stack-env.js';

const run = promisify(execFile);
const root = process.cwd();
const kubectlBin = path.resolve(root, '.tools/bin/kubectl');
const crdDir = path.join(root, 'k8s/crds');
const caCertFile = path.join(stackPkiDir, 'ca.crt');
const caKeyFile = path.join(stackPkiDir, 'ca.key');

const group = 'automation.astronetes.io';
const version = 'v1alpha1';
const plural = 'livesynchronizations';
const { time: TIME, userUid: UID, username: USER } = AUDIT_ANNOTATIONS;

type Obj = {
  metadata: { annotations?: Record<string, string>; finalizers?: string[]; resourceVersion?: string };
  spec?: { suspend?: boolean };
  status?: { phase?: string };
};

async function kubectl(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(kubectlBin, ['--kubeconfig', stackEnv().MANAGEMENT_KUBECONFIG, ...args]);
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`, {
      cause: err,
    });
  }
}

/** Waits for k8s/crds (another change may still be adding it): every 30 s, up to 20 minutes. */
async function waitForCrdFiles(): Promise<string[]> {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    const files = existsSync(crdDir)
      ? readdirSync(crdDir)
          .filter((f) => /^[a-z.]+_[a-z]+\.yaml$/.test(f))
          .map((f) => path.join(crdDir, f))
      : [];
    if (files.some((f) => f.endsWith(`${group}_${plural}.yaml`))) return files;
    if (Date.now() > deadline) throw new Error(`no LiveSynchronization CRD in ${crdDir} after 20 minutes`);
    await sleep(30_000);
  }
}

/** A serving certificate for IP 127.0.0.1 signed by the stack's CA, made with openssl in `dir`. */
async function servingCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const p = (f: string) => path.join(dir, f);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('tls.key'),
    '-out',
    p('tls.csr'),
  ]);
  await run('openssl', [
    'x509', '-req', '-in', p('tls.csr'),
    '-CA', caCertFile, '-CAkey', caKeyFile,
    // a serial file of our own, so the stack's ca.srl is left alone
    '-CAserial', p('ca.srl'), '-CAcreateserial',
    '-days', '1', '-extfile', p('server.ext'), '-out', p('tls.crt'),
  ]); // prettier-ignore
  return { cert: readFileSync(p('tls.crt'), 'utf8'), key: readFileSync(p('tls.key'), 'utf8') };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A plain HTTPS call to the webhook, trusting the stack's CA. */
function call(url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca: readFileSync(caCertFile), headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('audit webhook on the management kube-apiserver', () => {
  const kc = new KubeConfig();
  const namespace = uniqueName('audit-webhook');
  const webhookName = `${namespace}.test.resiliency-orchestrator.astronetes.io`;
  const name = 'pre';
  const logLines: Record<string, unknown>[] = [];
  let tmp: string;
  let webhook: AuditWebhook | undefined;
  let registered = false;
  let custom: CustomObjectsApi;

  const get = async (): Promise<Obj> =>
    (await custom.getNamespacedCustomObject({ group, version, namespace, plural, name })) as Obj;
  const audit = (o: Obj) => {
    const a = o.metadata.annotations ?? {};
    return { [TIME]: a[TIME], [UID]: a[UID], [USER]: a[USER] };
  };
  const patch = (body: unknown, ...extra: string[]) =>
    kubectl([
      'patch',
      `${plural}.${group}`,
      name,
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify(body),
      ...extra,
    ]);

  const liveSync = {
    apiVersion: `${group}/${version}`,
    kind: 'LiveSynchronization',
    metadata: { name, labels: { env: 'pre' } },
    spec: {
      plugin: 'kubernetes-objects-to-kubernetes',
      suspend: false,
      config: { sourceName: 'source-cluster-secret-marker', destinationName: 'destination' },
    },
  };

  beforeAll(async () => {
    const env = stackEnv();
    kc.loadFromFile(env.MANAGEMENT_KUBECONFIG);
    custom = kc.makeApiClient(CustomObjectsApi);

    const files = await waitForCrdFiles();
    await kubectl([
      'apply', '--server-side', '--force-conflicts', '--field-manager=audit-webhook-test',
      ...files.flatMap((f) => ['-f', f]),
    ]); // prettier-ignore
    // assets.astronetes.io_buckets.yaml → crd/buckets.assets.astronetes.io (ours only: an unrelated
    // CRD that never becomes established must not hold this test up)
    const crds = files.map((f) => {
      const [crdGroup, crdPlural] = path.basename(f, '.yaml').split('_');
      return `crd/${crdPlural}.${crdGroup}`;
    });
    await kubectl(['wait', '--for', 'condition=established', ...crds, '--timeout=60s']);

    await kc.makeApiClient(CoreV1Api).createNamespace({
      body: { metadata: { name: namespace, labels: { 'audit-webhook-test': namespace } } },
    });

    tmp = mkdtempSync(path.join(tmpdir(), 'audit-webhook-'));
    const { cert, key } = await servingCertificate(tmp);
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    webhook = await startAuditWebhook({
      host: '127.0.0.1',
      port: 0,
      cert,
      key,
      log: createLogger({ level: 'debug', destination }),
    });

    const body: V1MutatingWebhookConfiguration = {
      metadata: { name: webhookName },
      webhooks: [
        {
          name: webhookName,
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          // Fail here (Ignore in k8s/install): a webhook error must fail the test loudly, and the
          // namespaceSelector keeps every other namespace out of reach.
          failurePolicy: 'Fail',
          reinvocationPolicy: 'Never',
          timeoutSeconds: 5,
          clientConfig: {
            url: `${webhook.url}/audit`,
            caBundle: readFileSync(caCertFile).toString('base64'),
          },
          namespaceSelector: { matchLabels: { 'audit-webhook-test': namespace } },
          rules: [
            {
              apiGroups: ['assets.astronetes.io'],
              apiVersions: ['v1alpha1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['kubernetesclusters', 'buckets', 'databases'],
              scope: 'Namespaced',
            },
            {
              apiGroups: [group],
              apiVersions: [version],
              operations: ['CREATE', 'UPDATE'],
              resources: [plural, 'synchronizations', 'synchronizationplans', 'backups', 'tasks', 'taskruns'],
              scope: 'Namespaced',
            },
          ],
        },
      ],
    };
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({ body });
    registered = true;
  }, 25 * 60_000);

  afterAll(async () => {
    if (registered)
      await kc
        .makeApiClient(AdmissionregistrationV1Api)
        .deleteMutatingWebhookConfiguration({ name: webhookName })
        .catch(() => undefined);
    await kubectl([
      'delete',
      `${plural}.${group}`,
      '--all',
      '-n',
      namespace,
      '--ignore-not-found',
      '--wait=false',
    ]).catch(() => '');
    await kubectl(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']).catch(() => '');
    await webhook?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('serves /healthz and answers a malformed review with 400', async () => {
    await expect(call(`${webhook!.url}/healthz`, 'GET')).resolves.toEqual({ status: 200, text: 'ok\n' });
    const bad = await call(`${webhook!.url}/audit`, 'POST', '{not json');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^bad AdmissionReview: body is not JSON/);
    const notReview = await call(`${webhook!.url}/audit`, 'POST', '{"kind":"Pod"}');
    expect(notReview).toMatchObject({ status: 400, text: expect.stringContaining('want "AdmissionReview"') });
  });

  it('stamps a created LiveSynchronization with the admin user', async () => {
    // The API server picks a new webhook configuration up after a moment: probe with a server
    // dry-run create (it calls mutating webhooks, stores nothing) until the answer is annotated.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const probe = (await custom.createNamespacedCustomObject({
        group, version, namespace, plural, body: liveSync, dryRun: 'All',
      })) as Obj; // prettier-ignore
      if (probe.metadata.annotations?.[USER]) break;
      if (Date.now() > deadline) throw new Error('the API server did not call the webhook within 20 s');
      await sleep(250);
    }

    const before = Date.now();
    await custom.createNamespacedCustomObject({ group, version, namespace, plural, body: liveSync });
    const created = await get();
    expect(audit(created)).toEqual({
      [TIME]: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/),
      [UID]: auditUserUid({ username: 'admin' }),
      [USER]: 'admin',
    });
    expect(Date.parse(created.metadata.annotations![TIME])).toBeGreaterThanOrEqual(before - 1000);

    const line = logLines.find(
      (l) => l.msg === 'audit annotations updated' && l.operation === 'CREATE' && !l.dryRun,
    );
    expect(line).toMatchObject({ kind: 'LiveSynchronization', namespace, name, username: 'admin' });
    expect(JSON.stringify(logLines)).not.toContain('source-cluster-secret-marker');
  });

  it('restamps on a spec change', async () => {
    const old = audit(await get());
    await sleep(5);
    await patch({ spec: { suspend: true } });
    const now = await get();
    expect(now.spec?.suspend).toBe(true);
    expect(audit(now)[TIME]).not.toBe(old[TIME]);
    expect(Date.parse(audit(now)[TIME])).toBeGreaterThan(Date.parse(old[TIME]));
    expect(audit(now)[USER]).toBe('admin');
  });

  it('leaves them on a status update through the status subresource', async () => {
    const old = await get();
    await patch({ status: { phase: 'Running' } }, '--subresource=status');
    const now = await get();
    expect(now.status?.phase).toBe('Running');
    expect(now.metadata.resourceVersion).not.toBe(old.metadata.resourceVersion);
    expect(audit(now)).toEqual(audit(old));
  });

  it('leaves them when only a finalizer is added', async () => {
    const old = await get();
    await patch({ metadata: { finalizers: ['test.astronetes.io/hold'] } });
    const now = await get();
    expect(now.metadata.finalizers).toEqual(['test.astronetes.io/hold']);
    expect(audit(now)).toEqual(audit(old));
    await patch({ metadata: { finalizers: null } });
    expect(audit(await get())).toEqual(audit(old));
  });

  it('puts forged audit annotations back when nothing else changes', async () => {
    const old = await get();
    const seen = logLines.length;
    await patch({ metadata: { annotations: { [USER]: 'mallory', [TIME]: '1999-01-01T00:00:00Z' } } });
    expect(audit(await get())).toEqual(audit(old));
    expect(logLines.slice(seen)).toContainEqual(
      expect.objectContaining({ operation: 'UPDATE', outcome: 'restored', username: 'admin' }),
    );
  });
});
