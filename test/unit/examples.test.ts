/**
 * k8s/examples: every manifest is one of our kinds and passes the orchestrator's own validation
 * (plugin config schema and checks), so the docs that show them stay true.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import type { Resource } from '../../src/api/types.js';
import { formatProblems } from '../../src/api/problems.js';
import { validateResource } from '../../src/validate.js';

const dir = path.join(process.cwd(), 'k8s/examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('k8s/examples', () => {
  it('has the examples the README lists', () => {
    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
    const listed = [...readme.matchAll(/`([a-z-]+\.yaml)`/g)].map((m) => m[1]).sort();
    expect(listed).toEqual([...files].sort());
  });

  it.each(files)('%s validates', (f) => {
    const docs = yaml.loadAll(readFileSync(path.join(dir, f), 'utf8')) as Resource[];
    expect(docs).toHaveLength(1);
    const v = validateResource(docs[0]);
    expect(formatProblems(v.problems)).toBe('');
    expect(v.warnings).toEqual([]);
  });
});
