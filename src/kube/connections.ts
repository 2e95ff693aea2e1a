/**
 * KubeConfigs whose HTTPS connections are kept alive and reused.
 *
 * @kubernetes/client-node 1.x builds a new `https.Agent` for every request (`createAgent` in its
 * config.js), so every call opens a new connection and pays a TLS handshake with client-
 * certificate authentication, on our side and on the API server's. Under a watch-driven write
 * load that is most of the CPU and of the latency (see docs/benchmarks.md). This keeps one
 * keep-alive agent per API server and credentials, shared by every KubeConfig of this process:
 * the asset checks load a cluster's kubeconfig again every 30 s, and each load must not leave a
 * pool of idle sockets behind.
 */
import { createHash } from 'node:crypto';
import type { Agent } from 'node:http';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';

type AgentFactory = (cluster: Cluster | null, options: Record<string, unknown>) => Agent;

/** The agent options that make two connections interchangeable (server identity and credentials). */
const IDENTITY = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'];

/** Agents by server and credentials; the oldest is closed beyond {@link MAX_AGENTS}. */
const agents = new Map<string, Agent>();
const MAX_AGENTS = 256;

function agentKey(cluster: Cluster | null, options: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(cluster?.server ?? '');
  hash.update(cluster?.proxyUrl ?? '');
  for (const k of IDENTITY) hash.update(`\0${k}=${String(options[k] ?? '')}`);
  return hash.digest('hex');
}

/**
 * Makes `kc` reuse one keep-alive agent per API server and credentials; returns `kc`. The agent
 * keeps Node's default of no socket limit: every watch holds a connection for as long as it runs,
 * and a limit would queue writes behind watches once a server has that many.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createAgent: AgentFactory; __pooled?: boolean };
  if (target.__pooled) return kc;
  const create = target.createAgent.bind(kc);
  target.createAgent = (cluster, options) => {
    const key = agentKey(cluster, options);
    let agent = agents.get(key);
    if (!agent) {
      agent = create(cluster, { ...options, keepAlive: true });
      agents.set(key, agent);
      if (agents.size > MAX_AGENTS) {
        const [oldestKey, oldest] = agents.entries().next().value as [string, Agent];
        agents.delete(oldestKey);
        oldest.destroy();
      }
    }
    return agent;
  };
  target.__pooled = true;
  return kc;
}

/** How many pooled agents this process holds (for tests). */
export function pooledAgentCount(): number {
  return agents.size;
}
