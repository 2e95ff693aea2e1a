import type { BucketSpec } from '../../src/api/types.js';
import {
  bucketClientSettings,
  parseEndpointOverrides,
  regionMismatch,
} from '../../src/assets/bucket-endpoint.js';
import { loadConfig } from '../../src/config.js';

const generic = (extra: Partial<NonNullable<BucketSpec['generic']>> = {}): BucketSpec => ({
  generic: { name: 'b', endpoint: 'minio.example:9000', secretName: 's', ...extra },
});

describe('bucketClientSettings', () => {
  it.each<
    [string, BucketSpec, { endpoint: string; region: string; regionField: string; forcePathStyle: boolean }]
  >([
    [
      'generic, no region: us-east-1, https',
      generic(),
      {
        endpoint: 'https://minio.example:9000',
        region: 'us-east-1',
        regionField: 'spec.generic.region',
        forcePathStyle: true,
      },
    ],
    [
      'generic with region and useSSL false',
      generic({ region: 'eu-west-3', useSSL: false }),
      {
        endpoint: 'http://minio.example:9000',
        region: 'eu-west-3',
        regionField: 'spec.generic.region',
        forcePathStyle: true,
      },
    ],
    [
      'generic, endpoint given with a scheme',
      generic({ endpoint: 'https://s3.us-east-1.amazonaws.com/' }),
      {
        endpoint: 'https://s3.us-east-1.amazonaws.com',
        region: 'us-east-1',
        regionField: 'spec.generic.region',
        forcePathStyle: true,
      },
    ],
    [
      'awsS3: the regional endpoint',
      { awsS3: { name: 'b', region: 'ap-south-1', secretName: 's' } },
      {
        endpoint: 'https://s3.ap-south-1.amazonaws.com',
        region: 'ap-south-1',
        regionField: 'spec.awsS3.region',
        forcePathStyle: false,
      },
    ],
    [
      'gcpCloudStorage: storage.googleapis.com',
      { gcpCloudStorage: { name: 'b', secretName: 's' } },
      {
        endpoint: 'https://storage.googleapis.com',
        region: 'us-east-1',
        regionField: 'spec.gcpCloudStorage',
        forcePathStyle: false,
      },
    ],
  ])('%s', (_what, spec, want) => {
    expect(bucketClientSettings(spec)).toEqual({ field: Object.keys(spec)[0], ...want });
  });

  it('is undefined without a provider block', () => expect(bucketClientSettings({})).toBeUndefined());

  it.each<[BucketSpec, string]>([
    [generic({ endpoint: 's3.us-east-1.amazonaws.com', useSSL: true }), 's3.us-east-1.amazonaws.com'],
    [{ awsS3: { name: 'b', region: 'eu-west-3', secretName: 's' } }, 's3.eu-west-3.amazonaws.com'],
    [{ gcpCloudStorage: { name: 'b', secretName: 's' } }, 'storage.googleapis.com'],
  ])('an override replaces the host %#, path-style, same region', (spec, host) => {
    const s = bucketClientSettings(spec, { [host]: 'http://127.0.0.1:9000' })!;
    expect(s.endpoint).toBe('http://127.0.0.1:9000');
    expect(s.forcePathStyle).toBe(true);
    expect(s.overridden).toEqual({ host, url: 'http://127.0.0.1:9000' });
    expect(s.region).toBe(bucketClientSettings(spec)!.region);
  });

  it('does not throw on an endpoint that is not a URL', () =>
    expect(
      bucketClientSettings(generic({ endpoint: 'a b' }), { x: 'http://y' })!.overridden,
    ).toBeUndefined());

  it('leaves other hosts alone', () =>
    expect(bucketClientSettings(generic(), { 'other:1': 'http://127.0.0.1:1' })!.overridden).toBeUndefined());
});

describe('parseEndpointOverrides', () => {
  it('parses HOST=URL pairs', () =>
    expect(
      parseEndpointOverrides(
        ' s3.us-east-1.amazonaws.com=http://127.0.0.1:9000/ ,storage.googleapis.com=http://127.0.0.1:9001',
      ),
    ).toEqual({
      's3.us-east-1.amazonaws.com': 'http://127.0.0.1:9000',
      'storage.googleapis.com': 'http://127.0.0.1:9001',
    }));
  it.each([['nohost'], ['=http://x'], ['h=ftp://x'], ['h=http://x/path']])('refuses %j naming it', (text) =>
    expect(() => parseEndpointOverrides(text)).toThrow(`'${text}' is not HOST=URL`),
  );
  it('comes from --bucket-endpoint-overrides or BUCKET_ENDPOINT_OVERRIDES, empty by default', () => {
    expect(loadConfig([], {}).bucketEndpointOverrides).toEqual({});
    expect(loadConfig([], { BUCKET_ENDPOINT_OVERRIDES: 'a.b=http://c:1' }).bucketEndpointOverrides).toEqual({
      'a.b': 'http://c:1',
    });
    expect(() => loadConfig(['--bucket-endpoint-overrides', 'x'], {})).toThrow(
      "--bucket-endpoint-overrides / BUCKET_ENDPOINT_OVERRIDES: 'x' is not HOST=URL",
    );
  });
});

describe('regionMismatch', () => {
  const settings = bucketClientSettings(generic())!;
  // What @aws-sdk/client-s3 throws for MinIO with MINIO_REGION=eu-west-3 (recorded from a real server).
  const putError = {
    name: 'AuthorizationHeaderMalformed',
    Code: 'AuthorizationHeaderMalformed',
    Region: 'eu-west-3',
    $metadata: { httpStatusCode: 400 },
    $response: { headers: { 'x-amz-bucket-region': 'eu-west-3' } },
  };
  const headError = {
    name: 'Unknown',
    $metadata: { httpStatusCode: 400 },
    $response: {
      headers: { 'x-amz-bucket-region': 'eu-west-3', 'x-minio-error-code': 'AuthorizationHeaderMalformed' },
    },
  };
  it.each([
    ['a PUT', putError],
    ['a HEAD (no body)', headError],
  ])('names the field for %s', (_w, err) =>
    expect(regionMismatch(err, settings)).toBe(
      "spec.generic.region: the bucket's server expects region 'eu-west-3', requests are signed for 'us-east-1'; set spec.generic.region: eu-west-3",
    ),
  );
  it('says nothing of other errors', () => {
    expect(
      regionMismatch({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }, settings),
    ).toBeUndefined();
    expect(regionMismatch(new Error('ECONNREFUSED'), settings)).toBeUndefined();
  });
});
