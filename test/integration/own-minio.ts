/**
 * A MinIO server of a test's own, apart from the shared stack's: on a free port, with the
 * credentials and the region the test asks for (MINIO_REGION), in a temporary folder. The binary
 * is the one the stack built (the tool cache); the test stops it by its pid and removes its data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { toolCacheDir } from '../../tools/stack/paths.js';
import { TOOL_VERSIONS } from '../../tools/stack/tools.js';
import { eventually } from './resources.js';

/** A running MinIO of the test's own. */
export interface OwnMinio {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`, as a generic Bucket's endpoint. */
  host: string;
  /** A path-style client signed for the server's region. */
  client: S3Client;
  /** Creates a bucket. */
  createBucket(name: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its folder. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts MinIO with root credentials `accessKey`/`secretKey` and, when given, a region. */
export async function startOwnMinio(opts: {
  accessKey: string;
  secretKey: string;
  region?: string;
  logFile: string;
}): Promise<OwnMinio> {
  const dir = mkdtempSync(join(tmpdir(), 'own-minio-'));
  const [port, consolePort] = [await freePort(), await freePort()];
  const fd = openSync(opts.logFile, 'a');
  const binary = join(toolCacheDir, `minio-${TOOL_VERSIONS.minio}`, 'bin', 'minio');
  const child: ChildProcess = spawn(
    binary,
    [
      'server',
      join(dir, 'data'),
      `--address=127.0.0.1:${port}`,
      `--console-address=127.0.0.1:${consolePort}`,
    ],
    {
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        MINIO_ROOT_USER: opts.accessKey,
        MINIO_ROOT_PASSWORD: opts.secretKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        ...(opts.region && { MINIO_REGION: opts.region }),
      },
    },
  );
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually(
      `own MinIO on ${url} to be live`,
      async () => (await fetch(`${url}/minio/health/live`).catch(() => undefined))?.ok,
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const client = new S3Client({
    endpoint: url,
    region: opts.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey },
  });
  return {
    url,
    host: `127.0.0.1:${port}`,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      client.destroy();
      await stop();
    },
  };
}
