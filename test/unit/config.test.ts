import { loadConfig, ConfigError, DEFAULT_TASK_QUEUE } from '../../src/config.js';

describe('loadConfig', () => {
  it('uses defaults and leaves the Temporal address unset when nothing is configured', () => {
    const c = loadConfig([], {});
    expect(c.temporal).toEqual({ address: undefined, namespace: 'default', taskQueue: DEFAULT_TASK_QUEUE });
    expect(c.logLevel).toBe('info');
    expect(c.managementKubeconfig).toBeUndefined();
    expect(c.allowKubeconfigExec).toBe(false);
  });

  it.each([
    [[], {}, false],
    [[], { ALLOW_KUBECONFIG_EXEC: '' }, false],
    [[], { ALLOW_KUBECONFIG_EXEC: 'false' }, false],
    [[], { ALLOW_KUBECONFIG_EXEC: 'true' }, true],
    [['--allow-kubeconfig-exec'], {}, true],
    [['--allow-kubeconfig-exec'], { ALLOW_KUBECONFIG_EXEC: 'false' }, true],
  ])('allows kubeconfig exec only when asked: argv %j env %j -> %s', (argv, env, allowed) => {
    expect(loadConfig(argv as string[], env).allowKubeconfigExec).toBe(allowed);
  });

  it('reads the environment', () => {
    const c = loadConfig([], {
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'dr',
      TEMPORAL_TASK_QUEUE: 'q',
      MANAGEMENT_KUBECONFIG: '/k.yaml',
      LOG_LEVEL: 'debug',
    });
    expect(c.temporal).toEqual({ address: 'temporal:7233', namespace: 'dr', taskQueue: 'q' });
    expect(c.managementKubeconfig).toBe('/k.yaml');
    expect(c.logLevel).toBe('debug');
  });

  it('lets flags override the environment', () => {
    const c = loadConfig(['--temporal-address', 'a:1', '--task-queue', 'flagq', '--log-level', 'warn'], {
      TEMPORAL_ADDRESS: 'b:2',
      TEMPORAL_TASK_QUEUE: 'envq',
      LOG_LEVEL: 'debug',
    });
    expect(c.temporal.address).toBe('a:1');
    expect(c.temporal.taskQueue).toBe('flagq');
    expect(c.logLevel).toBe('warn');
  });

  it.each([
    [['--log-level', 'loud'], {}, /--log-level \/ LOG_LEVEL: 'loud'/],
    [[], { TEMPORAL_ADDRESS: 'no-port' }, /TEMPORAL_ADDRESS: 'no-port' is not HOST:PORT/],
    [['--bogus'], {}, /bogus/],
    [[], { ALLOW_KUBECONFIG_EXEC: 'yes' }, /ALLOW_KUBECONFIG_EXEC: 'yes' is not true or false/],
    [['--allow-kubeconfig-exec=false'], {}, /allow-kubeconfig-exec/],
  ])('rejects %j %j with an error naming the setting', (argv, env, message) => {
    expect(() => loadConfig(argv as string[], env)).toThrow(ConfigError);
    expect(() => loadConfig(argv as string[], env)).toThrow(message);
  });
});

describe('loadConfig: leader election', () => {
  it('is on by default, on a Lease named after the task queue, with client-go’s timing', () => {
    expect(loadConfig([], {}).leaderElection).toEqual({
      namespace: undefined,
      name: 'resiliency-orchestrator',
      timing: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 },
    });
    expect(loadConfig(['--task-queue', 'team-a'], { POD_NAMESPACE: 'ops' }).leaderElection).toMatchObject({
      namespace: 'ops',
      name: 'team-a',
    });
  });

  it('reads its flags and variables, flags first', () => {
    const c = loadConfig(['--leader-election-id', 'bridge', '--leader-election-lease-duration', '30s'], {
      LEADER_ELECTION_ID: 'ignored',
      LEADER_ELECTION_NAMESPACE: 'dr',
      LEADER_ELECTION_RENEW_DEADLINE: '20s',
      LEADER_ELECTION_RETRY_PERIOD: '4s',
      POD_NAMESPACE: 'not-this',
    });
    expect(c.leaderElection).toEqual({
      namespace: 'dr',
      name: 'bridge',
      timing: { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 4000 },
    });
    expect(loadConfig(['--leader-elect', 'false'], {}).leaderElection).toBeUndefined();
    expect(loadConfig([], { LEADER_ELECT: 'false' }).leaderElection).toBeUndefined();
  });

  it.each([
    [['--leader-elect', 'yes'], {}, "--leader-elect / LEADER_ELECT: 'yes' is not true or false"],
    [
      [],
      { TEMPORAL_TASK_QUEUE: 'My_Queue' },
      "--leader-election-id / LEADER_ELECTION_ID: 'My_Queue' (the task queue's name) is not a valid Lease name",
    ],
    [
      ['--leader-election-namespace', 'Bad_NS'],
      {},
      "--leader-election-namespace / LEADER_ELECTION_NAMESPACE: 'Bad_NS' is not a namespace name",
    ],
    [
      ['--leader-election-retry-period', 'soon'],
      {},
      "--leader-election-retry-period / LEADER_ELECTION_RETRY_PERIOD: 'soon' is not a duration such as 15s",
    ],
    [
      ['--leader-election-lease-duration', '5s'],
      {},
      '--leader-election-lease-duration (5s) must be greater than --leader-election-renew-deadline (10s)',
    ],
  ])('refuses %j %j with a line naming the flag', (argv, env, message) => {
    expect(() => loadConfig(argv as string[], env)).toThrow(ConfigError);
    expect(() => loadConfig(argv as string[], env)).toThrow(message);
  });
});

describe('loadConfig: replication checkpoint', () => {
  it.each([
    [[], {}, true],
    [['--replication-checkpoint', 'false'], {}, false],
    [[], { REPLICATION_CHECKPOINT: 'false' }, false],
    [['--replication-checkpoint', 'true'], { REPLICATION_CHECKPOINT: 'false' }, true],
  ])('%j %j → %s', (argv, env, on) =>
    expect(loadConfig(argv as string[], env).replicationCheckpoint).toBe(on),
  );

  it('refuses a value that is not true or false, naming the flag', () => {
    expect(() => loadConfig(['--replication-checkpoint', 'off'], {})).toThrow(
      "--replication-checkpoint / REPLICATION_CHECKPOINT: 'off' is not true or false",
    );
  });
});
