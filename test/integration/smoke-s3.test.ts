/** The S3 server is real MinIO: an object is put and got back; wrong credentials are refused. */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { stackEnv, uniqueName } from './stack-env.js';

function client(accessKeyId: string, secretAccessKey: string): S3Client {
  const env = stackEnv();
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
}

describe('S3 bucket', () => {
  it('stores and returns an object', async () => {
    const env = stackEnv();
    const s3 = client(env.S3_ACCESS_KEY_ID, env.S3_SECRET_ACCESS_KEY);
    const key = `smoke/${uniqueName('object')}.json`;
    const body = JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'probe' } });
    await s3.send(
      new PutObjectCommand({ Bucket: env.S3_BUCKET, Key: key, Body: body, ContentType: 'application/json' }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }));
    expect(await got.Body?.transformToString()).toBe(body);
    expect(got.ContentType).toBe('application/json');
    s3.destroy();
  });

  it('refuses a client with the wrong secret', async () => {
    const env = stackEnv();
    const s3 = client(env.S3_ACCESS_KEY_ID, 'not-the-secret');
    await expect(
      s3.send(new PutObjectCommand({ Bucket: env.S3_BUCKET, Key: 'smoke/refused', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    s3.destroy();
  });
});
