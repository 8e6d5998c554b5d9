// One round: a healthy cluster, the workload running, one fault (inject, hold, heal), then the
// checker's verdict. ChaosRunner keeps one cluster across rounds while it is healthy and
// rebuilds it when it is not.
import { signalPid, sleep, waitFor } from '../harness/index.js';
import type { AgentNode } from '../support/agent-cluster.js';
import {
  ackOverlaps, failoverMs, longestGap, lostWrites, recoveryOverlaps, type Ack, type Overlap,
} from './checker.js';
import { isHealthy, startChaosCluster, waitHealthy, type AgentExit, type ChaosCluster } from './cluster.js';
import type { Fault, FaultContext } from './faults.js';
import { Workload, createWritesTable, readIds } from './workload.js';

/** "Healthy after" must hold within this long after the fault's end. */
export const HEALTHY_WITHIN_MS = 30_000;
const BASELINE_ACKS = 10;
/** The workload runs at least this long after a fault began: ttl + loop_wait + 3 s. */
export const OBSERVE_MS = 15_000;

export interface RoundResult {
  readonly fault: string;
  readonly round: number;
  readonly rebuilt: boolean;
  readonly leaderBefore: string;
  readonly leaderAfter: string | null;
  readonly primaryChanged: boolean | null;
  /** Two nodes acknowledged writes in overlapping spans (see checker.ts). */
  readonly splitBrainAcks: Overlap[];
  /** Two nodes seen out of recovery at once. */
  readonly splitBrainMonitor: Overlap[];
  readonly acked: number;
  /** Acknowledged ids missing from the final primary; null when there was no primary to ask. */
  readonly lostWrites: number[] | null;
  /** Fault -> first write acknowledged by a new primary (ms); null when the primary did not change. */
  readonly failoverMs: number | null;
  readonly longestGapMs: number;
  /** The longest gap began this long after the fault... */
  readonly gapStartAfterFaultMs: number;
  /** ...and ended this long after the fault's end (negative: before it). */
  readonly gapEndAfterHealMs: number;
  readonly faultDurationMs: number;
  /** ms from the fault's end to healthy, null if not within HEALTHY_WITHIN_MS. */
  readonly healthyAfterMs: number | null;
  readonly agentCrashes: AgentExit[];
  readonly notes: string[];
  readonly error: string | null;
  /** Per node: acks in the round and the first/last one relative to the fault (ms). */
  readonly acksByNode: Record<string, { count: number; firstMs: number; lastMs: number }>;
  /** Per node at the end of the round: /primary code, /patroni role/state/replication_state, agent running. */
  readonly finalState: Record<string, NodeState>;
}

export interface NodeState {
  readonly primary: number | null;
  readonly role: string | null;
  readonly state: string | null;
  readonly replication: string | null;
  readonly agentRunning: boolean;
}

const r0 = (ms: number): number => Math.round(ms);

export class ChaosRunner {
  private cluster: ChaosCluster | null = null;
  private nextId = 1;
  private lastUnhealthy = false;
  readonly log: (msg: string) => void;

  constructor(log: (msg: string) => void = (m) => process.stderr.write(`chaos: ${m}\n`)) {
    this.log = log;
  }

  /** The cluster, reused when healthy (after restarting dead agents), else rebuilt. Returns whether it was rebuilt. */
  private async ensureCluster(): Promise<boolean> {
    if (this.cluster && this.lastUnhealthy) {
      // What broke the last round (a replica stuck on rejoin, a halted agent) must not be blamed on this one.
      this.log('the last round ended unhealthy: rebuilding the cluster');
      await this.teardown();
    }
    if (this.cluster) {
      const restarted = this.cluster.restartDeadAgents();
      if (restarted.length > 0) this.log(`restarted agents ${restarted.join(', ')}`);
      this.cluster.unexpectedExits();
      if ((await waitHealthy(this.cluster, 60_000)) !== null) return false;
      this.log('cluster not healthy after 60 s: rebuilding it');
      await this.teardown();
    }
    this.log('starting a 3-node cluster on a 3-member etcd');
    const c = await startChaosCluster();
    this.cluster = c;
    const leader = await c.leader(180_000);
    await c.agents.waitForStreaming(c.agents.others(leader).map((n) => n.name), 180_000);
    await createWritesTable(leader);
    return true;
  }

