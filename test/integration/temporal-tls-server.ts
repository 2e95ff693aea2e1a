/**
 * A real Temporal server (go.temporal.io/server 1.29.1, `temporal-server` from the stack's tools,
 * in-memory SQLite) with TLS on its frontend, for the tests of the orchestrator's TLS and API key
 * options. `temporal server start-dev` has no TLS settings, so this runs the server binary with a
 * config file of its own: `global.tls` for the frontend certificate (and, in `mtls` mode, required
 * client certificates signed by the test CA), and in `api-key` mode `global.authorization` with the
 * default JWT claim mapper, whose keys come from a JWKS URL: the server itself checks the
 * `Authorization: Bearer` header the SDK sends for an API key.
 *
 * Started by the test that uses it, on free ports, and stopped by it; never part of the stack.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import yaml from 'js-yaml';
import type { Pki } from '../../tools/stack/pki.js';
import { toolsBinDir } from '../../tools/stack/paths.js';
import { freePort } from '../../tools/stack/ports.js';

/** A running TLS Temporal server. */
export interface TlsTemporalServer {
  /** `127.0.0.1:PORT` of the TLS frontend. */
  address: string;
  logFile: string;
  pid: number;
  /** The last lines of its log, for a failure message. */
  logTail(): string;
  stop(): Promise<void>;
}

/** Options of {@link startTlsTemporalServer}. */
export interface TlsTemporalServerOptions {
  /** Folder for its config and log. */
  dir: string;
  pki: Pki;
  /** `mtls`: client certificates required, no authorizer. `api-key`: server TLS only, JWT bearer tokens required. */
  mode: 'mtls' | 'api-key';
  /** `api-key` mode: where the server fetches the JWKS that verifies the tokens. */
  jwksUrl?: string;
  /** Connection options with admin rights, to wait for readiness and create the namespace. */
  admin: { tls: object; apiKey?: string };
  /** Namespaces to create once the server answers. */
  namespaces: string[];
}

/** Where `npm run stack -- tools` (and the integration global setup) links the server binary. */
export const temporalServerBinary = join(toolsBinDir, 'temporal-server');

/** Starts the server, waits until its frontend answers over TLS and creates the namespaces. */
export async function startTlsTemporalServer(opts: TlsTemporalServerOptions): Promise<TlsTemporalServer> {
  if (!existsSync(temporalServerBinary))
    throw new Error(
      `${temporalServerBinary} is missing: run \`npm run stack -- tools\` (the global setup does)`,
    );
  const { pki } = opts;
  const services = [
    'frontend',
    'history',
    'matching',
    'worker',
    ...(opts.mode === 'api-key' ? ['internal-frontend'] : []),
  ];
  const ports: Record<string, { grpcPort: number; membershipPort: number; httpPort?: number }> = {};
  for (const s of services) {
    ports[s] = { grpcPort: await freePort(), membershipPort: await freePort() };
    if (s.endsWith('frontend')) ports[s].httpPort = await freePort();
  }
  const frontend = `127.0.0.1:${ports.frontend.grpcPort}`;
  const sqlite = (name: string) => ({
    sql: {
      pluginName: 'sqlite',
      databaseName: name,
      connectAddr: 'localhost',
      connectProtocol: 'tcp',
      connectAttributes: { mode: 'memory', cache: 'private' },
      maxConns: 1,
      maxIdleConns: 1,
      maxConnLifetime: '1h',
    },
  });
  const clientTls = { serverName: 'localhost', rootCaFiles: [pki.caCert] };
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'sqlite-default',
      visibilityStore: 'sqlite-visibility',
      numHistoryShards: 1,
      datastores: { 'sqlite-default': sqlite('default'), 'sqlite-visibility': sqlite('visibility') },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: {
        frontend: {
          server: {
            certFile: pki.serverCert,
            keyFile: pki.serverKey,
            ...(opts.mode === 'mtls' && { clientCaFiles: [pki.caCert], requireClientAuth: true }),
          },
          client: clientTls,
        },
        // The server's own system workers (schedules, batch) call the frontend as a client: in
        // mTLS mode with the test CA's client certificate; in api-key mode through the
        // internal-frontend, which needs no token.
        ...(opts.mode === 'mtls' && {
          systemWorker: { certFile: pki.adminCert, keyFile: pki.adminKey, client: clientTls },
        }),
      },
      ...(opts.mode === 'api-key' && {
        authorization: {
          jwtKeyProvider: { keySourceURIs: [opts.jwksUrl], refreshInterval: '1m' },
          permissionsClaimName: 'permissions',
          authorizer: 'default',
          claimMapper: 'default',
        },
      }),
    },
    services: Object.fromEntries(services.map((s) => [s, { rpc: { ...ports[s], bindOnLocalHost: true } }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: frontend,
          httpAddress: `127.0.0.1:${ports.frontend.httpPort}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: join(opts.dir, 'config', 'dynamicconfig.yaml'), pollInterval: '10s' },
  };
  mkdirSync(join(opts.dir, 'config'), { recursive: true });
  writeFileSync(join(opts.dir, 'config', 'development.yaml'), yaml.dump(config));
  writeFileSync(
    join(opts.dir, 'config', 'dynamicconfig.yaml'),
    yaml.dump({
      // Search attributes created at start-up are listed at once (as the dev server does).
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }],
    }),
  );
  const logFile = join(opts.dir, 'temporal-server.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    temporalServerBinary,
    [
      '--root',
      opts.dir,
      '--config',
      'config',
      '--env',
      'development',
      ...(opts.mode === 'mtls' ? ['--allow-no-auth'] : []),
      'start',
      ...services.flatMap((s) => ['--service', s]),
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r();
    }),
  );
  const logTail = () => readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    await Promise.race([exit, new Promise((r) => setTimeout(r, 15_000).unref())]);
    if (exited === undefined) {
      child.kill('SIGKILL');
      await exit;
    }
  };
  const server: TlsTemporalServer = { address: frontend, logFile, pid: child.pid as number, logTail, stop };
  try {
    await waitReady(server, opts, () => exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return server;
}

async function waitReady(
  server: TlsTemporalServer,
  opts: TlsTemporalServerOptions,
  exited: () => number | null | undefined,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last: unknown;
  for (;;) {
    if (exited() !== undefined)
      throw new Error(`temporal-server exited (${exited()}) before answering:\n${server.logTail()}`);
    if (Date.now() > deadline)
      throw new Error(`temporal-server did not answer in 120 s (${String(last)}):\n${server.logTail()}`);
    // Lazy: a connect that fails still has a channel to close, which would otherwise keep retrying.
    const conn = Connection.lazy({ address: server.address, connectTimeout: 2000, ...opts.admin });
    try {
      await conn.ensureConnected();
      for (const namespace of opts.namespaces) {
        try {
          await conn.workflowService.describeNamespace({ namespace });
        } catch {
          await conn.workflowService.registerNamespace({
            namespace,
            workflowExecutionRetentionPeriod: msToTs('1 day'),
          });
          await conn.workflowService.describeNamespace({ namespace });
        }
        // The operator API answers from the namespace registry, which learns of a new namespace
        // at its next refresh (about 10 s): the orchestrator's start-up check needs it.
        await conn.operatorService.listSearchAttributes({ namespace });
      }
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await conn.close();
    }
  }
}
