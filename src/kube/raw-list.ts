/**
 * Lists one collection page by page as the API server wrote it: plain JSON, no client models. The
 * generated client turns timestamps into Dates and drops fields its models lack; replication wants
 * the server's own bytes (a bucket original is compared with the source by checksum, a copy with
 * what the source would give), and decoding into models is the slowest part of a big list.
 * Every page reaches `onPage` as it arrives, so work can start while the list is still paging.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** An API server's answer other than 200, with the status and its message (as client-node errors have). */
export class ListError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly body: string,
  ) {
    super(message);
    this.name = 'ListError';
  }
}

/** One page of a list. */
export interface RawListPage<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

/** What {@link listPages} lists. */
export interface RawListOptions {
  /** The collection's URL path, e.g. `/api/v1/configmaps` (every namespace). */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per page (default 500). */
  limit?: number;
}

/**
 * Lists every page of `opts.path`, calling `onPage` with each one in order (awaited, so a slow
 * consumer slows the list instead of piling pages up). Resolves with the list's resourceVersion
 * (the snapshot every page belongs to) and the number of items. One connection serves every page.
 */
export async function listPages<T>(
  kc: KubeConfig,
  opts: RawListOptions,
  onPage: (page: RawListPage<T>) => void | Promise<void>,
): Promise<{ resourceVersion: string; count: number }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const request: https.RequestOptions & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(request);
  let resourceVersion = '';
  let count = 0;
  let cont: string | undefined;
  // The agent may be shared by the whole process (src/kube/connections.ts): never destroyed here.
  do {
    const url = new URL(cluster.server.replace(/\/+$/, '') + opts.path);
    url.searchParams.set('limit', String(opts.limit ?? 500));
    if (opts.labelSelector) url.searchParams.set('labelSelector', opts.labelSelector);
    if (cont) url.searchParams.set('continue', cont);
    const page = await getJson<{
      items?: T[];
      metadata?: { resourceVersion?: string; continue?: string };
    }>(url, request);
    const items = page.items ?? [];
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    cont = page.metadata?.continue || undefined;
    count += items.length;
    await onPage({ items, resourceVersion, continue: cont });
  } while (cont);
  return { resourceVersion, count };
}

/** Every item of `opts.path` in one array, with the list's resourceVersion. */
export async function listAll<T>(
  kc: KubeConfig,
  opts: RawListOptions,
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  const { resourceVersion } = await listPages<T>(kc, opts, (page) => {
    for (const item of page.items) items.push(item);
  });
  return { items, resourceVersion };
}

function getJson<T>(url: URL, options: https.RequestOptions): Promise<T> {
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise<T>((resolve, reject) => {
    const req = transport.request(
      url,
      { ...options, method: 'GET', headers: { ...options.headers, Accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            let message = `HTTP ${res.statusCode}`;
            try {
              message = (JSON.parse(text) as { message?: string }).message || message;
            } catch {
              // not a Status: the status code says it
            }
            reject(new ListError(res.statusCode ?? 0, message, text));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(new Error(`unreadable list from ${url.pathname}: ${(err as Error).message}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