  async round(fault: Fault, round = 1): Promise<RoundResult> {
    const rebuilt = await this.ensureCluster();
    const c = this.cluster as ChaosCluster;
    const leader = await c.leader();
    const fromId = this.nextId;
    const w = new Workload(c.nodes, fromId);
    const notes: string[] = [];
    let faultMs = Number.NaN;
    let healMs = Number.NaN;
    let error: string | null = null;
    const ctx: FaultContext = {
      c, leader,
      faultAt: () => { faultMs = performance.now(); },
      healedAt: () => { healMs = performance.now(); },
      note: (m) => notes.push(m),
    };
    w.start();
    try {
      await waitFor('baseline writes on the leader', () => w.acks.filter((a) => a.node === leader.name).length >= BASELINE_ACKS, { timeoutMs: 20_000 });
      this.log(`${fault.name} round ${round}: leader ${leader.name}`);
      await fault.run(ctx);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      this.log(`${fault.name} round ${round}: fault failed: ${error}`);
    }
    if (Number.isNaN(faultMs)) faultMs = performance.now();
    if (Number.isNaN(healMs)) healMs = performance.now();
    const healthyAfterMs = await this.settle(c, faultMs, healMs);
    // Not healthy still has a primary when exactly one node answers /primary 200 (a replica not streaming).
    const leaderAfter = await c.leader(healthyAfterMs === null ? 2000 : 5000).catch(() => null);
    if (leaderAfter) {
      // A few writes on the final primary, so a failover's first write is recorded.
      await waitFor('writes on the final primary', () => w.acks.some((a) => a.node === leaderAfter.name && a.atMs > healMs), { timeoutMs: 10_000 })
        .catch(() => notes.push(`no write acknowledged by ${leaderAfter.name} within 10 s of healthy`));
    }
    const endMs = performance.now();
    await w.stop();
    this.nextId = w.idCursor;
    const result = await this.verdict({ fault, round, rebuilt, leader, leaderAfter, acks: w.acks, w, fromId, faultMs, healMs, endMs, healthyAfterMs, notes, error });
    c.restartDeadAgents();
    this.lastUnhealthy = result.healthyAfterMs === null;
    return result;
  }

  /**
   * Waits for healthy within HEALTHY_WITHIN_MS of the fault's end, keeps the workload running until
   * at least OBSERVE_MS after the fault (a deleted key or revoked lease may cause a promotion
   * seconds later), and checks health again then. Returns ms from the fault's end to the health
   * that held at the end of the window, or null.
   */
  private async settle(c: ChaosCluster, faultMs: number, healMs: number): Promise<number | null> {
    const left = (): number => Math.max(2000, healMs + HEALTHY_WITHIN_MS - performance.now());
    if ((await waitHealthy(c, left())) === null) return null;
    const firstMs = performance.now() - healMs;
    const until = Math.max(faultMs + OBSERVE_MS, healMs + 3000);
    if (performance.now() >= until) return firstMs;
    await sleep(until - performance.now());
    if (await isHealthy(c)) return firstMs;
    return (await waitHealthy(c, left())) === null ? null : performance.now() - healMs;
  }

