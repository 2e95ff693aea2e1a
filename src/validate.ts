/**
 * Validation of a custom resource beyond what its CRD schema catches at apply time: plugin
 * configs, cron expressions, regular expressions, durations. Pure: no cluster access, so it runs
 * in an activity or a unit test alike. References to other objects are checked by the
 * activities that resolve them.
 */
import { CronExpressionParser } from 'cron-parser';
import { validatePluginSpec, type Problem } from './plugins/index.js';
import type { Kind } from './api/kinds.js';
import { parseGoDuration } from './api/duration.js';
import type { PluginSpec, Resource, SynchronizationPlanSpec, TaskRunSpec } from './api/types.js';

/** What {@link validateResource} found. `config` is the plugin config with aliases normalized. */
export interface ResourceValidation {
  problems: Problem[];
  warnings: Problem[];
  config?: unknown;
}

/**
 * Problems with a cron `schedule`, or none. What a Kubernetes CronJob takes: five fields, the
 * `@hourly`-style macros, or `@every <duration>` (Go duration, at least 1s).
 */
export function cronProblems(schedule: string, path: string): Problem[] {
  const every = /^@every\s+(\S+)$/.exec(schedule.trim());
  if (every) {
    const ms = parseGoDuration(every[1]);
    return ms !== undefined && ms >= 1000
      ? []
      : [{ path, message: `"${schedule}": @every needs a duration of at least 1s, e.g. @every 1h30m` }];
  }
  const fields = schedule.trim().split(/\s+/);
  if (!/^@(yearly|annually|monthly|weekly|daily|hourly)$/.test(schedule.trim()) && fields.length !== 5) {
    return [
      {
        path,
        message: `"${schedule}" is not a cron expression: it needs 5 fields (minute hour day-of-month month day-of-week)`,
      },
    ];
  }
  try {
    CronExpressionParser.parse(schedule.trim(), { strict: false });
    return [];
  } catch (err) {
    return [{ path, message: `"${schedule}" is not a cron expression: ${(err as Error).message}` }];
  }
}

/** Validates one resource of any of the nine kinds. */
export function validateResource(resource: Pick<Resource, 'kind' | 'spec'>): ResourceValidation {
  const kind = resource.kind as Kind;
  switch (kind) {
    case 'LiveSynchronization':
    case 'Synchronization':
    case 'Backup':
    case 'Task': {
      const v = validatePluginSpec(kind, resource.spec as PluginSpec);
      return v.ok
        ? { problems: [], warnings: v.warnings, config: v.config }
        : { problems: v.problems, warnings: v.warnings };
    }
    case 'SynchronizationPlan': {
      const spec = resource.spec as SynchronizationPlanSpec;
      const problems = cronProblems(spec.schedule ?? '', 'spec.schedule');
      const template = spec.template?.spec;
      if (!template) {
        problems.push({
          path: 'spec.template.spec',
          message: 'required: the Synchronization to create at each firing',
        });
        return { problems, warnings: [] };
      }
      const v = validatePluginSpec('Synchronization', template, 'spec.template.spec');
      if (!v.ok) problems.push(...v.problems);
      return { problems, warnings: v.warnings, config: v.ok ? v.config : undefined };
    }
    case 'TaskRun': {
      const spec = resource.spec as TaskRunSpec;
      return {
        problems: spec.taskName ? [] : [{ path: 'spec.taskName', message: 'required' }],
        warnings: [],
      };
    }
    case 'KubernetesCluster':
    case 'Bucket':
    case 'Database':
      // Their shape is the CRD's to check; their Secrets and reachability are checked when resolved.
      return { problems: [], warnings: [] };
  }
}
