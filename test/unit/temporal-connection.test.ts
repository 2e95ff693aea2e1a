import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import {
  describeConnection,
  readClientCertificate,
  sdkConnectionOptions,
  Secret,
  TemporalConnectionError,
  tlsReason,
} from '../../src/temporal/connection.js';
import { ensurePki, type Pki } from '../../tools/stack/pki.js';
import { which } from '../../tools/stack/exec.js';

// Real certificates from the stack's own openssl recipe: a CA, a server certificate and a client
// certificate (admin.crt, clientAuth) with their keys.
let dir: string;
let pki: Pki;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'temporal-connection-'));
  const openssl = which('openssl');
  if (!openssl) throw new Error('openssl is a prerequisite (README) and is missing');
  pki = await ensurePki(openssl, join(dir, 'pki'), join(dir, 'pki.log'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env);
const failure = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    load(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted it');
};

describe('Temporal TLS and API key configuration', () => {
  it('is plain TCP with nothing set', () => {
    const c = load([]);
    expect(c.temporal.tls).toBeUndefined();
    expect(c.temporal.apiKey).toBeUndefined();
    expect(sdkConnectionOptions({ ...c.temporal, address: 'a:1' })).toEqual({ address: 'a:1' });
  });

  it('turns on TLS with --temporal-tls or TEMPORAL_TLS=true, with the system CAs', () => {
    expect(load(['--temporal-tls']).temporal.tls).toEqual({});
    expect(load([], { TEMPORAL_TLS: 'true' }).temporal.tls).toEqual({});
    expect(load([], { TEMPORAL_TLS: 'false' }).temporal.tls).toBeUndefined();
    expect(sdkConnectionOptions({ address: 'a:1', tls: {} })).toEqual({ address: 'a:1', tls: {} });
  });

  it('reads the client certificate, key and CA from flags, and hands the same bytes to the SDK', () => {
    const c = load([
      '--temporal-tls-cert',
      pki.adminCert,
      '--temporal-tls-key',
      pki.adminKey,
      '--temporal-tls-ca',
      pki.caCert,
      '--temporal-tls-server-name',
      'localhost',
    ]);
    const opts = sdkConnectionOptions({ ...c.temporal, address: 'x:7233' });
    expect(opts.tls?.clientCertPair?.crt.toString()).toBe(readFileSync(pki.adminCert, 'utf8'));
    expect(opts.tls?.clientCertPair?.key.toString()).toBe(readFileSync(pki.adminKey, 'utf8'));
    expect(opts.tls?.serverRootCACertificate?.toString()).toBe(readFileSync(pki.caCert, 'utf8'));
    expect(opts.tls?.serverNameOverride).toBe('localhost');
    expect(opts.apiKey).toBeUndefined();
  });

  it("reads Temporal's own variables: the _PATH ones and the PEM itself in the _DATA ones", () => {
    const fromPaths = load([], {
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.adminCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.adminKey,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    const fromData = load([], {
      TEMPORAL_TLS_CLIENT_CERT_DATA: readFileSync(pki.adminCert, 'utf8'),
      TEMPORAL_TLS_CLIENT_KEY_DATA: readFileSync(pki.adminKey, 'utf8'),
      TEMPORAL_TLS_SERVER_CA_CERT_DATA: readFileSync(pki.caCert, 'utf8'),
    });
    expect(sdkConnectionOptions({ ...fromData.temporal, address: 'x:1' }).tls).toEqual({
      ...sdkConnectionOptions({ ...fromPaths.temporal, address: 'x:1' }).tls,
      serverNameOverride: undefined,
    });
    expect(describeConnection(fromData.temporal)).toEqual({
      tls: true,
      serverCa: 'env TEMPORAL_TLS_SERVER_CA_CERT_DATA',
      clientCert: 'env TEMPORAL_TLS_CLIENT_CERT_DATA',
      clientKey: 'env TEMPORAL_TLS_CLIENT_KEY_DATA',
      apiKey: false,
    });
  });

  it('lets a flag override the variables', () => {
    const c = load(['--temporal-tls-ca', pki.caCert], { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nowhere.pem' });
    expect(c.temporal.tls?.serverCa?.source).toBe(pki.caCert);
  });

  it('reads the API key from a file or TEMPORAL_API_KEY, trims the line break, and turns TLS on', () => {
    const keyFile = file('api-key', 'abc.def-123\n');
    const c = load(['--temporal-api-key-file', keyFile]);
    expect(sdkConnectionOptions({ ...c.temporal, address: 'x:1' })).toEqual({
      address: 'x:1',
      tls: {},
      apiKey: 'abc.def-123',
    });
    expect(load([], { TEMPORAL_API_KEY_FILE: keyFile }).temporal.apiKey?.source).toBe(keyFile);
    const fromEnv = load([], { TEMPORAL_API_KEY: 'k1' });
    expect(fromEnv.temporal.apiKey?.value.reveal()).toBe('k1');
    expect(describeConnection(fromEnv.temporal)).toEqual({ tls: true, apiKey: 'env TEMPORAL_API_KEY' });
  });

  it('never shows the API key or the private key in a log line, inspect or JSON', () => {
    const c = load(['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.adminKey], {
      TEMPORAL_API_KEY: 'very-secret-key',
    });
    const keyText = readFileSync(pki.adminKey, 'utf8').split('\n')[1];
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } });
    log.info({ config: c }, 'whole config, by mistake');
    log.info({ temporal: describeConnection(c.temporal) }, 'start-up');
    for (const shown of [lines.join(''), inspect(c, { depth: 10 }), JSON.stringify(c)]) {
      expect(shown).not.toContain('very-secret-key');
      expect(shown).not.toContain(keyText);
    }
    expect(lines[1]).toContain(pki.adminCert);
    expect(lines[1]).toContain('"apiKey":"env TEMPORAL_API_KEY"');
    expect(`${new Secret('x')}`).toBe('[REDACTED]');
  });

  const missing = '/nonexistent/client.pem';
  it.each<[string, () => string[], () => NodeJS.ProcessEnv, RegExp]>([
    [
      'a missing certificate file',
      () => ['--temporal-tls-cert', missing, '--temporal-tls-key', pki.adminKey],
      () => ({}),
      /^--temporal-tls-cert \/ TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read \/nonexistent\/client\.pem \(no such file\)$/,
    ],
    [
      'a certificate file that is not PEM',
      () => ['--temporal-tls-cert', file('garbage.crt', 'hello\n'), '--temporal-tls-key', pki.adminKey],
      () => ({}),
      /^--temporal-tls-cert \/ TEMPORAL_TLS_CLIENT_CERT_PATH: \/.*garbage\.crt is not a PEM certificate/,
    ],
    [
      'a broken certificate block',
      () => [
        '--temporal-tls-cert',
        file('broken.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
        '--temporal-tls-key',
        pki.adminKey,
      ],
      () => ({}),
      /^--temporal-tls-cert \/ TEMPORAL_TLS_CLIENT_CERT_PATH: \/.*broken\.crt holds a certificate that does not parse/,
    ],
    [
      'a key file that is a certificate',
      () => ['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.adminCert],
      () => ({}),
      /^--temporal-tls-key \/ TEMPORAL_TLS_CLIENT_KEY_PATH: \/.*admin\.crt is not a PEM private key/,
    ],
    [
      'a key that does not match the certificate',
      () => ['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', pki.serverKey],
      () => ({}),
      /^--temporal-tls-key \/ TEMPORAL_TLS_CLIENT_KEY_PATH: \/.*server\.key is not the private key of the certificate \/.*admin\.crt$/,
    ],
    [
      'a CA file that is a key',
      () => ['--temporal-tls-ca', pki.caKey],
      () => ({}),
      /^--temporal-tls-ca \/ TEMPORAL_TLS_SERVER_CA_CERT_PATH: \/.*ca\.key is not a PEM certificate/,
    ],
    [
      'a directory as the CA',
      () => ['--temporal-tls-ca', dir],
      () => ({}),
      /^--temporal-tls-ca \/ TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .* \(is a directory\)$/,
    ],
    [
      'a certificate without its key',
      () => ['--temporal-tls-cert', pki.adminCert],
      () => ({}),
      /--temporal-tls-cert \/ TEMPORAL_TLS_CLIENT_CERT_PATH is set but the client key is not: set --temporal-tls-key \/ TEMPORAL_TLS_CLIENT_KEY_PATH/,
    ],
    [
      'a key without its certificate',
      () => [],
      () => ({ TEMPORAL_TLS_CLIENT_KEY_PATH: pki.adminKey }),
      /--temporal-tls-key \/ TEMPORAL_TLS_CLIENT_KEY_PATH is set but the client certificate is not: set --temporal-tls-cert/,
    ],
    [
      'a non-PEM certificate in the variable',
      () => [],
      () => ({ TEMPORAL_TLS_CLIENT_CERT_DATA: 'nope', TEMPORAL_TLS_CLIENT_KEY_PATH: pki.adminKey }),
      /^TEMPORAL_TLS_CLIENT_CERT_DATA: the value is not a PEM certificate/,
    ],
    [
      'both the path and the data variables',
      () => [],
      () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert, TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'x' }),
      /^TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_CA_CERT_DATA are both set: use one$/,
    ],
    [
      'a missing API key file',
      () => ['--temporal-api-key-file', '/nonexistent/key'],
      () => ({}),
      /^--temporal-api-key-file \/ TEMPORAL_API_KEY_FILE: cannot read \/nonexistent\/key \(no such file\)$/,
    ],
    [
      'an empty API key file',
      () => ['--temporal-api-key-file', file('empty-key', '\n')],
      () => ({}),
      /^--temporal-api-key-file \/ TEMPORAL_API_KEY_FILE: \/.*empty-key is empty$/,
    ],
    [
      'an API key file of two lines',
      () => ['--temporal-api-key-file', file('two-keys', 'a\nb\n')],
      () => ({}),
      /^--temporal-api-key-file \/ TEMPORAL_API_KEY_FILE: \/.*two-keys is not one API key/,
    ],
    [
      'both API key variables',
      () => [],
      () => ({ TEMPORAL_API_KEY: 'a', TEMPORAL_API_KEY_FILE: '/k' }),
      /^TEMPORAL_API_KEY_FILE and TEMPORAL_API_KEY are both set: use one$/,
    ],
    [
      'TLS turned off with a certificate set',
      () => [],
      () => ({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert }),
      /^TEMPORAL_TLS=false, yet a client certificate, a CA, a server name or an API key is set/,
    ],
    [
      'a TEMPORAL_TLS that is not a boolean',
      () => [],
      () => ({ TEMPORAL_TLS: 'yes' }),
      /^TEMPORAL_TLS: 'yes' is not true or false$/,
    ],
    [
      'host verification turned off',
      () => [],
      () => ({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }),
      /^TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: the TypeScript SDK always verifies/,
    ],
    [
      'a server name with a port',
      () => ['--temporal-tls-server-name', 'host:7233'],
      () => ({}),
      /^--temporal-tls-server-name \/ TEMPORAL_TLS_SERVER_NAME: 'host:7233' is not a host name$/,
    ],
    ['a value given to --temporal-tls', () => ['--temporal-tls=false'], () => ({}), /temporal-tls/],
  ])('rejects %s with one line naming the flag or variable and the file', (_what, argv, env, message) => {
    const m = failure(argv(), env());
    expect(m).toMatch(message);
    expect(m).not.toContain('\n');
  });

  it('refuses an encrypted key, naming the file', () => {
    const encrypted = file(
      'encrypted.key',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n',
    );
    expect(failure(['--temporal-tls-cert', pki.adminCert, '--temporal-tls-key', encrypted])).toMatch(
      /encrypted\.key is encrypted with a passphrase/,
    );
  });

  it('refuses an expired certificate, and one not valid yet', () => {
    const input = {
      cert: { path: pki.adminCert, what: '--temporal-tls-cert' },
      key: { path: pki.adminKey, what: '--temporal-tls-key' },
    };
    expect(() => readClientCertificate({ ...input, now: new Date('2200-01-01') })).toThrow(
      new RegExp(`^--temporal-tls-cert: the certificate ${pki.adminCert} expired on `),
    );
    expect(() => readClientCertificate({ ...input, now: new Date('2000-01-01') })).toThrow(
      TemporalConnectionError,
    );
    expect(readClientCertificate(input).cert.source).toBe(pki.adminCert);
  });
});

describe('tlsReason', () => {
  it.each([
    [
      '808C8EE9407F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116',
      'tlsv13 alert certificate required (the server requires a client certificate: set --temporal-tls-cert and --temporal-tls-key)',
    ],
    [
      '80EC82D0F77F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 48',
      'tlsv1 alert unknown ca (the server does not accept this client certificate: no CA it trusts signed it)',
    ],
    [
      'self-signed certificate in certificate chain',
      'self-signed certificate in certificate chain (neither --temporal-tls-ca nor, without it, a CA of the system signed the server certificate)',
    ],
    ['connect ECONNREFUSED 127.0.0.1:1', 'connect ECONNREFUSED 127.0.0.1:1'],
  ])('%s', (message, reason) => {
    expect(tlsReason(message)).toBe(reason);
  });
});
