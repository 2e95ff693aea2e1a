import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { ALL_KINDS, type Kind } from '../../src/api/kinds.js';
import type { Resource } from '../../src/api/types.js';
import { cronProblems, validateResource } from '../../src/validate.js';
import { parseGoDuration } from '../../src/plugins/common.js';
import { formatProblems } from '../../src/plugins/index.js';

const samplesDir = join(process.cwd(), 'k8s', 'samples');
const samples = readdirSync(samplesDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    (loadAllYaml(readFileSync(join(samplesDir, file), 'utf8')) as Resource[])
      .filter((doc) => doc && ALL_KINDS.includes(doc.kind as Kind))
      .map((doc) => [`${file} ${doc.kind}`, doc] as const),
  );

/** Samples the seeds ship with a mistake our validation must report, by file, and what it must say. */
const EXPECTED_PROBLEMS: Record<string, RegExp> = {
  // The seed's own excludeRegex sample: "*.test" is a glob, not a regular expression.
  '5.1.3.2-livesynchronization-exclude-regex.yaml':
    /excludeRegex\[0\]: "\*\.test" is not a valid regular expression \(Nothing to repeat\); did you mean "\.\*\\\.test\$"\?/,
};

describe('the seed samples', () => {
  it('are all here', () => expect(samples.length).toBeGreaterThanOrEqual(20));

  it.each(samples)('%s validates as its seed text describes', (name, resource) => {
    const problems = formatProblems(validateResource(resource).problems);
    const expected = EXPECTED_PROBLEMS[name.split(' ')[0]];
    if (expected) expect(problems).toMatch(expected);
    else expect(problems).toBe('');
  });

  it.each([
    ['002-3.2-task-run-synchronization-spec.completed.yaml', 'kubernetes-to-kubernetes'],
    ['002-3.2-task-run-synchronization-labels.completed.yaml', 'kuberentes-to-kubernetes'],
  ])('%s: the template plugin %s is accepted with a warning', (file, alias) => {
    const [, task] = samples.find(([name]) => name.startsWith(file))!;
    const result = validateResource(task);
    expect(result.problems).toEqual([]);
    expect(result.warnings).toContainEqual({
      path: 'spec.config.template.spec.plugin',
      message: `"${alias}" accepted as kubernetes-objects-to-kubernetes; please rename it`,
    });
    expect(result.config).toMatchObject({
      template: { spec: { plugin: 'kubernetes-objects-to-kubernetes' } },
    });
  });

  it('accepts the seed misspelling createRoutePath with a warning, as createRootPath', () => {
    const zk = samples.find(([, r]) => JSON.stringify(r.spec).includes('createRoutePath'));
    expect(zk).toBeDefined();
    const result = validateResource(zk![1]);
    expect(result.problems).toEqual([]);
    expect(result.warnings).toEqual([
      {
        path: 'spec.config.createRoutePath',
        message: 'accepted as a misspelling of createRootPath; please rename it',
      },
    ]);
    expect(result.config).toMatchObject({ createRootPath: true });
  });
});

const live = (config: unknown, plugin = 'kubernetes-objects-to-kubernetes') =>
  ({ kind: 'LiveSynchronization', spec: { plugin, config } }) as Resource;
const base = { sourceName: 's', destinationName: 'd' };
const deployments = { group: 'apps', version: 'v1', resource: 'deployments' };

