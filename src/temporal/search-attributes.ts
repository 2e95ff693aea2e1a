/**
 * The start-up check of the custom search attributes the workflows set
 * (`src/api/search-attributes.ts`): a namespace without them would fail every workflow start of
 * the bridge, so the orchestrator lists the namespace's attributes first and stops with one line
 * naming each missing one and the command that creates it, or creates them when asked
 * (`--register-search-attributes`).
 */
import type { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../api/search-attributes.js';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';

/** `temporal.api.enums.v1.IndexedValueType`, by the type names of `temporal operator search-attribute create --type`. */
const INDEXED_VALUE_TYPE: Record<string, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};
const TYPE_NAME = Object.fromEntries(Object.entries(INDEXED_VALUE_TYPE).map(([k, v]) => [v, k]));

/** A search attribute: its name and its type as the temporal CLI spells it (`Keyword`). */
export interface SearchAttributeSpec {
  name: string;
  type: string;
}

/** The one command that creates `attributes` in `namespace`. */
export function createCommand(namespace: string, attributes: SearchAttributeSpec[]): string {
  return [
    `temporal operator search-attribute create --namespace ${namespace}`,
    ...attributes.map((a) => `--name ${a.name} --type ${a.type}`),
  ].join(' ');
}

/**
 * What is missing or of the wrong type among `wanted`, given the namespace's custom attributes
 * (name → IndexedValueType number, as ListSearchAttributes returns them).
 */
export function compareSearchAttributes(
  wanted: SearchAttributeSpec[],
  existing: Record<string, number | string>,
): { missing: SearchAttributeSpec[]; wrongType: { name: string; want: string; have: string }[] } {
  const missing: SearchAttributeSpec[] = [];
  const wrongType: { name: string; want: string; have: string }[] = [];
  for (const a of wanted) {
    const have = existing[a.name];
    if (have === undefined) missing.push(a);
    else if (Number(have) !== INDEXED_VALUE_TYPE[a.type])
      wrongType.push({ name: a.name, want: a.type, have: TYPE_NAME[Number(have)] ?? String(have) });
  }
  return { missing, wrongType };
}

/** The one-line error for attributes a namespace lacks. */
export function missingMessage(namespace: string, missing: SearchAttributeSpec[]): string {
  return (
    `Temporal namespace '${namespace}' lacks the search attribute${missing.length > 1 ? 's' : ''} ` +
    `${missing.map((a) => `${a.name} (${a.type})`).join(', ')} that the workflows set: create ` +
    `${missing.length > 1 ? 'them' : 'it'} with \`${createCommand(namespace, missing)}\` ` +
    '(Temporal Cloud: `tcld namespace search-attributes add`, or the Cloud UI), or start once with --register-search-attributes'
  );
}

/** Options of {@link ensureSearchAttributes}. */
export interface EnsureSearchAttributesOptions {
  connection: Connection;
  namespace: string;
  /** Create the missing ones instead of failing. */
  register: boolean;
  log: Logger;
  /** What to check; the workflows' attributes by default. */
  attributes?: SearchAttributeSpec[];
  /** How long to wait for created attributes to show up in the listing (the frontend caches them). Default 30 s. */
  settleTimeoutMs?: number;
}

/**
 * Checks that the namespace has every search attribute the workflows set, with the right type.
 * Throws a {@link ConfigError} whose one line names each missing attribute and the command that
 * creates it; with `register`, creates them (AddSearchAttributes, which needs namespace admin
 * rights and the operator API) and waits until the namespace lists them. Returns what it created.
 */
export async function ensureSearchAttributes(opts: EnsureSearchAttributesOptions): Promise<string[]> {
  const { connection, namespace } = opts;
  const wanted = opts.attributes ?? SEARCH_ATTRIBUTES;
  const list = async () => {
    try {
      const res = await connection.operatorService.listSearchAttributes({ namespace });
      return (res.customAttributes ?? {}) as Record<string, number>;
    } catch (err) {
      throw new ConfigError(
        `cannot list the search attributes of Temporal namespace '${namespace}': ${grpcMessage(err)}`,
      );
    }
  };
  let { missing, wrongType } = compareSearchAttributes(wanted, await list());
  if (wrongType.length)
    throw new ConfigError(
      `Temporal namespace '${namespace}' has ${wrongType.map((w) => `${w.name} as ${w.have}`).join(', ')}, ` +
        `but the workflows set ${wrongType.map((w) => `${w.name} as ${w.want}`).join(', ')}: remove and re-create ` +
        `${wrongType.length > 1 ? 'them' : 'it'} (\`temporal operator search-attribute remove --namespace ${namespace} --name ...\`)`,
    );
  if (missing.length === 0) return [];
  if (!opts.register) throw new ConfigError(missingMessage(namespace, missing));
  const created = missing.map((a) => a.name);
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((a) => [a.name, INDEXED_VALUE_TYPE[a.type]])),
    });
  } catch (err) {
    // Another replica may have created them first: the listing below decides.
    if (grpcCode(err) !== ALREADY_EXISTS)
      throw new ConfigError(
        `cannot register the search attributes ${created.join(', ')} in Temporal namespace '${namespace}' ` +
          `(${grpcMessage(err)}): create them with \`${createCommand(namespace, missing)}\` ` +
          '(Temporal Cloud: `tcld namespace search-attributes add`, or the Cloud UI)',
      );
  }
  const deadline = Date.now() + (opts.settleTimeoutMs ?? 30_000);
  for (;;) {
    ({ missing, wrongType } = compareSearchAttributes(wanted, await list()));
    if (missing.length === 0 && wrongType.length === 0) break;
    if (Date.now() > deadline)
      throw new ConfigError(
        `registered ${created.join(', ')} in Temporal namespace '${namespace}', yet it still lacks ${missing.map((a) => a.name).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
  opts.log.info({ namespace, searchAttributes: created }, 'registered search attributes');
  return created;
}

const ALREADY_EXISTS = 6;

function grpcCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

/** The server's message of a gRPC error, on one line. */
function grpcMessage(err: unknown): string {
  const e = err as { details?: string; message?: string };
  return (e.details || e.message || String(err)).replace(/\s+/g, ' ').trim();
}
