/**
 * Where the worker takes its workflows from: the build's bundle when compiled, the sources when
 * run from TypeScript, and a clear error for a compiled worker without its bundle.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WORKFLOW_BUNDLE_FILE, workflowSource } from '../../src/temporal/workflow-source.js';

function layout(): { dist: string; compiledModule: string } {
  const dist = join(mkdtempSync(join(tmpdir(), 'wfsrc-')), 'dist');
  mkdirSync(join(dist, 'src', 'temporal'), { recursive: true });
  return { dist, compiledModule: pathToFileURL(join(dist, 'src', 'temporal', 'workflow-source.js')).href };
}

describe('workflowSource', () => {
  it('from TypeScript (as under jest, tsx and npm start): the workflows entry, bundled at start-up', () => {
    const source = workflowSource();
    expect(source).toEqual({ kind: 'source', workflowsPath: join(process.cwd(), 'workflows', 'index.ts') });
    expect(existsSync((source as { workflowsPath: string }).workflowsPath)).toBe(true);
  });

  it('compiled, with the bundle at the top of the build output: that bundle', () => {
    const { dist, compiledModule } = layout();
    writeFileSync(join(dist, WORKFLOW_BUNDLE_FILE), '// bundle');
    expect(workflowSource(compiledModule)).toEqual({
      kind: 'prebuilt',
      codePath: join(dist, WORKFLOW_BUNDLE_FILE),
    });
  });

  it('compiled, without the bundle: one line naming the file and npm run build, no bundling from source', () => {
    const { dist, compiledModule } = layout();
    expect(() => workflowSource(compiledModule)).toThrow(
      `${join(dist, WORKFLOW_BUNDLE_FILE)} is missing: the compiled worker runs the workflow bundle of the same build; run \`npm run build\``,
    );
  });
});