describe('validateResource: bad input names the field', () => {
  it.each([
    [
      'an unknown plugin',
      live(base, 'kubernetes-to-kubernetes'),
      'spec.plugin: unknown plugin for LiveSynchronization: "kubernetes-to-kubernetes"; use one of kubernetes-objects-to-kubernetes',
    ],
    [
      'a plugin of another kind',
      live(base, 'custom-image'),
      'spec.plugin: plugin does not apply to LiveSynchronization: "custom-image"',
    ],
    [
      'a missing sourceName',
      live({ destinationName: 'd', replication: { resources: [deployments] } }),
      'spec.config.sourceName: required',
    ],
    [
      'an empty resources list',
      live({ ...base, replication: { resources: [] } }),
      'spec.config.replication.resources: must NOT have fewer than 1 items',
    ],
    [
      'a resource without version',
      live({ ...base, replication: { resources: [{ resource: 'configmaps' }] } }),
      'spec.config.replication.resources[0].version: required',
    ],
    [
      'a misspelt field',
      live({ ...base, replication: { resources: [{ ...deployments, filter: {} }] } }),
      'spec.config.replication.resources[0].filter: unknown field',
    ],
    [
      'an invalid regex',
      live({
        ...base,
        replication: { resources: [{ ...deployments, filters: { nameSelector: { regex: ['(unclosed'] } } }] },
      }),
      'spec.config.replication.resources[0].filters.nameSelector.regex[0]: "(unclosed" is not a valid regular expression',
    ],
    [
      'a patch path that is not a pointer',
      live({
        ...base,
        replication: {
          resources: [
            {
              ...deployments,
              transformation: { patch: [{ op: 'replace', path: 'spec/replicas', value: 0 }] },
            },
          ],
        },
      }),
      'spec.config.replication.resources[0].transformation.patch[0].path: "spec/replicas" is not a JSON pointer',
    ],
    [
      'an unknown patch op',
      live({
        ...base,
        replication: {
          resources: [{ ...deployments, transformation: { patch: [{ op: 'merge', path: '/a' }] } }],
        },
      }),
      'spec.config.replication.resources[0].transformation.patch[0].op: must be one of add, remove, replace, move, copy, test',
    ],
    [
      'a bad resync period',
      live({ ...base, replication: { resyncPeriod: 'hourly', resources: [deployments] } }),
      'spec.config.replication.resyncPeriod: "hourly" is not a duration',
    ],
    [
      'a bad selector operator',
      live({
        ...base,
        replication: {
          resources: [
            {
              ...deployments,
              filters: { selector: { matchExpressions: [{ key: 'a', operator: 'Equals' }] } },
            },
          ],
        },
      }),
      'spec.config.replication.resources[0].filters.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist',
    ],
    [
      'an invalid cron',
      {
        kind: 'SynchronizationPlan',
        spec: {
          schedule: '61 * * * *',
          template: {
            spec: {
              plugin: 'zookeeper-to-zookeeper-nodes',
              config: { sourceName: 'a', destinationName: 'b', rootPath: '/x' },
            },
          },
        },
      } as Resource,
      'spec.schedule: "61 * * * *" is not a cron expression',
    ],
    [
      'a cron with six fields',
      {
        kind: 'SynchronizationPlan',
        spec: {
          schedule: '0 10 * * * *',
          template: {
            spec: {
              plugin: 'zookeeper-to-zookeeper-nodes',
              config: { sourceName: 'a', destinationName: 'b', rootPath: '/x' },
            },
          },
        },
      } as Resource,
      'spec.schedule: "0 10 * * * *" is not a cron expression: it needs 5 fields',
    ],
    [
      'a plan template with a bad config',
      {
        kind: 'SynchronizationPlan',
        spec: {
          schedule: '10 * * * *',
          template: {
            spec: {
              plugin: 'zookeeper-to-zookeeper-nodes',
              config: { sourceName: 'a', destinationName: 'b', rootPath: 'relative' },
            },
          },
        },
      } as Resource,
      'spec.template.spec.config.rootPath: must match pattern "^/"',
    ],
    [
      'a bad excludePathRegexp',
      {
        kind: 'Synchronization',
        spec: {
          plugin: 'zookeeper-to-zookeeper-nodes',
          config: { sourceName: 'a', destinationName: 'b', rootPath: '/x', excludePathRegexp: '[' },
        },
      } as Resource,
      'spec.config.excludePathRegexp: "[" is not a valid regular expression',
    ],
    [
      'a Backup with an unknown plugin (the message lists the known ones)',
      { kind: 'Backup', spec: { plugin: 'velero', config: {} } } as Resource,
      'spec.plugin: unknown plugin for Backup: "velero"; use one of kubernetes-objects-to-bucket, zookeeper-nodes-to-bucket',
    ],
    [
      'a Task identifier without resource',
      {
        kind: 'Task',
        spec: {
          plugin: 'kubernetes-objects-transformation',
          config: { resources: [{ identifier: { version: 'v1' } }] },
        },
      } as Resource,
      'spec.config.resources[0].identifier.resource: required',
    ],
    [
      'a custom-image Task without command',
      { kind: 'Task', spec: { plugin: 'custom-image', config: { image: 'busybox' } } } as Resource,
      'spec.config.command: required',
    ],
  ])('%s', (_what, resource, message) => {
    expect(formatProblems(validateResource(resource).problems)).toContain(message);
  });

  it('accepts op "delete" as "remove", with a warning', () => {
    const r = live({
      ...base,
      replication: {
        resources: [
          { ...deployments, transformation: { patch: [{ op: 'delete', path: '/spec/strategy' }] } },
        ],
      },
    });
    const v = validateResource(r);
    expect(v.problems).toEqual([]);
    expect(v.warnings[0].path).toBe('spec.config.replication.resources[0].transformation.patch[0].op');
    expect(JSON.stringify(v.config)).toContain('"op":"remove"');
  });

  it('reports nats and redis components as not applicable, without failing', () => {
    const v = validateResource(
      live({
        ...base,
        replication: { resources: [deployments] },
        components: { nats: { replicas: 3 }, processor: { concurrentTasks: 4 } },
      }),
    );
    expect(v.problems).toEqual([]);
    expect(v.warnings).toEqual([
      {
        path: 'spec.config.components.processor.concurrentTasks',
        message:
          'not applicable: only components.synchronizer.concurrentTasks is used (the writes in flight); the setting is ignored',
      },
      {
        path: 'spec.config.components.nats',
        message: 'not applicable: Temporal replaces nats; the setting is ignored',
      },
    ]);
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['1h0m0s', 3_600_000],
    ['3h25m12s', 12_312_000],
    ['90s', 90_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['0', 0],
  ])('%s is %d ms', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each([['1 hour'], ['h'], [''], ['1h30'], ['-1h']])('%j is not a duration', (text) =>
    expect(parseGoDuration(text)).toBeUndefined(),
  );
});

describe('cronProblems', () => {
  it.each([['10 * * * *'], ['*/5 * * * *'], ['0 3 * * 1-5'], ['@hourly'], ['@every 5s'], ['@every 1h30m']])(
    'accepts %s',
    (s) => expect(cronProblems(s, 'spec.schedule')).toEqual([]),
  );
  it.each([
    ['*/5 * * * * *', /5 fields/],
    ['@every 500ms', /at least 1s/],
    ['@every soon', /at least 1s/],
    ['61 * * * *', /not a cron expression/],
  ])('refuses %s, naming the problem', (s, message) => {
    const [problem] = cronProblems(s, 'spec.schedule');
    expect(problem.path).toBe('spec.schedule');
    expect(problem.message).toMatch(message);
  });
});
