import {
  checkComponents,
  componentSettings,
  componentWarnings,
  DEFAULT_CONCURRENT_TASKS,
  parseLogLevel,
} from '../../src/plugins/kubernetes-objects-to-kubernetes/components.js';
import { KeyedQueue } from '../../src/kube/queue.js';
import { validateResource } from '../../src/validate.js';
import type { Resource } from '../../src/api/types.js';

describe('components', () => {
  it.each([
    ['debug', 'debug'],
    ['INFO', 'info'],
    ['warning', 'warn'],
    ['error', 'error'],
    ['panic', 'fatal'],
    ['verbose', undefined],
  ])('logLevel %j is %j', (text, level) => expect(parseLogLevel(text)).toBe(level));

  it('maps levels to engine parts and synchronizer.concurrentTasks to the writes in flight', () => {
    expect(componentSettings(undefined)).toEqual({ concurrency: DEFAULT_CONCURRENT_TASKS, levels: {} });
    expect(
      componentSettings({
        eventsListener: { logLevel: 'error' },
        synchronizer: { logLevel: 'Debug', concurrentTasks: 3 },
        reconciler: { logLevel: 'warning' },
        restorer: { logLevel: 'trace' },
      }),
    ).toEqual({
      concurrency: 3,
      levels: { eventsListener: 'error', synchronizer: 'debug', reconciler: 'warn' },
    });
  });

  it('names the field of a wrong level, an unknown component, a bound exceeded', () => {
    expect(
      checkComponents({
        synchronizer: { logLevel: 'verbose', concurrentTasks: 100_000 },
        synchroniser: { logLevel: 'debug' },
      }),
    ).toEqual([
      {
        path: 'spec.config.components.synchronizer.logLevel',
        message: "'verbose' is not a log level; one of trace, debug, info, warn, error, fatal, silent",
      },
      {
        path: 'spec.config.components.synchronizer.concurrentTasks',
        message: '100000 is more than 512 writes in flight',
      },
      {
        path: 'spec.config.components.synchroniser',
        message:
          'unknown component; one of eventsListener, processor, reconciler, restorer, synchronizer, nats, redis, metricsExporter',
      },
    ]);
  });

  it('warns of concurrentTasks where it has no meaning', () =>
    expect(
      componentWarnings({ reconciler: { concurrentTasks: 2 }, synchronizer: { concurrentTasks: 2 } }),
    ).toEqual([
      {
        path: 'spec.config.components.reconciler.concurrentTasks',
        message:
          'not applicable: only components.synchronizer.concurrentTasks is used (the writes in flight); the setting is ignored',
      },
    ]));

  it.each([
    [{ synchronizer: { concurrentTasks: 0 } }, 'spec.config.components.synchronizer.concurrentTasks'],
    [{ synchronizer: { logLevel: 'loud' } }, 'spec.config.components.synchronizer.logLevel'],
  ])('a LiveSynchronization with %j is invalid, naming %s', (components, path) => {
    const v = validateResource({
      kind: 'LiveSynchronization',
      spec: {
        plugin: 'kubernetes-objects-to-kubernetes',
        config: {
          sourceName: 's',
          destinationName: 'd',
          replication: { resources: [{ version: 'v1', resource: 'configmaps' }] },
          components,
        },
      },
    } as Resource);
    expect(v.problems.map((p) => p.path)).toContain(path);
  });
});

describe('concurrentTasks in the engine: the keyed queue runs at most that many at once', () => {
  it.each([1, 4, 16])('concurrency %d: %d in flight at the peak, never more', async (n) => {
    let inFlight = 0;
    let peak = 0;
    const queue = new KeyedQueue({
      concurrency: n,
      reconcile: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
      onError: () => undefined,
    });
    for (let i = 0; i < 60; i++) queue.add(`ns/o-${i}`);
    await queue.idle();
    queue.stop();
    expect(peak).toBe(n);
  });
});
