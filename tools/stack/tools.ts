/**
 * The tool installer (`npm run tools`): puts the real servers the local stack runs into a cache
 * keyed by tool and version, building them from the package registries our machines reach (the
 * Go module proxy and Maven Central), and links them into `.tools/bin`.
 *
 * A binary already on PATH is reused when its version fits. Nothing is downloaded from anywhere
 * else. Versions and the reasons behind them are in docs/local-stack.md.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { captureOutput, formatDuration, runLogged, which, withLockDir } from './exec.js';
import { StackError } from './errors.js';
import { toolCacheDir, toolsBinDir } from './paths.js';

/** Versions of every server the stack runs. Change a version here and the cache key follows. */
export const TOOL_VERSIONS = {
  temporal: '1.5.1',
  /** The Temporal server the CLI above embeds, built on its own for the TLS tests (`temporal-server`). */
  temporalServer: '1.29.1',
  etcd: '3.6.4',
  kubernetes: '1.34.4',
  /** The older kube-apiserver of the `source-v129` cluster (mixed-version replication). */
  kubernetesSource: '1.29.15',
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  zookeeper: '3.9.4',
  prometheus: '3.16.0',
  kwok: '0.8.0',
} as const;

/** What an install step gets: its own cache folder, a log file and a way to print progress. */
interface InstallContext {
  dir: string;
  binDir: string;
  logFile: string;
  print: (line: string) => void;
}

/** One server the stack needs. */
interface ToolSpec {
  /** Name of the tool and of its cache folder. */
  name: string;
  version: string;
  /** Bumped when the recipe changes for the same version, so the cache key changes too. */
  revision?: number;
  /** Executables it provides, linked into `.tools/bin`. */
  binaries: string[];
  /** Commands that must be on PATH to install it. */
  prerequisites: string[];
  /** The oldest Go that builds it (the `go` line of its go.mod): GOTOOLCHAIN=local fetches no newer one. */
  minGo?: string;
  /** A rough first-build time, printed so nobody thinks the installer hung. */
  estimate: string;
  /** When set, a binary already on PATH whose version output passes `fits` is reused. */
  onPath?: { binary: string; args: string[]; fits: (output: string) => boolean };
  install(ctx: InstallContext): Promise<void>;
}

/** Whether dotted version `have` (for example `1.26.8`) is at least `need`. */
export function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The machine's Go version without the `go` prefix (`1.26.8`), or undefined. */
function localGoVersion(): string | undefined {
  const out = captureOutput('go', ['env', 'GOVERSION']);
  return out?.trim().match(/^go(\d+(?:\.\d+)*)/)?.[1];
}

function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // GOTOOLCHAIN=local: never fetch another Go toolchain; the machine's Go must do.
  return { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local', ...extra };
}

/**
 * The staging modules a k8s.io/kubernetes go.mod replaces with local paths
 * (`k8s.io/api => ./staging/src/k8s.io/api`), in the order it lists them. The list changes between
 * minors (1.29 has legacy-cloud-providers; 1.34 has cri-client and externaljwt instead), so it is
 * read from the go.mod of the version being built rather than kept by hand.
 */
export function kubernetesStagingModules(goMod: string): string[] {
  return [
    ...goMod.matchAll(/^\s*(?:replace\s+)?k8s\.io\/([\w.-]+)\s+=>\s+\.\/staging\/src\/k8s\.io\/\1\s*$/gm),
  ].map((m) => m[1]);
}

/** The binary name a Kubernetes command gets in `.tools/bin`: `kube-apiserver`, or `kube-apiserver-1.29` for an extra version. */
export function kubernetesBinary(command: string, version?: string): string {
  return version ? `${command}-${version.split('.').slice(0, 2).join('.')}` : command;
}

/** One build of k8s.io/kubernetes commands. */
interface KubernetesBuild {
  version: string;
  /** Commands under `cmd/` to build. */
  commands: string[];
  /**
   * The wrapper module's `go` line. Through it, the GODEBUG defaults (TLS, x509, timers) are those
   * of that Go release, whatever newer Go builds the binary.
   */
  go: string;
  /** Name the binaries after their minor version (`kube-apiserver-1.29`), beside the main version's. */
  versionedNames?: boolean;
}

