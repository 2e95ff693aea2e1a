/** kubectl (the one the tool installer built) against the local stack's management cluster. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { stackEnv } from './stack-env.js';

/** The kubectl binary of `.tools/bin`. */
export const kubectlBin = path.resolve(process.cwd(), '.tools/bin/kubectl');

/** What kubectl printed and how it exited. */
export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kubectl against the management cluster; `input` goes to its stdin. Never throws. */
export function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBin, ['--kubeconfig', stackEnv().MANAGEMENT_KUBECONFIG, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Runs kubectl and fails the test with kubectl's own output when it exits non-zero. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
