/**
 * Schema pieces and checks shared by several plugins: JSON patch operations, label selectors,
 * regular expressions and Go-style durations.
 */
import { Type, type Static } from '@sinclair/typebox';
import jsonpatch from 'fast-json-patch';
import { parseGoDuration } from '../api/duration.js';
import type { Problem } from './types.js';

export { parseGoDuration };

/** A string limited to `values`, as a plain JSON-schema `enum` (one clear error, not one per value). */
export function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

/** RFC 6902 operations; `delete` is accepted as an alias of `remove` (SPEC-NOTES). */
export const PatchOperation = Type.Object(
  {
    op: StringEnum(['add', 'remove', 'replace', 'move', 'copy', 'test'] as const, {
      description: 'JSON patch operation',
    }),
    path: Type.String({ description: 'JSON pointer of the field to change, e.g. /spec/replicas' }),
    value: Type.Optional(Type.Unknown()),
    from: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type PatchOperation = Static<typeof PatchOperation>;

/** `patchOptions` of a transformation or recovery process. */
export const PatchOptions = Type.Object(
  { skipIfNotFoundOnDelete: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

/** A Kubernetes LabelSelector. */
export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String(),
            operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
            values: Type.Optional(Type.Array(Type.String())),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type LabelSelector = Static<typeof LabelSelector>;

/** Rewrites `op: delete` to `remove` in a list of operations, with a warning for each. */
export function normalizePatch(ops: unknown, path: string, warnings: Problem[]): unknown {
  if (!Array.isArray(ops)) return ops;
  return ops.map((op, i) => {
    if (op && typeof op === 'object' && (op as { op?: unknown }).op === 'delete') {
      warnings.push({ path: `${path}[${i}].op`, message: '"delete" is accepted as an alias of "remove"' });
      return { ...op, op: 'remove' };
    }
    return op;
  });
}

/** Problems of a list of patch operations that the schema cannot see (pointer syntax, from/value). */
export function checkPatch(ops: PatchOperation[] | undefined, path: string): Problem[] {
  const problems: Problem[] = [];
  (ops ?? []).forEach((op, i) => {
    if (!op.path.startsWith('/') && op.path !== '') {
      problems.push({
        path: `${path}[${i}].path`,
        message: `"${op.path}" is not a JSON pointer: it must start with "/"`,
      });
      return;
    }
    if (['add', 'replace', 'test'].includes(op.op) && !('value' in op)) {
      problems.push({ path: `${path}[${i}].value`, message: `"${op.op}" needs a value` });
      return;
    }
    const err = jsonpatch.validate([op as jsonpatch.Operation]);
    if (err) problems.push({ path: `${path}[${i}]`, message: err.message.split('\n')[0] });
  });
  return problems;
}

/**
 * Problems with regular expressions: each must compile. The seed's own `"*.test"` gets a hint
 * (`.*\.test$`), since a glob where a regular expression belongs is the likely mistake.
 */
export function checkRegexes(patterns: string[] | undefined, path: string): Problem[] {
  const problems: Problem[] = [];
  (patterns ?? []).forEach((pattern, i) => {
    const problem = regexProblem(pattern);
    if (problem) problems.push({ path: `${path}[${i}]`, message: problem });
  });
  return problems;
}

/** Why `pattern` is not a valid regular expression, or undefined when it is. */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    const reason = (err as Error).message.replace(/^Invalid regular expression: (\/.*\/[a-z]*: )?/, '');
    const glob = /^\*/.test(pattern) ? `; did you mean "${globToRegex(pattern)}"?` : '';
    return `"${pattern}" is not a valid regular expression (${reason})${glob}`;
  }
}

function globToRegex(glob: string): string {
  return `${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`;
}

/** A problem when `value` is set and is not a Go duration. */
export function checkDuration(value: string | undefined, path: string): Problem[] {
  if (value === undefined || parseGoDuration(value) !== undefined) return [];
  return [{ path, message: `"${value}" is not a duration: use the form 1h0m0s (hours, minutes, seconds)` }];
}