/**
 * Builds commands of k8s.io/kubernetes (`cmd/<name>`) at one version. The module cannot be
 * `go install`ed (its go.mod replaces every staging module with a local path), so a wrapper module
 * requires it and pins each staging module its go.mod names to its published twin
 * (`k8s.io/api v0.34.4` for 1.34.4). The ldflags make `/version` and `--version` report the real
 * version instead of v0.0.0.
 */
async function buildKubernetes(ctx: InstallContext, build: KubernetesBuild): Promise<void> {
  const v = build.version;
  const [major, minor, patch] = v.split('.');
  const what = `building ${build.commands.join(' and ')} ${v}`;
  const opts = { env: goEnv(), logFile: ctx.logFile, what, print: ctx.print };
  // Outside the wrapper (ctx.dir has no go.mod): fetch the module, then read its go.mod.
  await runLogged('go', ['mod', 'download', `k8s.io/kubernetes@v${v}`], { ...opts, cwd: ctx.dir });
  const modCache = captureOutput('go', ['env', 'GOMODCACHE'])?.trim();
  const goModFile = join(modCache ?? '', 'cache', 'download', 'k8s.io', 'kubernetes', '@v', `v${v}.mod`);
  const staging = existsSync(goModFile) ? kubernetesStagingModules(readFileSync(goModFile, 'utf8')) : [];
  if (staging.length === 0) {
    throw new StackError(`${what}: no staging modules found in ${goModFile}`, ctx.logFile);
  }
  const src = join(ctx.dir, 'src');
  mkdirSync(src, { recursive: true });
  const replaces = staging.map((m) => `\tk8s.io/${m} => k8s.io/${m} v0.${minor}.${patch}`);
  writeFileSync(
    join(src, 'go.mod'),
    `module localbuild/kubernetes\n\ngo ${build.go}\n\nrequire k8s.io/kubernetes v${v}\n\nreplace (\n${replaces.join('\n')}\n)\n`,
  );
  const pkgs = build.commands.map((c) => `k8s.io/kubernetes/cmd/${c}`);
  await runLogged('go', ['get', ...pkgs.map((p) => `${p}@v${v}`)], { ...opts, cwd: src });
  const ldflags = [
    `-X k8s.io/component-base/version.gitVersion=v${v}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/client-go/pkg/version.gitVersion=v${v}`,
  ].join(' ');
  for (const command of build.commands) {
    const bin = kubernetesBinary(command, build.versionedNames ? v : undefined);
    await runLogged(
      'go',
      ['build', '-ldflags', ldflags, '-o', join(ctx.binDir, bin), `k8s.io/kubernetes/cmd/${command}`],
      { ...opts, cwd: src },
    );
  }
}

