// Patroni (Debian's 3.0.2, etcd3 backend) nodes for side-by-side benchmarks. A Patroni node is
// prepared from the same config template as the agent's nodes (test/support/agent-cluster.ts
// prepareNode: same keys, ports, paths and timing) and started by /usr/bin/patroni as postgres.
import { accessSync, constants } from 'node:fs';
import { spawnTracked, startEtcd, type TrackedProcess } from '../test/harness/index.js';
import {
  AgentCluster, AgentNode, prepareNode, type ClusterOptions, type NodeSpec,
} from '../test/support/agent-cluster.js';

export const PATRONI_BIN = '/usr/bin/patroni';

export function patroniInstalled(): boolean {
  try {
    accessSync(PATRONI_BIN, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A node run by Patroni instead of the agent; everything else (ports, paths, checks) is shared. */
export class PatroniNode extends AgentNode {
  override start(): TrackedProcess {
    this.agent = spawnTracked([PATRONI_BIN, this.configPath], {
      name: `patroni-${this.name}`, user: 'postgres', stopTimeoutMs: 60_000,
    });
    return this.agent;
  }
}

export async function preparePatroniNode(spec: NodeSpec, opts: ClusterOptions = {}): Promise<PatroniNode> {
  // Python's logging knows only upper-case level names.
  const n = await prepareNode(spec, { ...opts, logLevel: (opts.logLevel ?? 'info').toUpperCase() });
  return new PatroniNode(n.name, n.dataDir, n.baseDir, n.configPath, n.pgPort, n.apiPort);
}

/** etcd and `nodes` Patroni nodes, started (as startAgentCluster does for agents). */
export async function startPatroniCluster(opts: ClusterOptions = {}): Promise<AgentCluster> {
  const scope = opts.scope ?? 'bench';
  const etcd = await startEtcd({ members: opts.etcdMembers ?? 1 });
  const nodes: AgentNode[] = [];
  for (let i = 1; i <= (opts.nodes ?? 3); i++) nodes.push(await preparePatroniNode({ name: `node${i}`, etcd, scope }, opts));
  for (const n of nodes) n.start();
  return new AgentCluster(etcd, nodes, scope);
}
