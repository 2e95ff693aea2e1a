/**
 * The CRDs in k8s/crds install on a real kube-apiserver (the stack's management cluster) and
 * accept every sample of the Astronetes documentation (k8s/samples) as it is, oddities included;
 * they print the documented columns, explain their fields, apply defaults and reject what the API
 * reference marks as required or enumerated, naming the field.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { kubectl, kubectlOk } from './kubectl.js';
import { uniqueName } from './stack-env.js';

const root = process.cwd();
const crdDir = path.join(root, 'k8s/crds');
const sampleDir = path.join(root, 'k8s/samples');

type KubeObject = { kind: string; metadata: Record<string, unknown>; spec?: unknown; [k: string]: unknown };

/**
 * The objects in kubectl's `-o json` output: one object, a List, or (client dry-run of a file with
 * several documents) several top-level objects one after the other.
 */
function objects(json: string): KubeObject[] {
  const documents = JSON.parse(`[${json.trim().replace(/^}\s*\n{/gm, '},{')}]`) as (KubeObject & {
    items?: KubeObject[];
  })[];
  return documents.flatMap((d) => (d.kind === 'List' ? (d.items ?? []) : [d]));
}

/** kubectl's table output → rows of cells (columns are separated by two spaces or more). */
function table(out: string): string[][] {
  return out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

async function createNamespace(name: string): Promise<void> {
  const exists = await kubectl(['get', 'namespace', name]);
  if (exists.code !== 0) await kubectlOk(['create', 'namespace', name]);
}

const crdFiles = readdirSync(crdDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
// assets.astronetes.io_kubernetesclusters.yaml → kubernetesclusters.assets.astronetes.io
const crdNames = crdFiles.map((f) => {
  const [group, plural] = f.replace(/\.yaml$/, '').split('_');
  return `${plural}.${group}`;
});
const sampleFiles = readdirSync(sampleDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
/** Deleted at the end: each sample's objects, and all of our kinds in the namespaces of the kubectl tests. */
const createdObjects: { namespace: string; ref: string }[] = [];
const ownNamespaces: string[] = [];

beforeAll(async () => {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=crds-test', '-k', crdDir]);
  await kubectlOk([
    'wait',
    '--for',
    'condition=established',
    '--timeout=60s',
    ...crdNames.map((n) => `crd/${n}`),
  ]);
});

afterAll(async () => {
  // Remove what the test created, so that no orchestrator watching the cluster acts on it later.
  // The namespaces stay (without kube-controller-manager a deleted namespace never goes away).
  for (const { namespace, ref } of createdObjects) {
    await kubectl(['delete', ref, '-n', namespace, '--wait=false', '--ignore-not-found']);
  }
  for (const namespace of ownNamespaces) {
    await kubectl(['delete', 'astronetes', '--all', '-n', namespace, '--wait=false', '--ignore-not-found']);
  }
});

describe('the CRDs', () => {
  it('are the nine kinds, each listed in the Kustomization', () => {
    expect(crdNames).toEqual(
      expect.arrayContaining([
        'kubernetesclusters.assets.astronetes.io',
        'buckets.assets.astronetes.io',
        'databases.assets.astronetes.io',
        'livesynchronizations.automation.astronetes.io',
        'synchronizations.automation.astronetes.io',
        'synchronizationplans.automation.astronetes.io',
        'backups.automation.astronetes.io',
        'tasks.automation.astronetes.io',
        'taskruns.automation.astronetes.io',
      ]),
    );
    expect(crdNames).toHaveLength(9);
    const kustomization = readFileSync(path.join(crdDir, 'Kustomization'), 'utf8');
    const listed = [...kustomization.matchAll(/^\s*-\s*(\S+\.yaml)\s*$/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(crdFiles);
  });

  it('are namespaced v1alpha1 kinds in category astronetes, with a status subresource and described fields', async () => {
    const crds = objects(await kubectlOk(['get', '-o', 'json', ...crdNames.map((n) => `crd/${n}`)]));
    expect(crds).toHaveLength(9);
    type Schema = { description?: string; properties?: Record<string, Schema>; items?: Schema };
    const undescribed = (s: Schema, at: string): string[] => [
      ...(s.description ? [] : [at]),
      ...Object.entries(s.properties ?? {})
        .filter(([name]) => !(at === '' && name === 'metadata'))
        .flatMap(([name, p]) => undescribed(p, `${at}.${name}`)),
      ...(s.items?.properties ? undescribed(s.items, `${at}[]`) : []),
    ];
    for (const crd of crds) {
      const spec = crd.spec as {
        scope: string;
        names: { categories: string[] };
        versions: {
          name: string;
          subresources?: { status?: object };
          schema: { openAPIV3Schema: Schema };
        }[];
      };
      expect(spec.scope).toBe('Namespaced');
      expect(spec.names.categories).toContain('astronetes');
      expect(spec.versions.map((v) => v.name)).toEqual(['v1alpha1']);
      expect(spec.versions[0].subresources?.status).toEqual({});
      const missing = undescribed(spec.versions[0].schema.openAPIV3Schema, '');
      expect({ crd: crd.metadata.name, missing }).toEqual({ crd: crd.metadata.name, missing: [] });
    }
  });
});

describe.each(sampleFiles)('sample %s', (file) => {
  it('applies unchanged and is stored without losing a field', async () => {
    const filePath = path.join(sampleDir, file);
    const text = readFileSync(filePath, 'utf8');
    const fixedNamespace = /^\s+namespace:\s*(\S+)\s*$/m.exec(text)?.[1];
    const namespace = fixedNamespace ?? uniqueName('sample');
    await createNamespace(namespace);

    // kubectl parses the YAML (client side) into what the file says...
    const expected = objects(await kubectlOk(['create', '--dry-run=client', '-o', 'json', '-f', filePath]));
    // ...and the API server must accept it: `create` for generateName, `apply` otherwise.
    const verb = /^\s+generateName:/m.test(text) ? 'create' : 'apply';
    const result = await kubectl([verb, '-n', namespace, '-o', 'json', '-f', filePath]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const stored = objects(result.stdout);
    for (const o of stored) {
      const group = String(o.apiVersion).includes('/') ? `.${String(o.apiVersion).split('/')[0]}` : '';
      createdObjects.push({ namespace, ref: `${o.kind.toLowerCase()}${group}/${String(o.metadata.name)}` });
    }

    expect(stored.map((o) => o.kind)).toEqual(expected.map((o) => o.kind));
    stored.forEach((object, i) => {
      expect(object.metadata.namespace).toBe(namespace);
      // Nothing pruned: every field of the sample's spec is kept (defaults may be added).
      if (expected[i].spec !== undefined) expect(object.spec).toMatchObject(expected[i].spec as object);
    });
  });
});

describe('kubectl', () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = uniqueName('crds');
    await createNamespace(namespace);
    ownNamespaces.push(namespace);
    await kubectlOk(['apply', '-n', namespace, '-f', path.join(sampleDir, '6.1.3-livesynchronization.yaml')]);
  });

  it('lists LiveSynchronizations with source, destination, suspend and readiness', async () => {
    const before = table(await kubectlOk(['get', 'livesynchronizations', '-n', namespace]));
    expect(before[0]).toEqual(['NAME', 'SOURCE', 'DESTINATION', 'SUSPEND', 'READY', 'AGE']);
    expect(before[1].slice(0, 4)).toEqual(['livesynchronization-sample', 'source', 'destination', 'false']);

    // READY follows the Ready condition the orchestrator writes through the status subresource.
    await kubectlOk([
      'patch',
      'livesynchronization',
      'livesynchronization-sample',
      '-n',
      namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          observedGeneration: 1,
          phase: 'Running',
          workflowId: 'livesync-test',
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'Replicating',
              message: 'replicating',
              lastTransitionTime: '2024-01-01T00:00:00Z',
            },
          ],
          notDeclaredButKept: { anything: [1, 'two'] },
        },
      }),
    ]);
    const after = table(await kubectlOk(['get', 'lsync', '-n', namespace]));
    expect(after[1].slice(0, 5)).toEqual([
      'livesynchronization-sample',
      'source',
      'destination',
      'false',
      'True',
    ]);
    const [stored] = objects(
      await kubectlOk(['get', 'livesync', 'livesynchronization-sample', '-n', namespace, '-o', 'json']),
    );
    expect(stored.status).toMatchObject({
      workflowId: 'livesync-test',
      notDeclaredButKept: { anything: [1, 'two'] },
    });
  });

  it('explains the fields with the API reference descriptions', async () => {
    const suspend = await kubectlOk(['explain', 'livesynchronization.spec.suspend']);
    expect(suspend).toMatch(/FIELD: suspend <boolean>/);
    expect(suspend).toMatch(/Suspend the execution/);
    const policy = await kubectlOk(['explain', 'synchronizationplans.spec.concurrencyPolicy']);
    expect(policy).toMatch(/Forbid/);
    expect(await kubectlOk(['explain', 'kubernetescluster.spec.secretName'])).toMatch(/kubeconfig\.yaml/);
    expect(await kubectlOk(['explain', 'taskrun.spec'])).toMatch(/taskName\s+<string> -required-/);
  });

  it('applies the defaults: suspend false, history limits 2, concurrencyPolicy Allow', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      `apiVersion: automation.astronetes.io/v1alpha1
kind: SynchronizationPlan
metadata:
  name: defaults
spec:
  schedule: "*/5 * * * *"
  template:
    spec:
      plugin: zookeeper-to-zookeeper-nodes
      config:
        sourceName: zookeeper-source
        destinationName: zookeeper-destination
        rootPath: /test
`,
    );
    const [plan] = objects(await kubectlOk(['get', 'syncplan', 'defaults', '-n', namespace, '-o', 'json']));
    expect(plan.spec).toMatchObject({
      suspend: false,
      successfulJobsHistoryLimit: 2,
      failedJobsHistoryLimit: 2,
      concurrencyPolicy: 'Allow',
    });
    expect(table(await kubectlOk(['get', 'synchronizationplans', '-n', namespace]))[0]).toEqual([
      'NAME',
      'SCHEDULE',
      'SUSPEND',
      'LAST SCHEDULE',
      'AGE',
    ]);

    await kubectlOk([
      'apply',
      '-n',
      namespace,
      '-f',
      path.join(sampleDir, '5.1.3.3-aws-livesynchronization-bucket.yaml'),
    ]);
    const [live] = objects(
      await kubectlOk([
        'get',
        'livesynchronization',
        'livesynchronization-sample',
        '-n',
        namespace,
        '-o',
        'json',
      ]),
    );
    expect(live.spec).toMatchObject({ suspend: false });
  });

  it('accepts a plugin it does not know (the orchestrator reports it in status)', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      `apiVersion: automation.astronetes.io/v1alpha1
kind: Task
metadata:
  name: unknown-plugin
spec:
  plugin: no-such-plugin
  config:
    anything: [1, 2]
`,
    );
    const out = table(await kubectlOk(['get', 'tasks', 'unknown-plugin', '-n', namespace]));
    expect(out[0]).toEqual(['NAME', 'PLUGIN', 'AGE']);
    expect(out[1].slice(0, 2)).toEqual(['unknown-plugin', 'no-such-plugin']);
  });

  const header = (group: string, kind: string, name: string) =>
    `apiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\n`;
  it.each([
    [
      'a TaskRun without taskName',
      `${header('automation.astronetes.io', 'TaskRun', 'no-task')}spec: {}\n`,
      /spec\.taskName: Required value/,
    ],
    [
      'a SynchronizationPlan with concurrencyPolicy: Sometimes',
      `${header('automation.astronetes.io', 'SynchronizationPlan', 'sometimes')}spec:\n  schedule: "* * * * *"\n  concurrencyPolicy: Sometimes\n`,
      /spec\.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"/,
    ],
    [
      'a KubernetesCluster without secretName',
      `${header('assets.astronetes.io', 'KubernetesCluster', 'no-secret')}spec: {}\n`,
      /spec\.secretName: Required value/,
    ],
    [
      'a KubernetesCluster without spec',
      header('assets.astronetes.io', 'KubernetesCluster', 'no-spec'),
      /spec: Required value/,
    ],
    [
      'a LiveSynchronization without plugin',
      `${header('automation.astronetes.io', 'LiveSynchronization', 'no-plugin')}spec:\n  config: {}\n`,
      /spec\.plugin: Required value/,
    ],
    [
      'a Synchronization without config',
      `${header('automation.astronetes.io', 'Synchronization', 'no-config')}spec:\n  plugin: zookeeper-to-zookeeper-nodes\n`,
      /spec\.config: Required value/,
    ],
    [
      'a Task with restartPolicy: Sometimes',
      `${header('automation.astronetes.io', 'Task', 'bad-restart')}spec:\n  plugin: custom-image\n  restartPolicy: Sometimes\n  config: {}\n`,
      /spec\.restartPolicy: Unsupported value: "Sometimes"/,
    ],
    [
      'a SynchronizationPlan with a negative history limit',
      `${header('automation.astronetes.io', 'SynchronizationPlan', 'negative')}spec:\n  schedule: "* * * * *"\n  failedJobsHistoryLimit: -1\n`,
      /spec\.failedJobsHistoryLimit: Invalid value: -1: spec\.failedJobsHistoryLimit in body should be greater than or equal to 0/,
    ],
    [
      'a Bucket with no provider',
      `${header('assets.astronetes.io', 'Bucket', 'no-provider')}spec: {}\n`,
      /exactly one of generic, gcpCloudStorage or awsS3 must be set/,
    ],
    [
      'a generic Bucket without endpoint',
      `${header('assets.astronetes.io', 'Bucket', 'no-endpoint')}spec:\n  generic:\n    name: b\n    secretName: s\n`,
      /spec\.generic\.endpoint: Required value/,
    ],
    [
      'a Database whose admin port is a number',
      `${header('assets.astronetes.io', 'Database', 'int-port')}spec:\n  zookeeper:\n    admin:\n      protocol: http\n      host: zk\n      port: 8080\n`,
      /spec\.zookeeper\.admin\.port: Invalid value: "integer": spec\.zookeeper\.admin\.port in body must be of type string/,
    ],
    [
      'a field outside config that the schema does not know',
      `${header('automation.astronetes.io', 'TaskRun', 'typo')}spec:\n  taskName: t\n  taskname: t\n`,
      /unknown field "spec\.taskname"/,
    ],
  ])('rejects %s, naming the field', async (_what, manifest, error) => {
    const result = await kubectl(['apply', '-n', namespace, '-f', '-'], manifest);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(error);
    const name = /name: (\S+)/.exec(manifest)?.[1] ?? '';
    const kind = /kind: (\S+)/.exec(manifest)?.[1] ?? '';
    expect((await kubectl(['get', kind, name, '-n', namespace])).code).not.toBe(0);
  });
});
