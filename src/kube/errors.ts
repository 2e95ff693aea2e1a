/**
 * Errors of @kubernetes/client-node, classified and told in one line: the status code, whether
 * it is a 404 or a 409, whether retrying is the answer, and the API server's own message.
 */

/** The HTTP status of an error of @kubernetes/client-node (`code` on ApiException, `statusCode` on a watch), if any. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null | undefined;
  return [e?.code, e?.statusCode].find((c): c is number => typeof c === 'number');
}

/** Whether the API server answered 404 Not Found. */
export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** Whether the API server answered 409 Conflict (already exists, or a stale resourceVersion). */
export function isConflict(err: unknown): boolean {
  return statusOf(err) === 409;
}

/**
 * An error body as client-node gives it, read: its generated APIs give the response text (a
 * Status as JSON, or plain text from something that is not an API server); its log and metrics
 * helpers give a parsed V1Status.
 */
function readBody(body: unknown): { status?: { message?: unknown; reason?: unknown }; text?: string } {
  if (typeof body !== 'string') return { status: (body ?? undefined) as object | undefined };
  try {
    return { status: JSON.parse(body) as object };
  } catch {
    return { text: body };
  }
}

/** The first non-empty line of `text`, trimmed. */
function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

/** `value` if it is a string with something in it. */
function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * One line for an error of @kubernetes/client-node: the API server's Status message when the body
 * has one, whole (`services "web" already exists`), else the error's own first line. An
 * ApiException's message is several lines (code, message, body, headers): without a Status
 * message, its first line is followed by what else there is, e.g. `HTTP-Code: 404 (404 page not
 * found)` for a plain-text body, `HTTP-Code: 401 (Unauthorized)` for the client's own word.
 */
export function kubeErrorText(err: unknown): string {
  const e = err as { body?: unknown; message?: unknown } | null | undefined;
  const { status, text } = readBody(e?.body);
  const fromStatus = nonEmpty(status?.message);
  if (fromStatus) return fromStatus.replace(/\s*\n\s*/g, ' ').trim();
  const message = nonEmpty(e?.message) ?? String(err);
  const first = firstLine(message);
  if (!first.startsWith('HTTP-Code:')) return first;
  const said = /^Message: (.*)$/m.exec(message)?.[1]?.trim();
  const detail =
    nonEmpty(text && firstLine(text).slice(0, 200)) ??
    nonEmpty(status?.reason) ??
    (said !== 'Unknown API Status Code!' ? nonEmpty(said) : undefined);
  return detail ? `${first} (${detail})` : first;
}

/** Socket errors of an API server that is restarting, not up yet or briefly out of reach. */
const PASSING_SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Whether an error of @kubernetes/client-node passes by itself, so that retrying is the answer:
 * 429 (an API server that has just started answers "storage is (re)initializing"), a 5xx, or a
 * connection refused, reset or cut (a server starting or restarting). Anything else (401, 403,
 * 404, 422, …) needs someone to act.
 */
export function isTransientKubeError(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: unknown } | null | undefined;
  const status = statusOf(err);
  if (status !== undefined) return status === 429 || status >= 500;
  return [e?.code, (e?.cause as { code?: unknown } | null | undefined)?.code].some(
    (c) => typeof c === 'string' && PASSING_SOCKET_ERRORS.has(c),
  );
}
