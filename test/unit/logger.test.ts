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
