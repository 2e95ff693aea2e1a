/**
 * The orchestrator against a Temporal server with TLS, as users run it (Temporal Cloud, or a
 * self-hosted frontend behind mTLS): a real Temporal server 1.29.1 (`temporal-server`, see
 * ./temporal-tls-server.ts) started by this test on free ports with certificates the test makes
 * with the stack's own openssl recipe (tools/stack/pki.ts), and the orchestrator as the image runs
 * it (`src/main.ts` in a child process) with the TLS flags.
 *
 * - mTLS: the server requires a client certificate signed by the test CA. The orchestrator with
 *   the certificate registers the search attributes (operator API), and a workflow started with
 *   them runs to completion through its worker; a client without a certificate, with one from
 *   another CA, or without TLS is refused; wrong TLS material stops start-up with one line naming
 *   the file.
 * - API key: the server checks `Authorization: Bearer <JWT>` with its default JWT claim mapper
 *   against a JWKS this test serves. The orchestrator with `--temporal-api-key-file` runs a
 *   workflow; without the key, or with a key the server's JWKS did not sign, it stops with one line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { RESOURCE_KIND } from '../../src/api/search-attributes.js';
import { healthCheck } from '../../workflows/index.js';
import { which } from '../../tools/stack/exec.js';
import { ensurePki, type Pki } from '../../tools/stack/pki.js';
import { baseArgs, errorLine, runToExit, startOrchestratorProcess } from './main-process.js';
import { uniqueName } from './stack-env.js';
import { startTlsTemporalServer, type TlsTemporalServer } from './temporal-tls-server.js';

/** The options that make a client trust the test's server: its CA, and the name its certificate carries. */
const trustOurServer = () => ['--temporal-tls-ca', pki.caCert, '--temporal-tls-server-name', 'localhost'];

