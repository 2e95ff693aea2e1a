import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger.js';

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes the seed field names: level as a label, ISO timestamp, msg, process', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', process: 'orchestrator', destination: stream });
    log.info({ sourceObject: { name: 'x' } }, 'object read from cluster');
    log.debug('not at info level');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'object read from cluster',
      process: { id: 'orchestrator' },
      sourceObject: { name: 'x' },
    });
    expect(String(lines[0].timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('redacts kubeconfigs, secret keys and passwords wherever a call site puts them', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    log.info(
      {
        kubeconfig: 'apiVersion: v1\nusers: [token: abc]',
        cluster: { kubeconfig: 'inner' },
        bucket: { secretAccessKey: 's3cr3t', accessKeyID: 'AKIA' },
        database: { password: 'pw' },
      },
      'connecting',
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('abc');
    expect(text).not.toContain('inner');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('"pw"');
    expect(lines[0]).toMatchObject({ kubeconfig: '[REDACTED]', bucket: { secretAccessKey: '[REDACTED]' } });
  });
});

describe('object fields', () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'db',
      namespace: 'app',
      resourceVersion: '42',
      uid: 'u-1',
      labels: { planted: 'label-sentinel' },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"pw":"YW5ub3RhdGlvbg=="}}',
      },
    },
    data: { pw: 'ZGF0YS1zZW50aW5lbA==' },
    stringData: { token: 'string-sentinel' },
  };

  it.each(['sourceObject', 'oldSourceObject', 'destinationObject'])(
    'a whole Secret logged as %s keeps its identity only: no data, labels or annotations',
    (field) => {
      const { lines, stream } = capture();
      const log = createLogger({ level: 'info', destination: stream });
      log.info({ [field]: secret }, 'object read from cluster');
      log.child({ [field]: secret }).info('object updated in cluster');
      for (const line of lines) {
        expect(line[field]).toEqual({
          apiVersion: 'v1',
          kind: 'Secret',
          name: 'db',
          namespace: 'app',
          resourceVersion: '42',
          uid: 'u-1',
        });
        const text = JSON.stringify(line);
        for (const planted of ['label-sentinel', 'YW5ub3RhdGlvbg', 'ZGF0YS1zZW50aW5lbA', 'string-sentinel'])
          expect(text).not.toContain(planted);
      }
      expect(lines).toHaveLength(2);
    },
  );

  it('keeps the seed identity fields of a reference as they are', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const ref = {
      apiGroup: 'apps',
      apiVersion: 'v1',
      resource: 'deployments',
      name: 'web',
      namespace: 'app',
      resourceVersion: '7',
      uid: 'u-2',
    };
    log.info(
      { sourceObject: ref, oldSourceObject: { ...ref, resourceVersion: '6' } },
      'object read from cluster',
    );
    expect(lines[0]).toMatchObject({ sourceObject: ref, oldSourceObject: { ...ref, resourceVersion: '6' } });
  });

  it('redacts data maps under any field', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    log.info({ object: { kind: 'Secret', data: { pw: 'c2VjcmV0' }, binaryData: { b: 'Ymlu' } } }, 'x');
    expect(JSON.stringify(lines[0])).not.toMatch(/c2VjcmV0|Ymlu/);
  });
});

describe('process', () => {
  it('is written once per line: the root identity, or the one a child names', () => {
    const raw: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        raw.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ level: 'info', process: 'orchestrator', destination: stream });
    log.info('root line');
    log
      .child({ process: { id: 'replicator', attempt: 1 } })
      .child({ x: 1 })
      .info('child line');
    log.child({ kind: 'Backup' }).info('other child');
    // JSON.parse keeps the last of two equal keys: count them in the text.
    for (const line of raw) expect(line.match(/"process":/g)).toHaveLength(1);
    expect(raw.map((l) => (JSON.parse(l) as { process: unknown }).process)).toEqual([
      { id: 'orchestrator' },
      { id: 'replicator', attempt: 1 },
      { id: 'orchestrator' },
    ]);
  });
});
