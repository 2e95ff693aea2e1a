/**
 * How the orchestrator reaches Temporal: address, TLS (server CA, server name, mTLS client
 * certificate) and API key, in one place, for both the worker's `NativeConnection` and the
 * client's `Connection`. The settings come from `src/config.ts`; this module reads and checks the
 * files, so that wrong TLS material stops start-up with one line naming the file, and keeps the
 * secrets (the private key, the API key) out of every log line.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSConfig } from '@temporalio/client';

/**
 * A secret value that never serializes: `JSON.stringify` (and so pino) and `util.inspect` show
 * `[REDACTED]`. Read it with {@link Secret.reveal}, only where it is handed to the SDK.
 */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  /** The value itself. */
  reveal(): T {
    return this.#value;
  }
  toJSON(): string {
    return '[REDACTED]';
  }
  toString(): string {
    return '[REDACTED]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[REDACTED]';
  }
}

/** PEM text and where it came from: a file path, or the name of the variable that held it. */
export interface PemMaterial {
  /** A file path, or `env TEMPORAL_TLS_..._DATA`. Safe to log. */
  source: string;
  pem: Buffer;
}

/** TLS towards the Temporal frontend. An empty object is TLS with the system's CAs and no client certificate. */
export interface TemporalTls {
  /** The CA (bundle) that signed the server certificate; the system's CAs without it. */
  serverCa?: PemMaterial;
  /** Overrides the name checked against the server certificate (and sent as SNI). */
  serverName?: string;
  /** Client certificate and key for mTLS; the key is a {@link Secret}. */
  client?: { cert: PemMaterial; key: { source: string; pem: Secret<Buffer> } };
}

/** Everything needed to open a connection to Temporal. */
export interface TemporalConnectionSettings {
  address: string;
  /** Off when undefined; TLS is on whenever a certificate, a CA, a server name or an API key is set. */
  tls?: TemporalTls;
  /** Sent as `Authorization: Bearer <key>` on every call. */
  apiKey?: { source: string; value: Secret<string> };
}

/** A problem with the TLS material or the API key; its message is one line naming the file or variable. */
export class TemporalConnectionError extends Error {
  override readonly name = 'TemporalConnectionError';
}

/** Where a PEM comes from, as the configuration names it: a path, or the text of a variable. */
export type PemInput = { path: string; what: string } | { data: string; what: string };

function readInput(input: PemInput): { text: string; source: string } {
  if ('data' in input) return { text: input.data, source: `env ${input.what.split(' / ').pop()}` };
  try {
    return { text: readFileSync(input.path, 'utf8'), source: input.path };
  } catch (err) {
    throw new TemporalConnectionError(`${input.what}: cannot read ${input.path} (${fsReason(err)})`);
  }
}

/** The short reason of a file-system error: `no such file`, `permission denied`, `is a directory`. */
function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}

/** Where `source` is named in an error: `/path/x.pem` or `the value of TEMPORAL_TLS_..._DATA`. */
const named = (input: PemInput, source: string) => ('data' in input ? 'the value' : source);

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Reads certificates in PEM (one, or a CA bundle) and checks that each parses. Throws a
 * {@link TemporalConnectionError} naming the file when it is missing, unreadable or not PEM.
 */
export function readCertificates(input: PemInput): PemMaterial & { certificates: X509Certificate[] } {
  const { text, source } = readInput(input);
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0)
    throw new TemporalConnectionError(
      `${input.what}: ${named(input, source)} is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)`,
    );
  const certificates = blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new TemporalConnectionError(
        `${input.what}: ${named(input, source)} holds a certificate that does not parse (${(err as Error).message})`,
      );
    }
  });
  return { source, pem: Buffer.from(text), certificates };
}

/**
 * Reads an unencrypted private key in PEM. Throws a {@link TemporalConnectionError} naming the
 * file when it is missing, unreadable, not a PEM key or protected by a passphrase.
 */
export function readPrivateKey(input: PemInput): { source: string; pem: Secret<Buffer>; key: KeyObject } {
  const { text, source } = readInput(input);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    throw new TemporalConnectionError(
      `${input.what}: ${named(input, source)} is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- block)`,
    );
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text))
    throw new TemporalConnectionError(
      `${input.what}: ${named(input, source)} is encrypted with a passphrase; give the key unencrypted (openssl pkey -in KEY -out PLAIN)`,
    );
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new TemporalConnectionError(
      `${input.what}: ${named(input, source)} is not a usable PEM private key (${(err as Error).message})`,
    );
  }
  return { source, pem: new Secret(Buffer.from(text)), key };
}

/** What {@link readClientCertificate} needs: the certificate and the key, each a path or PEM text. */
export interface ClientCertificateInput {
  cert: PemInput;
  key: PemInput;
  /** The time to check validity against (tests); now by default. */
  now?: Date;
}

/**
 * Reads the mTLS client certificate and its key, and checks that the key belongs to the
 * certificate and that the certificate is valid now. Every error names the file (or variable).
 */
export function readClientCertificate(input: ClientCertificateInput): NonNullable<TemporalTls['client']> {
  const cert = readCertificates(input.cert);
  const key = readPrivateKey(input.key);
  const leaf = cert.certificates[0];
  if (!leaf.checkPrivateKey(key.key))
    throw new TemporalConnectionError(
      `${input.key.what}: ${named(input.key, key.source)} is not the private key of the certificate ${cert.source}`,
    );
  const now = input.now ?? new Date();
  if (new Date(leaf.validTo) < now)
    throw new TemporalConnectionError(
      `${input.cert.what}: the certificate ${cert.source} expired on ${new Date(leaf.validTo).toISOString()}`,
    );
  if (new Date(leaf.validFrom) > now)
    throw new TemporalConnectionError(
      `${input.cert.what}: the certificate ${cert.source} is not valid before ${new Date(leaf.validFrom).toISOString()}`,
    );
  return { cert: { source: cert.source, pem: cert.pem }, key: { source: key.source, pem: key.pem } };
}