let dir: string;
let pki: Pki;
/** A second CA with its own client certificate: the server must refuse it. */
let strangerPki: Pki;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
  const openssl = which('openssl');
  if (!openssl) throw new Error('openssl is a prerequisite (README) and is missing');
  pki = await ensurePki(openssl, join(dir, 'pki'), join(dir, 'pki.log'));
  strangerPki = await ensurePki(openssl, join(dir, 'stranger-pki'), join(dir, 'pki.log'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts healthCheck with a search attribute, waits for its result, and finds it by that attribute. */
async function runWorkflowThrough(connection: Connection, taskQueue: string): Promise<void> {
  const client = new Client({ connection, namespace: 'default' });
  const kind = uniqueName('tls');
  const workflowId = uniqueName('tls-health');
  const handle = await client.workflow.start(healthCheck, {
    taskQueue,
    workflowId,
    typedSearchAttributes: [{ key: RESOURCE_KIND, value: kind }],
  });
  const report = await handle.result();
  expect(report.managementCluster.gitVersion).toBe('v1.34.4');
  // The attribute the orchestrator registered at start-up is indexed: visibility finds the run.
  const deadline = Date.now() + 30_000;
  let found: string[] = [];
  while (Date.now() < deadline) {
    found = [];
    for await (const w of client.workflow.list({ query: `AstronetesKind='${kind}'` }))
      found.push(w.workflowId);
    if (found.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(found).toEqual([workflowId]);
}

describe('mTLS: the server requires a client certificate from the test CA', () => {
  let server: TlsTemporalServer;
  const clientTls = () => ({
    serverRootCACertificate: readFileSync(pki.caCert),
    serverNameOverride: 'localhost',
    clientCertPair: { crt: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) },
  });

  beforeAll(async () => {
    const started = Date.now();
    server = await startTlsTemporalServer({
      dir: join(dir, 'mtls'),
      pki,
      mode: 'mtls',
      namespaces: ['default'],
      admin: { tls: clientTls() },
    });
    process.stderr.write(`temporal-server (mTLS) pid ${server.pid} up in ${Date.now() - started} ms\n`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs the orchestrator with the client certificate: search attributes registered, a workflow completes', async () => {
    const taskQueue = uniqueName('tls-mtls');
    const orchestrator = await startOrchestratorProcess(
      [
        '--temporal-address',
        server.address,
        '--temporal-tls-cert',
        pki.adminCert,
        '--temporal-tls-key',
        pki.adminKey,
        ...trustOurServer(),
        '--register-search-attributes',
        ...baseArgs(taskQueue),
      ],
      join(dir, 'mtls-orchestrator.log'),
    );
    const connection = await Connection.connect({ address: server.address, tls: clientTls() });
    try {
      await runWorkflowThrough(connection, taskQueue);
    } finally {
      await connection.close();
      await orchestrator.stop();
    }
    const log = orchestrator.log();
    expect(log).toContain('"msg":"registered search attributes"');
    const running = log.split('\n').find((l) => l.includes('"msg":"orchestrator running"')) as string;
    expect(JSON.parse(running).temporal).toMatchObject({
      address: server.address,
      tls: true,
      clientCert: pki.adminCert,
      clientKey: pki.adminKey,
      serverCa: pki.caCert,
      serverName: 'localhost',
      apiKey: false,
    });
    // The private key never reaches the log.
    expect(log).not.toContain(readFileSync(pki.adminKey, 'utf8').split('\n')[1]);
  });

  it('starts again with the certificate in TEMPORAL_TLS_CLIENT_*_DATA: the attributes are there now', async () => {
    // Without --register-search-attributes: the check passes because the first test registered them.
    const result = await runUntilRunning(
      ['--temporal-address', server.address, ...baseArgs(uniqueName('tls-data'))],
      {
        TEMPORAL_TLS_CLIENT_CERT_DATA: readFileSync(pki.adminCert, 'utf8'),
        TEMPORAL_TLS_CLIENT_KEY_DATA: readFileSync(pki.adminKey, 'utf8'),
        TEMPORAL_TLS_SERVER_CA_CERT_DATA: readFileSync(pki.caCert, 'utf8'),
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
      },
    );
    expect(result.log).toContain('"msg":"orchestrator running"');
    expect(result.log).not.toContain('registered search attributes');
    expect(result.log).toContain('"clientCert":"env TEMPORAL_TLS_CLIENT_CERT_DATA"');
  });

  it('refuses a client without a certificate, with one from another CA, and without TLS', async () => {
    const attempts = {
      'no client certificate': {
        serverRootCACertificate: readFileSync(pki.caCert),
        serverNameOverride: 'localhost',
      },
      'a certificate from another CA': {
        serverRootCACertificate: readFileSync(pki.caCert),
        serverNameOverride: 'localhost',
        clientCertPair: { crt: readFileSync(strangerPki.adminCert), key: readFileSync(strangerPki.adminKey) },
      },
      'no TLS': false as const,
    };
    for (const [what, tls] of Object.entries(attempts)) {
      // A failed connect leaves its channel retrying: lazy, so that it can be closed either way.
      const c = Connection.lazy({ address: server.address, tls, connectTimeout: 5000 });
      const attempt = (async () => {
        await c.ensureConnected();
        // A refused handshake can surface on the first call rather than on connect.
        await c.workflowService.describeNamespace({ namespace: 'default' });
        return `${what}: accepted`;
      })();
      await expect(attempt).rejects.toThrow();
      await c.close();
    }
    // The same call with the test CA's client certificate goes through.
    const accepted = await Connection.connect({ address: server.address, tls: clientTls() });
    await accepted.workflowService.describeNamespace({ namespace: 'default' });
    await accepted.close();
  });

  it.each<[string, () => string[], () => string]>([
    [
      'without a client certificate',
      () => trustOurServer(),
      () =>
        `(TLS, CA ${pki.caCert}, server name localhost): TLS: tlsv13 alert certificate required (the server requires a client certificate: set --temporal-tls-cert and --temporal-tls-key)`,
    ],
    [
      'with a client certificate from another CA',
      () => [
        ...['--temporal-tls-cert', strangerPki.adminCert, '--temporal-tls-key', strangerPki.adminKey],
        ...trustOurServer(),
      ],
      () =>
        `(TLS, client certificate ${strangerPki.adminCert}, CA ${pki.caCert}, server name localhost): TLS: tlsv1 alert unknown ca (the server does not accept this client certificate: no CA it trusts signed it)`,
    ],
    [
      'with a CA that did not sign the server certificate',
      () => [
        ...['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.adminKey],
        ...['--temporal-tls-ca', strangerPki.caCert, '--temporal-tls-server-name', 'localhost'],
      ],
      () =>
        `(TLS, client certificate ${pki.adminCert}, CA ${strangerPki.caCert}, server name localhost): TLS: unable to verify the first certificate (neither --temporal-tls-ca nor, without it, a CA of the system signed the server certificate)`,
    ],
    [
      'with a server name the certificate does not carry',
      () => [
        ...['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.adminKey],
        ...['--temporal-tls-ca', pki.caCert, '--temporal-tls-server-name', 'temporal.example'],
      ],
      () =>
        `(TLS, client certificate ${pki.adminCert}, CA ${pki.caCert}, server name temporal.example): TLS: Hostname/IP does not match certificate's altnames: Host: temporal.example. is not in the cert's altnames: IP Address:127.0.0.1, DNS:localhost`,
    ],
  ])(
    'stops the orchestrator %s, with one line saying what it tried and why TLS failed',
    async (_what, flags, detail) => {
      const r = await runToExit([
        '--temporal-address',
        server.address,
        ...flags(),
        ...baseArgs(uniqueName('tls-refused')),
      ]);
      expect(r.code).toBe(1);
      expect(errorLine(r.stderr)).toBe(`error: cannot connect to Temporal at ${server.address} ${detail()}`);
    },
  );

  it.each<[string, () => string[], (f: string) => RegExp]>([
    [
      'a key that does not match the certificate',
      () => ['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.serverKey],
      () =>
        new RegExp(
          `^error: --temporal-tls-key / TEMPORAL_TLS_CLIENT_KEY_PATH: ${pki.serverKey} is not the private key of the certificate ${pki.adminCert}$`,
        ),
    ],
    [
      'a certificate file that is not PEM',
      () => [
        '--temporal-tls-cert',
        writeTemp('not-pem.crt', 'certificate? no\n'),
        '--temporal-tls-key',
        pki.adminKey,
      ],
      (f) =>
        new RegExp(
          `^error: --temporal-tls-cert / TEMPORAL_TLS_CLIENT_CERT_PATH: ${f}/not-pem\\.crt is not a PEM certificate`,
        ),
    ],
    [
      'a missing key file',
      () => ['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', '/nonexistent/tls.key'],
      () =>
        /^error: --temporal-tls-key \/ TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read \/nonexistent\/tls\.key \(no such file\)$/,
    ],
  ])('stops at start-up on %s, with one line naming the file', async (_what, flags, message) => {
    const r = await runToExit([
      '--temporal-address',
      server.address,
      ...flags(),
      ...baseArgs(uniqueName('tls-bad')),
    ]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(message(dir));
  });
});

/** Runs the orchestrator until it is running, then stops it; returns its log. */
async function runUntilRunning(args: string[], env: NodeJS.ProcessEnv): Promise<{ log: string }> {
  const logFile = join(dir, `${uniqueName('orchestrator')}.log`);
  const o = await startOrchestratorProcess(args, logFile, env);
  await o.stop();
  return { log: o.log() };
}

function writeTemp(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('API key: the server checks the bearer token against its JWKS', () => {
  let server: TlsTemporalServer;
  let jwks: Server;
  let token: (permissions: string[]) => Promise<string>;
  let strangerToken: string;
  const tls = () => ({ serverRootCACertificate: readFileSync(pki.caCert), serverNameOverride: 'localhost' });

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const sign = (key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'], permissions: string[]) =>
      new SignJWT({ permissions })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setSubject('resiliency-orchestrator')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
    token = (permissions) => sign(privateKey, permissions);
    // Same kid, another key: what a revoked or forged key looks like to the server.
    strangerToken = await sign((await generateKeyPair('RS256')).privateKey, ['temporal-system:admin']);
    server = await startTlsTemporalServer({
      dir: join(dir, 'api-key'),
      pki,
      mode: 'api-key',
      jwksUrl,
      namespaces: ['default'],
      admin: { tls: tls(), apiKey: await token(['temporal-system:admin']) },
    });
  });
  afterAll(async () => {
    await server?.stop();
    jwks?.closeAllConnections();
    await new Promise((r) => jwks?.close(r));
  });

  it('runs the orchestrator with --temporal-api-key-file: a workflow completes, the key is never logged', async () => {
    const apiKey = await token(['default:admin']);
    const keyFile = writeTemp('orchestrator-api-key', `${apiKey}\n`);
    const taskQueue = uniqueName('tls-apikey');
    const orchestrator = await startOrchestratorProcess(
      [
        '--temporal-address',
        server.address,
        '--temporal-api-key-file',
        keyFile,
        ...trustOurServer(),
        '--register-search-attributes',
        ...baseArgs(taskQueue),
      ],
      join(dir, 'apikey-orchestrator.log'),
    );
    const connection = await Connection.connect({ address: server.address, tls: tls(), apiKey });
    try {
      await runWorkflowThrough(connection, taskQueue);
    } finally {
      await connection.close();
      await orchestrator.stop();
    }
    const log = orchestrator.log();
    const running = log.split('\n').find((l) => l.includes('"msg":"orchestrator running"')) as string;
    expect(JSON.parse(running).temporal).toMatchObject({ tls: true, apiKey: keyFile, serverCa: pki.caCert });
    expect(log).not.toContain(apiKey);
    expect(log).not.toContain(apiKey.split('.')[2]);
  });

  it('stops the orchestrator without the API key: the server refuses it', async () => {
    const r = await runToExit([
      '--temporal-address',
      server.address,
      ...trustOurServer(),
      ...baseArgs(uniqueName('tls-nokey')),
    ]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(
      /^error: cannot list the search attributes of Temporal namespace 'default': .*Request unauthorized/,
    );
  });

  it('stops the orchestrator with a key the server did not issue, naming where the key came from and not the key', async () => {
    const keyFile = writeTemp('stranger-key', strangerToken);
    const r = await runToExit([
      '--temporal-address',
      server.address,
      '--temporal-api-key-file',
      keyFile,
      ...trustOurServer(),
      ...baseArgs(uniqueName('tls-badkey')),
    ]);
    expect(r.code).toBe(1);
    const line = errorLine(r.stderr);
    expect(line).toContain(`API key from ${keyFile}`);
    expect(line).not.toContain(strangerToken);
    expect(r.stderr + r.stdout).not.toContain(strangerToken);
  });

  it('stops the orchestrator whose key lacks the rights to register search attributes, with the command that does it', async () => {
    // A namespace of its own, without our attributes, as a Temporal Cloud namespace starts.
    const namespace = uniqueName('tls-ns');
    const admin = await Connection.connect({
      address: server.address,
      tls: tls(),
      apiKey: await token(['temporal-system:admin']),
    });
    try {
      await admin.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await admin.operatorService.listSearchAttributes({ namespace });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      await admin.close();
    }
    const apiKey = await token([`${namespace}:write`]);
    const r = await runToExit(
      [
        '--temporal-address',
        server.address,
        '--temporal-namespace',
        namespace,
        ...trustOurServer(),
        '--register-search-attributes',
        ...baseArgs(uniqueName('tls-write')),
      ],
      { TEMPORAL_API_KEY: apiKey },
    );
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(
      new RegExp(
        `^error: cannot register the search attributes AstronetesKind, AstronetesNamespace, AstronetesName, AstronetesUid in Temporal namespace '${namespace}' \\(.*Request unauthorized.*\\): create them with \`temporal operator search-attribute create --namespace ${namespace} --name AstronetesKind --type Keyword`,
      ),
    );
    expect(r.stderr).not.toContain(apiKey);
  });
});
