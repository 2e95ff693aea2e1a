/**
 * The resource entries of a LiveSynchronization, grouped by type. The seed's own sample 6.1.3
 * lists one type twice (Deployments of `env=pre` and of `env=pre-second` namespaces), so the
 * entries of one type are served by one engine whose scope is their union: an object belongs to
 * the first entry that selects it, and only an object that no entry selects is pruned. Pure
 * functions, no I/O.
 */
import { createHash } from 'node:crypto';
import type { ReplicatedResource } from './index.js';
import type { GVR } from '../../bucket/layout.js';
import { formatLabelSelector } from '../../kube/selectors.js';

/** One entry, compiled: its place in `replication.resources` and its filters, ready to match. */
export interface EntryRule {
  /** Index in `spec.config.replication.resources`. */
  index: number;
  entry: ReplicatedResource;
  /** `filters.selector` as the API server's labelSelector; undefined selects everything. */
  labelSelector?: string;
  /** `filters.namespaceSelector` likewise; undefined selects every namespace. */
  namespaceSelector?: string;
  include: RegExp[];
  exclude: RegExp[];
  /** Identifies the transformation, so a changed patch rewrites copies written with the old one. */
  transformation: string;
}

/** The entries of one type, in spec order. */
export interface TypeEntries {
  gvr: GVR;
  rules: EntryRule[];
}

/** `group/version/resource`, for messages; `v1/services` for the core group. */
export function typeName(gvr: GVR): string {
  return gvr.group ? `${gvr.group}/${gvr.version}/${gvr.resource}` : `${gvr.version}/${gvr.resource}`;
}

/** A short hash of an entry's transformation, '' when it has none. */
export function transformationId(entry: ReplicatedResource): string {
  const t = entry.transformation;
  if (!t?.patch?.length) return '';
  return createHash('sha256')
    .update(JSON.stringify({ patch: t.patch, skip: t.patchOptions?.skipIfNotFoundOnDelete ?? false }))
    .digest('hex')
    .slice(0, 16);
}

/** Compiles one entry (its regular expressions were validated with the spec). */
export function compileEntry(entry: ReplicatedResource, index: number): EntryRule {
  return {
    index,
    entry,
    labelSelector: formatLabelSelector(entry.filters?.selector),
    namespaceSelector: formatLabelSelector(entry.filters?.namespaceSelector),
    include: (entry.filters?.nameSelector?.regex ?? []).map((r) => new RegExp(r)),
    exclude: (entry.filters?.nameSelector?.excludeRegex ?? []).map((r) => new RegExp(r)),
    transformation: transformationId(entry),
  };
}

/** Groups entries by group/version/resource, types in order of first appearance. */
export function groupByType(entries: ReplicatedResource[]): TypeEntries[] {
  const byType = new Map<string, TypeEntries>();
  entries.forEach((entry, index) => {
    const gvr = { group: entry.group ?? '', version: entry.version, resource: entry.resource };
    const id = typeName(gvr);
    let group = byType.get(id);
    if (!group) byType.set(id, (group = { gvr, rules: [] }));
    group.rules.push(compileEntry(entry, index));
  });
  return [...byType.values()];
}

/** Whether `name` passes the entry's `nameSelector` (regex: any must match; excludeRegex: none may). */
export function passesNameFilter(rule: EntryRule, name: string): boolean {
  if (rule.include.length && !rule.include.some((r) => r.test(name))) return false;
  return !rule.exclude.some((r) => r.test(name));
}

/** What {@link selectEntry} asks about the source's current state. */
export interface SourceState<T> {
  /** The object at `key` as seen through `labelSelector`, if it matches it. */
  object(labelSelector: string | undefined, key: string): T | undefined;
  /** Whether namespace `namespace` matches `namespaceSelector`. */
  namespaceMatches(namespaceSelector: string, namespace: string): boolean;
}

/**
 * The first entry that selects the object at `key` (`namespace/name`), with the object; undefined
 * when no entry does (the copy, if any, is pruned).
 */
export function selectEntry<T>(
  rules: EntryRule[],
  key: string,
  state: SourceState<T>,
): { rule: EntryRule; object: T } | undefined {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  const name = key.slice(slash + 1);
  for (const rule of rules) {
    const object = state.object(rule.labelSelector, key);
    if (object === undefined) continue;
    if (rule.namespaceSelector !== undefined && !state.namespaceMatches(rule.namespaceSelector, namespace))
      continue;
    if (!passesNameFilter(rule, name)) continue;
    return { rule, object };
  }
  return undefined;
}
