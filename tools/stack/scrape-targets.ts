/**
 * Scrape targets of the local stack's Prometheus: a file per target in its file_sd folder
 * (`PROMETHEUS_TARGETS_DIR`), re-read every 2 s. Used by `npm start` (its own metrics endpoint) and
 * by the integration tests.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Registers `address` (`host:port`, scraped at `/metrics`) as a target under the job
 * `resiliency-orchestrator`, with `labels` added to every series. Writes `<dir>/<name>.json`
 * atomically (a temporary name that Prometheus's `*.json` glob ignores, then a rename). Returns
 * the unregister function.
 */
export function registerScrapeTarget(
  targetsDir: string,
  name: string,
  address: string,
  labels: Record<string, string> = {},
): () => void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new Error(`scrape target name '${name}' must be [A-Za-z0-9_.-]+`);
  mkdirSync(targetsDir, { recursive: true });
  const file = join(targetsDir, `${name}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify([{ targets: [address], labels }], null, 2)}\n`);
  renameSync(tmp, file);
  return () => rmSync(file, { force: true });
}
