import type { Agent } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { pooledAgentCount, reuseConnections } from '../../src/clients/kube.js';

const kubeconfig = (server: string, user: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server } }],
    users: [{ name: 'u', user: { token: user } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });

function agentOf(kc: KubeConfig, options: Record<string, unknown> = {}): Agent {
  const createAgent = (kc as unknown as { createAgent: (c: unknown, o: unknown) => Agent }).createAgent;
  return createAgent(kc.getCurrentCluster(), options);
}

function load(server: string, user = 't'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig(server, user));
  return reuseConnections(kc);
}

describe('reuseConnections', () => {
  it('gives every request to one API server the same keep-alive agent, across KubeConfig loads', () => {
    const first = agentOf(load('https://127.0.0.1:6443'));
    const again = agentOf(load('https://127.0.0.1:6443'));
    expect(again).toBe(first);
    expect((first as unknown as { keepAlive: boolean }).keepAlive).toBe(true);
  });

  it('keeps servers and client certificates apart', () => {
    const before = pooledAgentCount();
    const a = agentOf(load('https://127.0.0.1:7443'), { cert: 'A', key: 'a' });
    const b = agentOf(load('https://127.0.0.1:7443'), { cert: 'B', key: 'b' });
    const c = agentOf(load('https://127.0.0.1:8443'), { cert: 'A', key: 'a' });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(pooledAgentCount()).toBe(before + 3);
  });
});
