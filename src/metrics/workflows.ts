/**
 * `workflows_running{kind}`: the running workflows of the orchestrator's task queue, counted per
 * kind through Temporal's visibility (the `AstronetesKind` search attribute) every `everyMs`, in
 * the background, so that a scrape never waits on Temporal.
 */
import type { Client } from '@temporalio/client';
import { ALL_KINDS } from '../api/kinds.js';
import { RESOURCE_KIND } from '../api/search-attributes.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

/** Options of {@link startWorkflowCounter}. */
export interface WorkflowCounterOptions {
  client: Client;
  taskQueue: string;
  metrics: Metrics;
  log: Logger;
  /** Milliseconds between counts. Default 15 s. */
  everyMs?: number;
}

/** The visibility query of the running workflows of `kind` on `taskQueue`. */
export function runningQuery(taskQueue: string, kind: string): string {
  const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `TaskQueue = ${quote(taskQueue)} AND ExecutionStatus = 'Running' AND ${RESOURCE_KIND.name} = ${quote(kind)}`;
}

/**
 * Starts counting; `stop()` ends it: it aborts a count in flight (the client may be retrying it)
 * and resolves once that count has settled, so the connection can be closed without a retry
 * firing on a closed channel.
 */
export function startWorkflowCounter(opts: WorkflowCounterOptions): { stop(): Promise<void> } {
  const gauge = opts.metrics.health.workflowsRunning;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let warned = false;
  const count = async () => {
    try {
      const counts = await opts.client.withAbortSignal(abort.signal, () =>
        Promise.all(ALL_KINDS.map((kind) => opts.client.workflow.count(runningQuery(opts.taskQueue, kind)))),
      );
      ALL_KINDS.forEach((kind, i) => gauge.set({ kind }, counts[i].count));
      warned = false;
    } catch (err) {
      if (abort.signal.aborted) return;
      if (!warned) opts.log.warn({ err: (err as Error).message }, 'running workflows not counted');
      warned = true;
    }
    if (!abort.signal.aborted)
      timer = setTimeout(() => {
        current = count();
      }, opts.everyMs ?? 15_000).unref();
  };
  current = count();
  return {
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
