import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import { StackError } from '../../tools/stack/errors.js';
import { pidAlive, runLogged } from '../../tools/stack/exec.js';
import { kubernetesBinary, kubernetesStagingModules, versionAtLeast } from '../../tools/stack/tools.js';
import {
  componentByName,
  COMPONENTS,
  MANAGEMENT_CONTROLLERS,
  PROMETHEUS_JOB,
  prometheusConfig,
  splitByState,
  startPhases,
} from '../../tools/stack/stack.js';

describe('componentByName', () => {
  it.each([
    ['temporal', 'temporal'],
    ['source', 'source'],
    ['minio', 's3'],
    ['source-1.29', 'source-v129'],
    ['zookeeper-source', 'zk-source'],
    ['kube-scheduler', 'management-scheduler'],
    ['kube-controller-manager', 'management-controller-manager'],
    ['kwok', 'management-kwok'],
  ])('resolves %s to %s', (typed, name) => {
    expect(componentByName(typed)).toBe(name);
  });

  it('names the valid components when given an unknown one', () => {
    expect(() => componentByName('redis')).toThrow(
      new StackError(`unknown component 'redis': use one of ${COMPONENTS.join(', ')}`),
    );
  });
});

describe('prometheusConfig', () => {
  it('scrapes the file_sd targets of one folder every 2 s under the resiliency-orchestrator job', () => {
    expect(load(prometheusConfig('/stack/prometheus/targets'))).toEqual({
      global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' },
      scrape_configs: [
        {
          job_name: PROMETHEUS_JOB,
          file_sd_configs: [{ files: ['/stack/prometheus/targets/*.json'], refresh_interval: '2s' }],
        },
      ],
    });
    expect(PROMETHEUS_JOB).toBe('resiliency-orchestrator');
  });

  it('quotes a targets folder that YAML would otherwise misread', () => {
    const config = load(prometheusConfig('/tmp/a: b #c')) as {
      scrape_configs: { file_sd_configs: { files: string[] }[] }[];
    };
    expect(config.scrape_configs[0].file_sd_configs[0].files).toEqual(['/tmp/a: b #c/*.json']);
  });
});

describe('splitByState', () => {
  const portsOf = (names: readonly string[]) => Object.fromEntries(names.map((c, i) => [c, { main: 1 + i }]));

  it('adds nothing to a stack that knows every component', () => {
    expect(splitByState({ ports: portsOf(COMPONENTS) })).toEqual({ known: [...COMPONENTS], added: [] });
  });

  it('adds the components a running stack predates (prometheus, to a stack started before it)', () => {
    const older = COMPONENTS.filter((c) => c !== 'prometheus');
    expect(splitByState({ ports: portsOf(older) })).toEqual({ known: older, added: ['prometheus'] });
  });
});

describe('startPhases', () => {
  it('starts the management cluster’s scheduler, controller-manager and kwok after everything else', () => {
    const management = ['management-scheduler', 'management-controller-manager', 'management-kwok'];
    const [first, second] = startPhases();
    expect(second).toEqual(management);
    expect(first).toEqual(COMPONENTS.filter((c) => c !== 'etcd' && !management.includes(c)));
  });
});

describe('MANAGEMENT_CONTROLLERS', () => {
  it('runs namespace deletion, garbage collection and node-lifecycle, and no workload controller', () => {
    expect(MANAGEMENT_CONTROLLERS).toEqual([
      'namespace-controller',
      'garbage-collector-controller',
      'node-lifecycle-controller',
    ]);
    // Tests create thousands of Deployments in the management cluster: none may get a Pod.
    for (const c of MANAGEMENT_CONTROLLERS) {
      expect(c).not.toMatch(/deployment|replicaset|statefulset|daemonset|job|cronjob|taint-eviction/);
    }
  });
});

describe('kwok stages (tools/stack/kwok-stages.yaml)', () => {
  interface Stage {
    kind: string;
    metadata: { name: string };
    spec: {
      resourceRef: { kind: string };
      selector: { matchExpressions: { key: string; operator: string; values?: string[] }[] };
      next: { statusTemplate?: string; delete?: boolean };
    };
  }
  const stages = loadAll(readFileSync('tools/stack/kwok-stages.yaml', 'utf8')) as Stage[];
  const byName = (name: string) => stages.find((s) => s.metadata.name === name) as Stage;

  it('has the node and pod stages the docs describe, all kwok Stages', () => {
    expect(stages.map((s) => `${s.spec.resourceRef.kind}/${s.metadata.name}`)).toEqual([
      'Node/stack-node-initialize',
      'Node/stack-node-heartbeat',
      'Pod/stack-pod-running',
      'Pod/stack-pod-succeeded',
      'Pod/stack-pod-failed',
      'Pod/stack-pod-delete',
    ]);
    expect(new Set(stages.map((s) => s.kind))).toEqual(new Set(['Stage']));
  });

  it('fails exactly the Pods with an image ending in :fail, with exit code 1 and reason Error', () => {
    const marker = '.spec.containers.[].image | endswith(":fail")';
    const rule = (name: string) => byName(name).spec.selector.matchExpressions.find((e) => e.key === marker);
    expect(rule('stack-pod-failed')).toEqual({ key: marker, operator: 'In', values: ['true'] });
    expect(rule('stack-pod-succeeded')).toEqual({ key: marker, operator: 'NotIn', values: ['true'] });
    const failed = byName('stack-pod-failed').spec.next.statusTemplate as string;
    expect(failed).toMatch(/hasSuffix ":fail" \.image \}\}\s+exitCode: 1\s+reason: Error/);
    expect(failed).toContain('phase: Failed');
    expect(byName('stack-pod-succeeded').spec.next.statusTemplate).toMatch(/exitCode: 0\s+reason: Completed/);
    expect(byName('stack-pod-delete').spec.next).toEqual({ delete: true });
    // `:hang` Pods never complete: neither stage takes them.
    const hang = '.spec.containers.[].image | endswith(":hang")';
    expect(
      byName('stack-pod-succeeded').spec.selector.matchExpressions.find(
        (e: { key: string }) => e.key === hang,
      ),
    ).toEqual({ key: hang, operator: 'NotIn', values: ['true'] });
  });
});

