/**
 * The start-up check of the search attributes, on the stack's Temporal dev server. The stack
 * registers our attributes in the namespaces it creates at start (`--search-attribute`); on its
 * SQLite store custom attributes belong to a namespace, so a namespace created later has none of
 * them, as a fresh Temporal Cloud namespace does. The orchestrator must stop on it with one line
 * naming each missing attribute and the command that creates it; after that command (here, the
 * search-attribute job of docker-compose.temporal.yml, run with the stack's temporal CLI) or with
 * `--register-search-attributes` it starts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import yaml from 'js-yaml';
import { SEARCH_ATTRIBUTES } from '../../src/api/search-attributes.js';
import { missingMessage } from '../../src/temporal/search-attributes.js';
import { toolsBinDir } from '../../tools/stack/paths.js';
import { baseArgs, errorLine, runToExit, startOrchestratorProcess } from './main-process.js';
import { stackEnv, uniqueName } from './stack-env.js';

let connection: Connection;
let logs: string;
const created: string[] = [];
const names = SEARCH_ATTRIBUTES.map((a) => a.name);

beforeAll(async () => {
  logs = mkdtempSync(join(tmpdir(), 'search-attributes-'));
  connection = await Connection.connect({ address: stackEnv().TEMPORAL_ADDRESS });
});
afterAll(async () => {
  for (const namespace of created) {
    await connection.operatorService.deleteNamespace({ namespace }).catch(() => undefined);
  }
  await connection?.close();
  rmSync(logs, { recursive: true, force: true });
});

/** The custom attributes of a namespace, by name. */
async function customAttributes(namespace: string): Promise<string[]> {
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  return Object.keys(res.customAttributes ?? {});
}

/** Registers a namespace and waits until the operator API knows it. */
async function createNamespace(prefix: string): Promise<string> {
  const namespace = uniqueName(prefix);
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  created.push(namespace);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await customAttributes(namespace);
      return namespace;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Runs one job of docker-compose.temporal.yml (its shell script, `$$` as compose reads it) with the stack's temporal CLI. */
function composeJob(service: string, namespace: string): { status: number | null; output: string } {
  const compose = yaml.load(readFileSync('docker-compose.temporal.yml', 'utf8')) as {
    services: Record<string, { command: string[]; environment: Record<string, string> }>;
  };
  const job = compose.services[service];
  const result = spawnSync('sh', ['-c', job.command.join('\n').replaceAll('$$', '$')], {
    env: {
      // The CLI needs HOME (its config folder); no TEMPORAL_* of this process may leak in.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))),
      PATH: `${toolsBinDir}:${process.env.PATH}`,
      ...job.environment,
      TEMPORAL_ADDRESS: stackEnv().TEMPORAL_ADDRESS,
      NAMESPACE: namespace,
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const args = (namespace: string) => [
  '--temporal-address',
  stackEnv().TEMPORAL_ADDRESS,
  '--temporal-namespace',
  namespace,
  ...baseArgs(uniqueName('sa')),
];

it('the stack registers our attributes in its default namespace, and a namespace created later has none', async () => {
  expect(await customAttributes(stackEnv().TEMPORAL_NAMESPACE)).toEqual(expect.arrayContaining(names));
  const namespace = await createNamespace('sa-empty');
  expect((await customAttributes(namespace)).filter((n) => names.includes(n))).toEqual([]);
});

it('stops start-up on a namespace without them, naming each and the command; the compose job creates them; then it starts', async () => {
  // The namespace job of docker-compose.temporal.yml creates it, and says so on a second run.
  const namespace = uniqueName('sa-compose');
  created.push(namespace);
  const first = composeJob('temporal-namespace', namespace);
  expect(first).toMatchObject({ status: 0 });
  expect(first.output).toContain(`namespace ${namespace} created`);
  expect(composeJob('temporal-namespace', namespace).output).toContain(
    `namespace ${namespace} already exists`,
  );

  const refused = await runToExit(args(namespace));
  expect(refused.code).toBe(1);
  const line = errorLine(refused.stderr);
  expect(line).toBe(`error: ${missingMessage(namespace, SEARCH_ATTRIBUTES)}`);
  expect(line).toContain(
    `temporal operator search-attribute create --namespace ${namespace} --name AstronetesKind --type Keyword --name AstronetesNamespace --type Keyword`,
  );

  const job = composeJob('temporal-search-attributes', namespace);
  expect(job.status).toBe(0);
  for (const name of names) expect(job.output).toContain(`search attribute ${name} created`);
  expect(job.output).toContain('search attributes ready');
  const again = composeJob('temporal-search-attributes', namespace);
  expect(again.status).toBe(0);
  for (const name of names) expect(again.output).toContain(`search attribute ${name} already exists`);

  const orchestrator = await startOrchestratorProcess(args(namespace), join(logs, `${namespace}.log`));
  await orchestrator.stop();
  expect(orchestrator.log()).not.toContain('registered search attributes');
});

it('names only the attributes that are missing', async () => {
  const namespace = await createNamespace('sa-partial');
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: { AstronetesKind: 2, AstronetesUid: 2 },
  });
  const deadline = Date.now() + 30_000;
  while ((await customAttributes(namespace)).length < 2 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 500));
  const refused = await runToExit(args(namespace));
  expect(refused.code).toBe(1);
  expect(errorLine(refused.stderr)).toBe(
    `error: ${missingMessage(
      namespace,
      SEARCH_ATTRIBUTES.filter((a) => a.name === 'AstronetesNamespace' || a.name === 'AstronetesName'),
    )}`,
  );
});

it('registers them with --register-search-attributes and starts', async () => {
  const namespace = await createNamespace('sa-register');
  const orchestrator = await startOrchestratorProcess(
    [...args(namespace), '--register-search-attributes'],
    join(logs, `${namespace}.log`),
  );
  await orchestrator.stop();
  const registered = orchestrator
    .log()
    .split('\n')
    .find((l) => l.includes('"msg":"registered search attributes"')) as string;
  expect(JSON.parse(registered)).toMatchObject({ namespace, searchAttributes: names });
  expect(await customAttributes(namespace)).toEqual(expect.arrayContaining(names));
});

it('stops start-up on a namespace that does not exist, naming it', async () => {
  const namespace = uniqueName('sa-nowhere');
  const refused = await runToExit(args(namespace));
  expect(refused.code).toBe(1);
  expect(errorLine(refused.stderr)).toMatch(
    new RegExp(
      `^error: cannot list the search attributes of Temporal namespace '${namespace}': .*${namespace}.* not found`,
    ),
  );
});
