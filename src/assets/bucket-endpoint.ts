/**
 * Where a Bucket's S3 requests go and which region they are signed for, from its spec (pure).
 * `generic` is any S3-compatible server at `endpoint`, signed for `generic.region` (default
 * us-east-1); `awsS3` is AWS's regional endpoint `s3.<region>.amazonaws.com`, signed for
 * `awsS3.region`; `gcpCloudStorage` is Cloud Storage's S3-compatible (XML, HMAC keys) endpoint
 * `storage.googleapis.com`. Endpoint overrides (`--bucket-endpoint-overrides`, for tests only)
 * send the requests for one host to another URL, with the same region and credentials.
 */
import type { BucketSpec } from '../api/types.js';

/** The region requests are signed for when the spec names none. */
export const DEFAULT_BUCKET_REGION = 'us-east-1';

/** Host (as the spec gives or implies it) → base URL that serves it instead (tests only). */
export type EndpointOverrides = Readonly<Record<string, string>>;

/** How to reach one Bucket. */
export interface BucketClientSettings {
  /** `generic`, `awsS3` or `gcpCloudStorage`: the spec block in use. */
  field: 'generic' | 'awsS3' | 'gcpCloudStorage';
  /** Base URL of the S3 API. */
  endpoint: string;
  /** The region the requests are signed for. */
  region: string;
  /** The spec field that sets the region (`spec.generic.region`), for error messages. */
  regionField: string;
  /** Path-style requests (`host/bucket/key`), as S3-compatible servers and overrides need. */
  forcePathStyle: boolean;
  /** The host the spec implies, and the URL that replaced it when an override applied. */
  overridden?: { host: string; url: string };
}

/** Settings for a Bucket's spec, or undefined when no provider block is set. */
export function bucketClientSettings(
  spec: BucketSpec,
  overrides: EndpointOverrides = {},
): BucketClientSettings | undefined {
  let settings: BucketClientSettings;
  if (spec.generic) {
    const host = spec.generic.endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    settings = {
      field: 'generic',
      endpoint: `${spec.generic.useSSL === false ? 'http' : 'https'}://${host}`,
      region: spec.generic.region || DEFAULT_BUCKET_REGION,
      regionField: 'spec.generic.region',
      forcePathStyle: true,
    };
  } else if (spec.awsS3) {
    settings = {
      field: 'awsS3',
      endpoint: `https://s3.${spec.awsS3.region}.amazonaws.com`,
      region: spec.awsS3.region,
      regionField: 'spec.awsS3.region',
      forcePathStyle: false,
    };
  } else if (spec.gcpCloudStorage) {
    settings = {
      field: 'gcpCloudStorage',
      endpoint: 'https://storage.googleapis.com',
      // Cloud Storage's XML API accepts SigV4 signed for `auto` or any region name; us-east-1 is what it documents.
      region: DEFAULT_BUCKET_REGION,
      regionField: 'spec.gcpCloudStorage',
      forcePathStyle: false,
    };
  } else return undefined;
  let host: string | undefined;
  try {
    host = new URL(settings.endpoint).host;
  } catch {
    return settings; // not a URL (a region or endpoint with spaces): the client reports it on use
  }
  const url = overrides[host];
  if (url) return { ...settings, endpoint: url, forcePathStyle: true, overridden: { host, url } };
  return settings;
}

/**
 * Parses `--bucket-endpoint-overrides` (`HOST=URL[,HOST=URL]`); throws a message naming the
 * entry that is wrong.
 */
export function parseEndpointOverrides(text: string | undefined): EndpointOverrides {
  const out: Record<string, string> = {};
  for (const entry of (text ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const at = entry.indexOf('=');
    const host = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    if (at <= 0 || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(host) || !/^https?:\/\/[^\s/]+\/?$/.test(url))
      throw new Error(`'${entry}' is not HOST=URL (e.g. s3.us-east-1.amazonaws.com=http://127.0.0.1:9000)`);
    out[host] = url.replace(/\/$/, '');
  }
  return out;
}

/**
 * A line for a failed S3 request that names the spec field at fault when the server says the
 * region is wrong (S3 and MinIO answer `AuthorizationHeaderMalformed` or a redirect, with the
 * bucket's region in `x-amz-bucket-region`; a HEAD has no body, so the header is all there is);
 * undefined for any other failure.
 */
export function regionMismatch(err: unknown, settings: BucketClientSettings): string | undefined {
  const e = err as {
    name?: string;
    Code?: string;
    Region?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string | undefined> };
  };
  const headers = e.$response?.headers ?? {};
  const expected = e.Region ?? headers['x-amz-bucket-region'];
  const code = e.Code ?? e.name ?? headers['x-minio-error-code'];
  const status = e.$metadata?.httpStatusCode;
  const regionError =
    code === 'AuthorizationHeaderMalformed' ||
    code === 'PermanentRedirect' ||
    headers['x-minio-error-code'] === 'AuthorizationHeaderMalformed' ||
    status === 301;
  if (!regionError || !expected || expected === settings.region) return undefined;
  if (settings.field === 'gcpCloudStorage')
    return `${settings.regionField}: the server expects requests signed for region '${expected}' (sent '${settings.region}'); gcpCloudStorage has no region field: use generic with region '${expected}'`;
  return `${settings.regionField}: the bucket's server expects region '${expected}', requests are signed for '${settings.region}'; set ${settings.regionField}: ${expected}`;
}