describe('versionAtLeast', () => {
  it.each([
    ['1.26.8', '1.26.7', true],
    ['1.26.7', '1.26.7', true],
    ['1.27', '1.26.7', true],
    ['1.26', '1.26.7', false],
    ['1.25.9', '1.26.7', false],
    ['1.100.0', '1.26.7', true],
  ])('Go %s is at least %s: %s', (have, need, expected) => {
    expect(versionAtLeast(have, need)).toBe(expected);
  });
});

describe('kubernetesStagingModules', () => {
  it('reads the staging modules a k8s.io/kubernetes go.mod replaces with local paths, in its order', () => {
    const goMod = [
      'module k8s.io/kubernetes',
      '',
      'go 1.21',
      '',
      'require (',
      '\tk8s.io/api v0.0.0',
      '\tk8s.io/utils v0.0.0-20230726121419-3b25d923346b',
      ')',
      '',
      'replace (',
      '\tk8s.io/api => ./staging/src/k8s.io/api',
      '\tk8s.io/legacy-cloud-providers => ./staging/src/k8s.io/legacy-cloud-providers',
      '\tk8s.io/other => ./vendor/k8s.io/other',
      '\tk8s.io/mismatch => ./staging/src/k8s.io/api',
      '\tgithub.com/x/y => github.com/x/y v1.0.0',
      ')',
      '',
      'replace k8s.io/client-go => ./staging/src/k8s.io/client-go',
      '',
    ].join('\n');
    expect(kubernetesStagingModules(goMod)).toEqual(['api', 'legacy-cloud-providers', 'client-go']);
  });

  it('finds none in a go.mod that replaces no staging module', () => {
    expect(kubernetesStagingModules('module localbuild/etcd\n\ngo 1.25\n')).toEqual([]);
  });
});

describe('kubernetesBinary', () => {
  it.each([
    ['kube-apiserver', undefined, 'kube-apiserver'],
    ['kube-apiserver', '1.29.15', 'kube-apiserver-1.29'],
    ['kubernetes', '1.29.15', 'kubernetes-1.29'],
  ])('names %s of version %s %s', (command, version, name) => {
    expect(kubernetesBinary(command, version)).toBe(name);
  });
});

describe('runLogged', () => {
  it('turns a failing Go build into one line that names what failed and the log file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gobuild-'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'go.mod'), 'module localbuild/broken\n\ngo 1.25\n');
    writeFileSync(join(dir, 'src', 'main.go'), 'package main\n\nfunc main() { undefinedCall() }\n');
    const logFile = join(dir, 'install.log');
    const err = await runLogged('go', ['build', '-o', join(dir, 'bin'), '.'], {
      cwd: join(dir, 'src'),
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      logFile,
      what: 'building broken 0.0.0',
      progressEveryMs: 0,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).oneLine()).toBe(
      `building broken 0.0.0 failed (exit code 1) (log: ${logFile})`,
    );
    expect(readFileSync(logFile, 'utf8')).toContain('undefined: undefinedCall');
  }, 120_000);
});

describe('pidAlive', () => {
  it('is true for a running process and false for an exited, unreaped one (a zombie)', async () => {
    // The shell starts `sleep 0.5`, prints its pid, then becomes `sleep 5`, which never reaps it.
    // (With `sleep 0` the child could exit before the exec, and the shell reaped it: a flaky test.)
    const parent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 5'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const childPid = Number((await once(parent.stdout, 'data'))[0].toString().trim());
      expect(pidAlive(parent.pid as number)).toBe(true);
      const deadline = Date.now() + 5000;
      while (pidAlive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`/proc/${childPid}/stat`, 'utf8')).toMatch(/\) Z /);
      expect(pidAlive(childPid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('npm run stack -- status | head -1', () => {
  it('ends quietly with the status exit code when the reader has gone (no EPIPE crash)', async () => {
    // A stack whose components are all down: one line each, exit code 3.
    const dir = mkdtempSync(join(tmpdir(), 'stack-status-'));
    const ports = Object.fromEntries(COMPONENTS.map((c, i) => [c, { main: 1 + i }]));
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ components: {}, ports }));
    const cli = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'tools/stack/cli.ts', 'status'], {
      env: { ...process.env, STACK_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cli.stdout.destroy(); // the reader goes before the first line is written, as head does after one
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(cli, 'close')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(3);
  }, 60_000);
});
