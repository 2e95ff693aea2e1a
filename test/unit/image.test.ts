/**
 * The Dockerfile cannot be built here (no container engine), so what it relies on is checked by
 * reading: its entry is the one the integration test of the built orchestrator runs, and every
 * file it copies from the build context exists and is not dropped by .dockerignore.
 */
import { existsSync, readFileSync } from 'node:fs';
import { orchestratorEntryArgs } from '../bench/proc.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const ignored = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('runs plain node on the build output, as test/integration/built-orchestrator.test.ts does', () => {
    const entry = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(entry!)).toEqual(['node', ...orchestratorEntryArgs('built')]);
    expect(dockerfile).not.toMatch(/^(ENTRYPOINT|CMD).*tsx/m);
  });

  it('copies from the build context only files that exist and .dockerignore lets through', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1].split(' '),
    );
    expect(sources).toEqual(
      expect.arrayContaining(['tsconfig.build.json', 'tools/build.ts', 'src', 'workflows', 'activities']),
    );
    for (const source of sources) {
      expect(existsSync(source)).toBe(true);
      const top = source.split('/')[0];
      const dropped = ignored.includes(top) || ignored.includes(source);
      expect({ source, copied: !dropped || ignored.includes(`!${source}`) }).toEqual({
        source,
        copied: true,
      });
    }
  });

  it('the final stage takes dist/ from the build stage and node_modules from the production-only stage', () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^COPY --from=deps .*\/app\/node_modules \.\/node_modules$/m);
    expect(final).toMatch(/^COPY --from=build .*\/app\/dist \.\/dist$/m);
    expect(final).not.toMatch(/^COPY (?!--from).*\b(src|workflows|activities|tools)\b/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
  });
});
