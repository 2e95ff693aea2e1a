/** The printed table of the benchmark (one row per figure, with its baseline and verdict), and its JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One row of the table. */
export interface Row {
  what: string;
  value: string;
  baseline: string;
  target: string;
  verdict: string;
}

/** Renders rows as a fixed-width text table (plain ASCII, so it pastes into issues and logs). */
export function renderTable(rows: Row[]): string {
  const header: Row = {
    what: 'what',
    value: 'value',
    baseline: 'baseline',
    target: 'ratio / target',
    verdict: 'verdict',
  };
  const cols: (keyof Row)[] = ['what', 'value', 'baseline', 'target', 'verdict'];
  const all = [header, ...rows];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...all.map((r) => r[c].length))])) as Record<
    keyof Row,
    number
  >;
  const line = (r: Row) => `| ${cols.map((c) => r[c].padEnd(width[c])).join(' | ')} |`;
  const rule = `|${cols.map((c) => '-'.repeat(width[c] + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Writes `bench-results/<benchmark>-<timestamp>.json` at the repository root: `data` with the
 * benchmark's name and the machine beside it. Returns the file's path.
 */
export function writeBenchResult(benchmark: string, data: Record<string, unknown>): string {
  const dir = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${benchmark}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = { nproc: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version };
  writeFileSync(file, JSON.stringify({ benchmark, ...data, machine }, null, 2));
  return file;
}
