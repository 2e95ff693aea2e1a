/** The printed table of the benchmark: one row per figure, with its baseline and verdict. */

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
