import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ESLint } from 'eslint';
import { workflowsPath } from '../../src/temporal/worker.js';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

describe('workflow sandbox guards', () => {
  it('bundles workflows/ with bundleWorkflowCode, taking from src/ only the workflow-safe src/api/', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: silent });
    expect(code).toContain('healthCheck');
    const fromSrc = [...new Set(code.match(/\.\/src\/[\w./-]+\.ts/g) ?? [])];
    expect(fromSrc.length).toBeGreaterThan(0); // the module paths are there to check
    expect(fromSrc.filter((m) => !m.startsWith('./src/api/'))).toEqual([]);
  }, 60_000);

  it('fails to bundle a workflow that imports a Node built-in (the guard the test above relies on)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-'));
    const file = join(dir, 'bad.ts');
    writeFileSync(
      file,
      "import { readFileSync } from 'node:fs';\nexport async function bad() { return readFileSync('/x'); }\n",
    );
    const errors: string[] = [];
    const recording = {
      ...silent,
      error: (msg: string, meta?: unknown) => errors.push(`${msg} ${JSON.stringify(meta)}`),
    };
    await expect(bundleWorkflowCode({ workflowsPath: file, logger: recording })).rejects.toThrow(
      /Webpack finished with errors/,
    );
    expect(errors.join('\n')).toMatch(/node:fs/);
  }, 60_000);

  it.each([
    ['node:fs'],
    ['@kubernetes/client-node'],
    ['@aws-sdk/client-s3'],
    ['zookeeper'],
    ['pino'],
    ['@temporalio/activity'],
  ])('ESLint rejects importing %s from workflows/', async (mod) => {
    const eslint = new ESLint();
    const [result] = await eslint.lintText(`import * as m from '${mod}';\nexport const x = m;\n`, {
      filePath: join(process.cwd(), 'workflows', 'probe.ts'),
    });
    expect(result.messages.map((m) => m.ruleId)).toContain('@typescript-eslint/no-restricted-imports');
  });

  it.each([
    ["import { validatePluginSpec } from '../src/plugins/index.js';", false],
    ["import { startBridge } from '../src/bridge/bridge.js';", false],
    ["import { createActivities } from '../activities/index.js';", false],
    ["import type { Plugin } from '../src/plugins/types.js';", true],
    ["import { WORKFLOW_TYPE } from '../src/api/contract.js';", true],
  ])('workflows/: %s → allowed %s', async (line, allowed) => {
    const eslint = new ESLint();
    const [result] = await eslint.lintText(`${line}\nexport const x = 1;\n`, {
      filePath: join(process.cwd(), 'workflows', 'probe.ts'),
    });
    const restricted = result.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports');
    expect(restricted.length === 0).toBe(allowed);
  });
});