/**
 * Reads an API key from a file (a mounted Secret), trimming the final line break. Throws a
 * {@link TemporalConnectionError} naming the file when it is missing, empty or not one line.
 */
export function readApiKey(input: { path: string; what: string } | { data: string; what: string }): {
  source: string;
  value: Secret<string>;
} {
  let text: string;
  let source: string;
  if ('data' in input) {
    text = input.data;
    source = `env ${input.what.split(' / ').pop()}`;
  } else {
    try {
      text = readFileSync(input.path, 'utf8');
    } catch (err) {
      throw new TemporalConnectionError(`${input.what}: cannot read ${input.path} (${fsReason(err)})`);
    }
    source = input.path;
  }
  const value = text.replace(/\r?\n$/, '').trim();
  const where = 'data' in input ? 'the value' : source;
  if (value === '') throw new TemporalConnectionError(`${input.what}: ${where} is empty`);
  // A gRPC header value: printable ASCII, no line breaks (which would also mean a wrong file).
  if (!/^[\x21-\x7e]+$/.test(value))
    throw new TemporalConnectionError(
      `${input.what}: ${where} is not one API key (it holds spaces, line breaks or non-ASCII characters)`,
    );
  return { source, value: new Secret(value) };
}

/** The options both `NativeConnection.connect` and `Connection.connect` take, secrets revealed. */
export interface SdkConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * The SDK's connection options for `settings`: `{ address, tls?, apiKey? }`. The same object
 * goes to the worker's `NativeConnection` and the client's `Connection`. Do not log it: it holds
 * the private key and the API key in clear.
 */
export function sdkConnectionOptions(settings: TemporalConnectionSettings): SdkConnectionOptions {
  const { tls } = settings;
  return {
    address: settings.address,
    ...(tls && {
      tls: {
        ...(tls.serverCa && { serverRootCACertificate: tls.serverCa.pem }),
        ...(tls.serverName && { serverNameOverride: tls.serverName }),
        ...(tls.client && { clientCertPair: { crt: tls.client.cert.pem, key: tls.client.key.pem.reveal() } }),
      },
    }),
    ...(settings.apiKey && { apiKey: settings.apiKey.value.reveal() }),
  };
}

/**
 * What the start-up line says about the connection: whether TLS and the API key are on and where
 * each piece came from (file paths or variable names), never a key.
 */
export function describeConnection(settings: Omit<TemporalConnectionSettings, 'address'>): {
  tls: boolean;
  serverCa?: string;
  serverName?: string;
  clientCert?: string;
  clientKey?: string;
  apiKey: string | false;
} {
  const { tls } = settings;
  return {
    tls: tls !== undefined,
    ...(tls?.serverCa && { serverCa: tls.serverCa.source }),
    ...(tls?.serverName && { serverName: tls.serverName }),
    ...(tls?.client && { clientCert: tls.client.cert.source, clientKey: tls.client.key.source }),
    apiKey: settings.apiKey ? settings.apiKey.source : false,
  };
}

/**
 * OpenSSL's error text without its codes and source paths, with what to do for the usual causes:
 * `tlsv13 alert certificate required (the server wants a client certificate: ...)`.
 */
export function tlsReason(message: string): string {
  const reason = (/SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? message).replace(/\s+/g, ' ').trim();
  const hint = /certificate required/.test(reason)
    ? 'the server requires a client certificate: set --temporal-tls-cert and --temporal-tls-key'
    : /unknown ca|bad certificate|certificate unknown/.test(reason)
      ? 'the server does not accept this client certificate: no CA it trusts signed it'
      : /unable to verify|self-signed|local issuer/.test(reason)
        ? 'neither --temporal-tls-ca nor, without it, a CA of the system signed the server certificate'
        : undefined;
  return hint ? `${reason} (${hint})` : reason;
}

/** The client preface of HTTP/2 (RFC 9113, 3.4): a gRPC server answers it with its SETTINGS. */
const HTTP2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/**
 * Says why a TLS connection to the frontend fails, when the SDK only reports that it could not
 * connect: one TLS handshake with the same CA, client certificate and server name, then the
 * HTTP/2 preface, since under TLS 1.3 a server that refuses the client certificate says so only
 * after the handshake. Resolves to the TLS error (`self-signed certificate in certificate chain`,
 * `tlsv13 alert certificate required`, a name mismatch), or undefined when TLS is off, the
 * handshake succeeds or nothing answers within `timeoutMs`.
 */
export function probeTls(
  settings: TemporalConnectionSettings,
  timeoutMs = 5000,
): Promise<string | undefined> {
  const { tls } = settings;
  if (!tls) return Promise.resolve(undefined);
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(settings.address);
  if (!m) return Promise.resolve(undefined);
  const [, host, port] = m;
  const servername = tls.serverName ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(port),
      servername,
      ALPNProtocols: ['h2'],
      ...(tls.serverCa && { ca: tls.serverCa.pem }),
      ...(tls.client && { cert: tls.client.cert.pem, key: tls.client.key.pem.reveal() }),
    });
    const done = (verdict: string | undefined) => {
      socket.destroy();
      resolve(verdict);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('secureConnect', () => socket.write(HTTP2_PREFACE));
    socket.once('data', () => done(undefined));
    socket.once('error', (err) => done(`TLS: ${tlsReason(err.message)}`));
  });
}