const TOOLS: ToolSpec[] = [
  {
    name: 'temporal',
    version: TOOL_VERSIONS.temporal,
    binaries: ['temporal'],
    prerequisites: ['go'],
    estimate: 'about 4 minutes',
    onPath: {
      binary: 'temporal',
      args: ['--version'],
      fits: (out) => out.includes(`temporal version ${TOOL_VERSIONS.temporal}`),
    },
    async install(ctx) {
      await runLogged(
        'go',
        ['install', `github.com/temporalio/cli/cmd/temporal@v${TOOL_VERSIONS.temporal}`],
        {
          env: goEnv({ GOBIN: ctx.binDir }),
          logFile: ctx.logFile,
          what: `building temporal ${TOOL_VERSIONS.temporal}`,
          print: ctx.print,
        },
      );
    },
  },
  {
    // The Temporal server itself (go.temporal.io/server's `cmd/server`), the same 1.29.1 the CLI
    // embeds. `temporal server start-dev` has no TLS options; this binary reads a config file with
    // `global.tls` (mTLS on the frontend) and `global.authorization` (JWT bearer tokens, as API
    // keys are sent), so test/integration/temporal-tls.test.ts runs it on free ports. It is not part
    // of the running stack. It shares Go's module and build caches with the CLI build above.
    name: 'temporal-server',
    version: TOOL_VERSIONS.temporalServer,
    binaries: ['temporal-server'],
    prerequisites: ['go'],
    estimate: 'about 5 to 10 minutes on 2 cores',
    async install(ctx) {
      const src = join(ctx.dir, 'src');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'go.mod'), 'module localbuild/temporal-server\n\ngo 1.25\n');
      const what = `building temporal-server ${TOOL_VERSIONS.temporalServer}`;
      const opts = { cwd: src, env: goEnv(), logFile: ctx.logFile, what, print: ctx.print };
      const pkg = 'go.temporal.io/server/cmd/server';
      await runLogged('go', ['get', `${pkg}@v${TOOL_VERSIONS.temporalServer}`], opts);
      await runLogged('go', ['build', '-o', join(ctx.binDir, 'temporal-server'), pkg], opts);
    },
  },
  {
    name: 'etcd',
    version: TOOL_VERSIONS.etcd,
    binaries: ['etcd'],
    prerequisites: ['go'],
    estimate: 'about 1 minute',
    onPath: {
      binary: 'etcd',
      args: ['--version'],
      fits: (out) => out.includes(`etcd Version: ${TOOL_VERSIONS.etcd}`),
    },
    async install(ctx) {
      const src = join(ctx.dir, 'src');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'go.mod'), 'module localbuild/etcd\n\ngo 1.25\n');
      const what = `building etcd ${TOOL_VERSIONS.etcd}`;
      const opts = { cwd: src, env: goEnv(), logFile: ctx.logFile, what, print: ctx.print };
      await runLogged('go', ['get', `go.etcd.io/etcd/server/v3@v${TOOL_VERSIONS.etcd}`], opts);
      await runLogged('go', ['build', '-o', join(ctx.binDir, 'etcd'), 'go.etcd.io/etcd/server/v3'], opts);
    },
  },
  {
    name: 'kubernetes',
    version: TOOL_VERSIONS.kubernetes,
    binaries: ['kube-apiserver', 'kubectl'],
    prerequisites: ['go'],
    estimate: 'about 7 minutes on 2 cores',
    install: (ctx) =>
      buildKubernetes(ctx, {
        version: TOOL_VERSIONS.kubernetes,
        commands: ['kube-apiserver', 'kubectl'],
        go: '1.25',
      }),
  },
  {
    // The schedulers and controllers beside the management API server (Pods on a kwok node). A
    // tool of its own, so that adding it left the kube-apiserver cache above as it was; it builds
    // from the same wrapper module and shares Go's module and build caches with it.
    name: 'kubernetes-controllers',
    version: TOOL_VERSIONS.kubernetes,
    binaries: ['kube-scheduler', 'kube-controller-manager'],
    prerequisites: ['go'],
    estimate: 'about 3 minutes after kube-apiserver, 15 on a cold Go cache on 2 cores',
    install: (ctx) =>
      buildKubernetes(ctx, {
        version: TOOL_VERSIONS.kubernetes,
        commands: ['kube-scheduler', 'kube-controller-manager'],
        go: '1.25',
      }),
  },
  {
    // Tool `kubernetes-1.29`: the older kube-apiserver of the `source-v129` cluster, named
    // `kube-apiserver-1.29` so it sits beside the 1.34 one. Its wrapper keeps 1.29's own `go 1.21`
    // line: see docs/local-stack.md.
    name: kubernetesBinary('kubernetes', TOOL_VERSIONS.kubernetesSource),
    version: TOOL_VERSIONS.kubernetesSource,
    binaries: [kubernetesBinary('kube-apiserver', TOOL_VERSIONS.kubernetesSource)],
    prerequisites: ['go'],
    estimate: 'about 15 minutes on 2 cores (its dependencies differ from 1.34, so Go caches barely help)',
    install: (ctx) =>
      buildKubernetes(ctx, {
        version: TOOL_VERSIONS.kubernetesSource,
        commands: ['kube-apiserver'],
        go: '1.21',
        versionedNames: true,
      }),
  },
  {
    name: 'kwok',
    version: TOOL_VERSIONS.kwok,
    binaries: ['kwok'],
    prerequisites: ['go'],
    minGo: '1.26',
    estimate: 'about 2 minutes',
    async install(ctx) {
      await runLogged('go', ['install', `sigs.k8s.io/kwok/cmd/kwok@v${TOOL_VERSIONS.kwok}`], {
        env: goEnv({ GOBIN: ctx.binDir }),
        logFile: ctx.logFile,
        what: `building kwok ${TOOL_VERSIONS.kwok}`,
        print: ctx.print,
      });
    },
  },
  {
    name: 'minio',
    version: TOOL_VERSIONS.minio,
    binaries: ['minio'],
    prerequisites: ['go'],
    estimate: 'about 4 minutes',
    async install(ctx) {
      await runLogged('go', ['install', `github.com/minio/minio@${TOOL_VERSIONS.minio}`], {
        env: goEnv({ GOBIN: ctx.binDir }),
        logFile: ctx.logFile,
        what: 'building minio',
        print: ctx.print,
      });
    },
  },
  {
    name: 'prometheus',
    version: TOOL_VERSIONS.prometheus,
    binaries: ['prometheus'],
    prerequisites: ['go'],
    minGo: '1.26.7',
    estimate: 'about 10 to 16 minutes on 2 cores',
    onPath: {
      binary: 'prometheus',
      args: ['--version'],
      fits: (out) => out.includes(`prometheus, version ${TOOL_VERSIONS.prometheus} `),
    },
    async install(ctx) {
      // Prometheus 3.x is tagged v0.3MM.P on the module proxy (3.16.0 is v0.316.0). Built without
      // the `builtinassets` tag: the web UI is not embedded (its pages fail), /api/v1/*, /-/ready
      // and /-/healthy work. -trimpath keeps the binary free of this machine's paths.
      const [major, minor, patch] = TOOL_VERSIONS.prometheus.split('.');
      const moduleVersion = `v0.${Number(major) * 100 + Number(minor)}.${patch}`;
      await runLogged(
        'go',
        [
          'install',
          '-trimpath',
          '-ldflags',
          `-X github.com/prometheus/common/version.Version=${TOOL_VERSIONS.prometheus}`,
          `github.com/prometheus/prometheus/cmd/prometheus@${moduleVersion}`,
        ],
        {
          env: goEnv({ GOBIN: ctx.binDir }),
          logFile: ctx.logFile,
          what: `building prometheus ${TOOL_VERSIONS.prometheus}`,
          print: ctx.print,
        },
      );
    },
  },
  {
    name: 'zookeeper',
    version: TOOL_VERSIONS.zookeeper,
    revision: 3,
    binaries: ['zookeeper-server'],
    prerequisites: ['java', 'mvn'],
    estimate: 'under a minute',
    async install(ctx) {
      const v = TOOL_VERSIONS.zookeeper;
      const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>localbuild</groupId><artifactId>zookeeper-server</artifactId><version>${v}</version>
  <dependencies>
    <dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId><version>${v}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>2.0.13</version></dependency>
    <!-- provided-scope in ZooKeeper's pom, yet the server needs them at run time (metrics, snapshots) -->
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId><version>4.1.12.1</version></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId><version>1.1.10.5</version></dependency>
  </dependencies>
</project>
`;
      writeFileSync(join(ctx.dir, 'pom.xml'), pom);
      const lib = join(ctx.dir, 'lib');
      await runLogged(
        'mvn',
        [
          '-B',
          '-q',
          '-f',
          join(ctx.dir, 'pom.xml'),
          'dependency:copy-dependencies',
          `-DoutputDirectory=${lib}`,
          '-DincludeScope=runtime',
        ],
        { logFile: ctx.logFile, what: `fetching zookeeper ${v} from Maven Central`, print: ctx.print },
      );
      const launcher = join(ctx.binDir, 'zookeeper-server');
      writeFileSync(
        launcher,
        `#!/bin/sh\n# ZooKeeper ${v} standalone server: zookeeper-server <zoo.cfg>\n` +
          `exec java \${ZK_JAVA_OPTS:--Xmx256m} -cp '${lib}/*' org.apache.zookeeper.server.ZooKeeperServerMain "$@"\n`,
      );
      chmodSync(launcher, 0o755);
    },
  },
];

