/**
 * LabelSelector objects as the API server's `labelSelector` query parameter, so that the API
 * server itself (the reference implementation) does the matching on list and watch.
 */
import type { LabelSelector } from '../plugins/common.js';

/**
 * Formats a LabelSelector the way metav1.FormatLabelSelector does: `a=b,c in (d,e),!f`.
 * Returns undefined for an empty selector (everything matches).
 */
export function formatLabelSelector(selector: LabelSelector | undefined): string | undefined {
  if (!selector) return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    parts.push(`${k}=${v}`);
  }
  for (const e of selector.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort();
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${e.key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
    }
  }
  return parts.length ? parts.join(',') : undefined;
}
