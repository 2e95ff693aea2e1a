/** Problems with a resource, named by field path, as status messages show them. Pure; safe in workflows. */

/** One problem with a resource, named by its field path (`spec.config.rootPath`). */
export interface Problem {
  path: string;
  message: string;
}

/** "path: message; path: message" for a status message or log line. */
export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}
