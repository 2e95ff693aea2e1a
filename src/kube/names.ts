/**
 * Names and label values that always fit: Kubernetes caps a label value (and a DNS label) at 63
 * characters, and names derived from user names must stay valid however long those are.
 */
import { createHash } from 'node:crypto';

/** The longest name or label value that is safe everywhere a name goes (a DNS label). */
export const MAX_NAME = 63;

/** Eight hex characters of a SHA-256 of `text`. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * `name` if it fits in `max` characters, else its head and a hash of the whole, so that two long
 * names with the same head stay apart (release note 1.1.2: long names must not break labels).
 */
export function fitName(name: string, max: number = MAX_NAME): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9).replace(/[-.]+$/, '')}-${shortHash(name)}`;
}
