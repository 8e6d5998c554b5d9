// The fault suite's cluster: a 3-member etcd, 3 agents each with its own PostgreSQL 15, and a TCP
// proxy on every link a fault may cut: per (agent, etcd member), and in front of every node's
// PostgreSQL and REST API (used as that node's connect_address, so replicas stream and peers probe
// through it). The workload and the checker connect directly, never through a proxy.
import { readFileSync, readdirSync } from 'node:fs';
import type pg from 'pg';
import {
  childPids, etcdctl, startEtcd, waitFor, type EtcdCluster, type TrackedProcess,
} from '../harness/index.js';
import {
  AgentCluster, prepareNode, type AgentNode, type ClusterOptions,
} from '../support/agent-cluster.js';
import { TcpProxy } from './proxy.js';

export const CHAOS_TTL = 10;
export const CHAOS_LOOP_WAIT = 2;
export const CHAOS_RETRY_TIMEOUT = 4;
export const CHAOS_SCOPE = 'chaos';

export interface NodeLinks {
  /** This agent's proxies to etcd member i (its etcd3.hosts, in member order). */
  readonly etcd: TcpProxy[];
  /** In front of this node's PostgreSQL: its postgresql.connect_address. */
  readonly pg: TcpProxy;
  /** In front of this node's REST API: its restapi.connect_address. */
  readonly api: TcpProxy;
}

/** An agent exit the suite did not cause. */
export interface AgentExit {
  readonly node: string;
  readonly code: number | null;
  readonly signal: string | null;
  readonly atMs: number;
}

export class ChaosCluster {
  /** Agent processes the suite itself signalled to death (so their exit is expected). */
  private readonly expectedExits = new Set<TrackedProcess>();
  private readonly seenExits = new Set<TrackedProcess>();

  constructor(
    readonly etcd: EtcdCluster,
    readonly agents: AgentCluster,
    readonly links: ReadonlyMap<string, NodeLinks>,
    readonly extraProxies: TcpProxy[],
  ) {}

  get nodes(): AgentNode[] {
    return this.agents.nodes;
  }

  linksOf(node: AgentNode): NodeLinks {
    const l = this.links.get(node.name);
    if (!l) throw new Error(`no proxies for ${node.name}`);
    return l;
  }

  /** The node answering /primary 200, once exactly one does. */
  async leader(timeoutMs = 60_000): Promise<AgentNode> {
    return this.agents.waitForLeader(timeoutMs);
  }

  /** Marks the current agent process of `node` as one the suite is about to kill. */
  expectExit(node: AgentNode): void {
    if (node.agent) this.expectedExits.add(node.agent);
  }

  /** Agent processes that exited since the last call without the suite asking for it. */
  unexpectedExits(): AgentExit[] {
    const out: AgentExit[] = [];
    for (const n of this.nodes) {
      const a = n.agent;
      const info = a?.exitInfo();
      if (!a || !info || this.seenExits.has(a)) continue;
      this.seenExits.add(a);
      if (this.expectedExits.has(a)) continue;
      out.push({ node: n.name, code: info.code, signal: info.signal, atMs: performance.now() });
    }
    return out;
  }

  /** Starts the agent of every node whose agent is not running (what systemd would do). */
  restartDeadAgents(): string[] {
    const restarted: string[] = [];
    for (const n of this.nodes) {
      if (n.agentRunning()) continue;
      n.start();
      restarted.push(n.name);
    }
    return restarted;
  }

  /** The fence guard of `node`'s agent: a child of the agent whose cmdline names fence-guard and the data dir. */
  guardPid(node: AgentNode): number | null {
    const agentPid = node.agent?.pid;
    if (agentPid === undefined) return null;
    for (const pid of childPids(agentPid)) {
      const cmd = readCmdline(pid);
      if (cmd.includes('fence-guard') && cmd.includes(node.dataDir)) return pid;
    }
    return null;
  }

  /** Any process (not only a child) whose cmdline names fence-guard and this data dir. */
  anyGuardPids(node: AgentNode): number[] {
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmd = readCmdline(Number(entry));
      if (cmd.includes('fence-guard') && cmd.includes(node.dataDir)) out.push(Number(entry));
    }
    return out;
  }

  /** The etcd member whose proxy (from `node`'s agent) carried traffic last, with an open connection. */
  etcdMemberInUse(node: AgentNode): number {
    const proxies = this.linksOf(node).etcd;
    let best = -1;
    let bestAt = -1;
    proxies.forEach((p, i) => {
      if (p.openConnections() > 0 && p.lastTrafficAt() > bestAt) {
        best = i;
        bestAt = p.lastTrafficAt();
      }
    });
    if (best < 0) throw new Error(`${node.name}'s agent has no open etcd connection`);
    return best;
  }

  /** `etcdctl get` of the leader key, raw JSON (int64 lease ids must not go through JSON.parse). */
  async leaderKeyLease(): Promise<string | null> {
    const out = await etcdctl(this.etcd, ['get', leaderKey(), '-w', 'json']);
    const m = /"lease":(\d+)/.exec(out);
    return m?.[1] ? BigInt(m[1]).toString(16) : null;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.agent?.stop().catch(() => undefined);
    for (const l of this.links.values()) for (const p of [...l.etcd, l.pg, l.api]) await p.close();
    for (const p of this.extraProxies) await p.close();
    await this.etcd.close();
  }
}

export function leaderKey(): string {
  return `/service/${CHAOS_SCOPE}/leader`;
}