/** The names of the tools the installer knows. */
export type ToolName = (typeof TOOLS)[number]['name'];

/** Absolute paths of every executable the stack uses, by binary name. */
export type ToolPaths = Record<string, string>;

function link(target: string, name: string): void {
  mkdirSync(toolsBinDir, { recursive: true });
  const path = join(toolsBinDir, name);
  try {
    lstatSync(path);
    rmSync(path);
  } catch {
    // no old link
  }
  symlinkSync(target, path);
}

/**
 * Makes sure every tool is installed, building what is missing, and returns the path of each
 * executable. Concurrent callers on one machine wait for each other through a lock per tool.
 */
export async function ensureTools(
  print: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ToolPaths> {
  const paths: ToolPaths = {};
  for (const tool of TOOLS) {
    if (tool.onPath) {
      const found = which(tool.onPath.binary);
      const out =
        found && !found.startsWith(toolsBinDir) ? captureOutput(found, tool.onPath.args) : undefined;
      if (found && out && tool.onPath.fits(out)) {
        paths[tool.onPath.binary] = found;
        continue;
      }
    }
    const key = `${tool.name}-${tool.version}${tool.revision ? `-r${tool.revision}` : ''}`;
    const dir = join(toolCacheDir, key);
    const binDir = join(dir, 'bin');
    const done = join(dir, '.installed');
    if (!existsSync(done)) {
      await withLockDir(join(toolCacheDir, `${key}.lock`), async () => {
        if (existsSync(done)) return;
        for (const p of tool.prerequisites) {
          if (!which(p)) {
            throw new StackError(
              `missing prerequisite '${p}', needed to install ${tool.name} ${tool.version}: install it (see README, Prerequisites) or put it on PATH`,
            );
          }
        }
        const go = tool.minGo ? localGoVersion() : undefined;
        if (tool.minGo && !(go && versionAtLeast(go, tool.minGo))) {
          throw new StackError(
            `${tool.name} ${tool.version} needs Go ${tool.minGo} or later, and this machine has ${go ? `Go ${go}` : 'no working go'}: install a newer Go (see README, Prerequisites)`,
          );
        }
        mkdirSync(binDir, { recursive: true });
        const logFile = join(dir, 'install.log');
        const started = Date.now();
        print(
          `tools: installing ${tool.name} ${tool.version} (first time only, ${tool.estimate}); log: ${logFile}`,
        );
        await tool.install({ dir, binDir, logFile, print });
        for (const b of tool.binaries) {
          if (!existsSync(join(binDir, b)))
            throw new StackError(`${tool.name} install produced no ${b}`, logFile);
        }
        writeFileSync(done, `${new Date().toISOString()}\n`);
        print(`tools: ${tool.name} ${tool.version} ready in ${formatDuration(Date.now() - started)}`);
      });
    }
    for (const b of tool.binaries) {
      paths[b] = join(binDir, b);
      link(paths[b], b);
    }
  }
  // kubectl: the one from the kubernetes build is always there; openssl comes from the system.
  const openssl = which('openssl');
  if (!openssl) throw new StackError(`missing prerequisite 'openssl', needed for the stack's certificates`);
  paths.openssl = openssl;
  const java = which('java');
  if (!java) throw new StackError(`missing prerequisite 'java', needed to run ZooKeeper`);
  return paths;
}
