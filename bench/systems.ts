// Start a cluster of either system with the timing of SPEC section 10, and wait until it is
// ready (one leader answering /primary, every other node answering /replica).
import { waitFor } from '../test/harness/index.js';
import { startAgentCluster, type AgentCluster, type AgentNode, type ClusterOptions } from '../test/support/agent-cluster.js';
import { startPatroniCluster } from './patroni.js';
import type { SystemName } from './scenario.js';

/** SPEC section 10: "3 nodes on loopback, ttl 10, loop_wait 2, retry_timeout 4"; both systems log at info. */
export const BENCH_CLUSTER: ClusterOptions = { nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, scope: 'bench', logLevel: 'info' };

export async function startSystemCluster(system: SystemName, opts: ClusterOptions = BENCH_CLUSTER): Promise<AgentCluster> {
  switch (system) {
    case 'pg-ha-agent': return startAgentCluster(opts);
    case 'patroni': return startPatroniCluster(opts);
    default: {
      const never: never = system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

/** The leader, once it answers /primary 200 and every other node answers /replica 200. */
export async function waitClusterReady(cluster: AgentCluster, timeoutMs = 180_000): Promise<AgentNode> {
  const leader = await cluster.waitForLeader(timeoutMs);
  await waitFor('every other node answering /replica 200', async () => {
    const codes = await Promise.all(cluster.others(leader).map((n) => n.health('/replica')));
    return codes.every((c) => c === 200) ? true : null;
  }, { timeoutMs, intervalMs: 250 });
  return leader;
}