export function memberKey(name: string): string {
  return `/service/${CHAOS_SCOPE}/members/${name}`;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Proxies for one node (PG and REST targets are filled in once prepareNode knows the ports). */
async function nodeLinks(etcd: EtcdCluster, name: string, pgPort: number, apiPort: number): Promise<NodeLinks> {
  const toEtcd = await Promise.all(etcd.members.map((m) => TcpProxy.start(`${name}->${m.name}`, m.clientPort)));
  return { etcd: toEtcd, pg: await TcpProxy.start(`${name}-pg`, pgPort), api: await TcpProxy.start(`${name}-api`, apiPort) };
}

/** Points a config's etcd3.hosts and connect_addresses at the node's proxies. */
export function routeThroughProxies(config: Record<string, unknown>, links: NodeLinks): void {
  (config['etcd3'] as Record<string, unknown>)['hosts'] = links.etcd.map((p) => p.address).join(',');
  (config['postgresql'] as Record<string, unknown>)['connect_address'] = links.pg.address;
  (config['restapi'] as Record<string, unknown>)['connect_address'] = links.api.address;
}

export async function startChaosCluster(extra: Partial<ClusterOptions> = {}): Promise<ChaosCluster> {
  const etcd = await startEtcd({ members: 3 });
  const links = new Map<string, NodeLinks>();
  const opts: ClusterOptions = {
    ttl: CHAOS_TTL, loopWait: CHAOS_LOOP_WAIT, retryTimeout: CHAOS_RETRY_TIMEOUT, logLevel: 'info', ...extra,
    configure: async (config, ports) => {
      const l = await nodeLinks(etcd, ports.name, ports.pgPort, ports.apiPort);
      links.set(ports.name, l);
      routeThroughProxies(config, l);
    },
  };
  const nodes: AgentNode[] = [];
  for (let i = 1; i <= 3; i++) nodes.push(await prepareNode({ name: `node${i}`, etcd, scope: CHAOS_SCOPE }, opts));
  const agents = new AgentCluster(etcd, nodes, CHAOS_SCOPE);
  const cluster = new ChaosCluster(etcd, agents, links, []);
  for (const n of nodes) n.start();
  return cluster;
}

/** Healthy: exactly one node answers /primary 200 and every other one is a streaming replica per /patroni. */
export async function isHealthy(c: ChaosCluster): Promise<boolean> {
  const primaries = await Promise.all(c.nodes.map((n) => n.health('/primary')));
  const leaders = c.nodes.filter((_, i) => primaries[i] === 200);
  if (leaders.length !== 1) return false;
  const st = await Promise.all(c.nodes.filter((n) => n !== leaders[0]).map((n) => n.status()));
  return st.every((s) => s?.role === 'replica' && s.replication_state === 'streaming');
}

/** Waits for isHealthy; returns the ms it took, or null at the deadline. */
export async function waitHealthy(c: ChaosCluster, timeoutMs: number): Promise<number | null> {
  const t0 = performance.now();
  try {
    await waitFor('cluster healthy', async () => (await isHealthy(c)) || null, { timeoutMs, intervalMs: 200 });
    return performance.now() - t0;
  } catch {
    return null;
  }
}

/** Whether PostgreSQL on `n` accepts writes now (a new connection, directly, not through its proxies). */
export async function acceptsWrites(n: AgentNode): Promise<boolean> {
  try {
    const rows = await n.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
    return rows[0]?.r === false;
  } catch {
    return false;
  }
}

/**
 * A healthy cluster's leader, the other nodes, and a session on the leader opened before a fault,
 * with `table` created for commitsInto: a client the fault does not separate from the old primary.
 */
export async function leaderSession(c: ChaosCluster, table: string): Promise<{ leader: AgentNode; others: AgentNode[]; session: pg.Client }> {
  if ((await waitHealthy(c, 180_000)) === null) throw new Error('the cluster is not healthy before the fault');
  const leader = await c.leader();
  await leader.query(`CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())`);
  const session = leader.client();
  session.on('error', () => undefined);
  await session.connect();
  return { leader, others: c.nodes.filter((n) => n !== leader), session };
}

/** Whether a session opened before a fault still commits a write into `table` (a bigserial id and defaults). */
export async function commitsInto(session: pg.Client, table: string): Promise<boolean> {
  try {
    await session.query(`INSERT INTO ${table} DEFAULT VALUES`);
    return true;
  } catch {
    return false;
  }
}

export interface Handover {
  /** ms after the start until the old primary stopped accepting writes, and until another node did. */
  leaderStoppedMs: number | null;
  promotedMs: number | null;
  /** How long both accepted writes (0: never). */
  overlapMs: number;
}

/**
 * Polls until the old primary stopped accepting writes and another node accepts them; with
 * `fencedOnly`, until the old primary stopped (it may win the next race itself, once restarted).
 */
export async function watchHandover(oldWrites: () => Promise<boolean>, others: readonly AgentNode[], h: Handover, fencedOnly = false): Promise<void> {
  const t0 = performance.now();
  await waitFor(fencedOnly ? 'the former leader fenced' : 'the former leader fenced and a replica promoted', async () => {
    const [old, ...rest] = await Promise.all([h.leaderStoppedMs === null ? oldWrites() : false, ...others.map(acceptsWrites)]);
    const now = performance.now() - t0;
    const promoted = rest.some(Boolean);
    if (!old && h.leaderStoppedMs === null) h.leaderStoppedMs = now;
    if (promoted && h.promotedMs === null) h.promotedMs = now;
    if (old && promoted) h.overlapMs = now - (h.promotedMs ?? now);
    return h.leaderStoppedMs !== null && (fencedOnly || h.promotedMs !== null) ? true : null;
  }, { timeoutMs: 90_000, intervalMs: 100 });
}
