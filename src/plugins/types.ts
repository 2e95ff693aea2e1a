/**
 * The one small interface every plugin implements, velero-style minus the gRPC: a name, the kinds
 * whose `spec.plugin` may name it, a config schema (the single source of truth; the TypeScript
 * type is derived from it) and semantic checks the schema cannot express.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { Kind } from '../api/kinds.js';
import type { Problem } from '../api/problems.js';

export type { Problem } from '../api/problems.js';

/** A plugin of the orchestrator. */
export interface Plugin<S extends TSchema = TSchema> {
  /** The value of `spec.plugin`. */
  name: string;
  /** Kinds whose `spec.plugin` may name it. */
  appliesTo: readonly Kind[];
  /** JSON schema (TypeBox) of `spec.config`. */
  configSchema: S;
  /**
   * Rewrites accepted aliases to their canonical spelling (SPEC-NOTES: `createRoutePath`,
   * `resources`, `delete`), returning a warning for each. Runs before validation; must not mutate.
   */
  normalize?(config: unknown): { config: unknown; warnings: Problem[] };
  /** Checks the schema cannot express (regular expressions compile, durations parse, …). */
  check?(config: Static<S>): Problem[];
}