  private async verdict(r: {
    fault: Fault; round: number; rebuilt: boolean; leader: AgentNode; leaderAfter: AgentNode | null; acks: Ack[]; w: Workload;
    fromId: number; faultMs: number; healMs: number; endMs: number; healthyAfterMs: number | null; notes: string[]; error: string | null;
  }): Promise<RoundResult> {
    const c = this.cluster as ChaosCluster;
    let lost: number[] | null = null;
    const countOn = r.leaderAfter ?? await soleWritable(c.nodes);
    if (countOn && !r.leaderAfter) r.notes.push(`no healthy primary: lost writes counted on ${countOn.name}, the only node out of recovery`);
    if (countOn) {
      const ids = await readIds(countOn, r.fromId).catch(() => null);
      lost = ids ? lostWrites(r.acks, ids).map((a) => a.id) : null;
    }
    const changed = r.leaderAfter ? r.leaderAfter.name !== r.leader.name : null;
    const gap = longestGap(r.acks, r.faultMs, r.endMs);
    return {
      fault: r.fault.name, round: r.round, rebuilt: r.rebuilt, leaderBefore: r.leader.name, leaderAfter: r.leaderAfter?.name ?? null,
      primaryChanged: changed,
      splitBrainAcks: ackOverlaps(r.acks).map(relTo(r.faultMs)),
      splitBrainMonitor: recoveryOverlaps(r.w.samples).map(relTo(r.faultMs)),
      acked: r.acks.length, lostWrites: lost,
      failoverMs: changed && r.leaderAfter ? nullableRound(failoverMs(r.acks, r.faultMs, r.leaderAfter.name)) : null,
      longestGapMs: r0(gap.gapMs), gapStartAfterFaultMs: r0(gap.startMs - r.faultMs), gapEndAfterHealMs: r0(gap.endMs - r.healMs),
      faultDurationMs: r0(r.healMs - r.faultMs),
      healthyAfterMs: r.healthyAfterMs === null ? null : r0(r.healthyAfterMs),
      agentCrashes: c.unexpectedExits().map((e) => ({ ...e, atMs: r0(e.atMs - r.faultMs) })),
      notes: r.notes, error: r.error,
      acksByNode: acksByNode(r.acks, r.faultMs),
      finalState: await finalState(c.nodes),
    };
  }

  /** Stops the cluster now (agents, their PostgreSQL, proxies, etcd). */
  async teardown(): Promise<void> {
    const c = this.cluster;
    this.cluster = null;
    if (!c) return;
    const postmasters = c.nodes.map((n) => n.postmasterPid());
    await c.close().catch((err: unknown) => this.log(`closing the cluster: ${String(err)}`));
    for (const pid of postmasters) if (pid !== null) signalPid(pid, 'SIGKILL');
    for (const n of c.nodes) for (const pid of c.anyGuardPids(n)) signalPid(pid, 'SIGKILL');
  }

  /** For a test that wants to know whether the cluster it leaves behind is usable. */
  async healthyNow(): Promise<boolean> {
    return this.cluster ? isHealthy(this.cluster) : false;
  }
}

function acksByNode(acks: readonly Ack[], faultMs: number): RoundResult['acksByNode'] {
  const out: Record<string, { count: number; firstMs: number; lastMs: number }> = {};
  for (const a of acks) {
    const t = r0(a.atMs - faultMs);
    const cur = out[a.node];
    out[a.node] = cur ? { count: cur.count + 1, firstMs: Math.min(cur.firstMs, t), lastMs: Math.max(cur.lastMs, t) } : { count: 1, firstMs: t, lastMs: t };
  }
  return out;
}

async function finalState(nodes: readonly AgentNode[]): Promise<Record<string, NodeState>> {
  const out: Record<string, NodeState> = {};
  for (const n of nodes) {
    const [primary, st] = await Promise.all([n.health('/primary'), n.status()]);
    out[n.name] = {
      primary, role: st?.role ?? null, state: st?.state ?? null, replication: st?.replication_state ?? null, agentRunning: n.agentRunning(),
    };
  }
  return out;
}

/** The one node whose PostgreSQL answers pg_is_in_recovery() = false, if exactly one does. */
async function soleWritable(nodes: readonly AgentNode[]): Promise<AgentNode | null> {
  const states = await Promise.all(nodes.map((n) => n.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then((x) => x[0]?.r === false, () => false)));
  const writable = nodes.filter((_, i) => states[i]);
  return writable.length === 1 ? (writable[0] as AgentNode) : null;
}

function nullableRound(ms: number | null): number | null {
  return ms === null ? null : r0(ms);
}

/** Overlap times relative to the fault, so a report reads "from +8.2 s to +9.0 s". */
function relTo(faultMs: number): (o: Overlap) => Overlap {
  return (o) => ({ ...o, startMs: r0(o.startMs - faultMs), endMs: r0(o.endMs - faultMs) });
}
