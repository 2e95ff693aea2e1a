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
