// The faults: each one injects, holds and heals, and marks when the fault began (faultAt) and
// when it ended (healedAt). `leader` is the node answering /primary when the round began.
import {
  etcdctl, pausePid, resumePid, signalPid, sleep, waitFor, type TrackedProcess,
} from '../harness/index.js';
import type { AgentNode } from '../support/agent-cluster.js';
import { CHAOS_TTL, memberKey, leaderKey, type ChaosCluster } from './cluster.js';
import { startDuplicate } from './duplicate.js';

export interface FaultContext {
  readonly c: ChaosCluster;
  readonly leader: AgentNode;
  /** Call when the fault takes effect (the failover clock starts). */
  faultAt(): void;
  /** Call when the fault is over (the 30 s "healthy after" clock starts). */
  healedAt(): void;
  note(msg: string): void;
}

/** Whether the primary may change: 'never' for faults after which issue 10/20 require the same primary. */
export type PrimaryPolicy = 'keep' | 'may-change';

export interface Fault {
  readonly name: string;
  readonly what: string;
  readonly primary: PrimaryPolicy;
  run(ctx: FaultContext): Promise<void>;
}

const TTL_MS = CHAOS_TTL * 1000;

/** A hold is part of the fault's definition (how long it lasts), not a wait for a condition. */
const hold = (ms: number): Promise<void> => sleep(ms);

/** For signals to processes that may have exited meanwhile (a backend the agent dropped). */
function attempt(fn: () => void): void {
  try {
    fn();
  } catch {
    // gone already: nothing to stop or resume
  }
}

function agentOf(node: AgentNode): TrackedProcess {
  if (!node.agent || !node.agentRunning()) throw new Error(`${node.name}'s agent is not running`);
  return node.agent;
}

function mustPid(pid: number | null, what: string): number {
  if (pid === null) throw new Error(`no ${what} found`);
  return pid;
}

async function killAgent(ctx: FaultContext): Promise<void> {
  ctx.c.expectExit(ctx.leader);
  await agentOf(ctx.leader).kill();
}

async function cutEtcd(ctx: FaultContext, ms: number, mode: 'blackhole' | 'reset' = 'blackhole'): Promise<void> {
  const proxies = ctx.c.linksOf(ctx.leader).etcd;
  for (const p of proxies) p.cut(mode);
  ctx.faultAt();
  await hold(ms);
  for (const p of proxies) p.restore();
  ctx.healedAt();
}

/** The leader's backends of the agent's observation queries (application_name 'pg-ha-agent observer'). */
async function observerBackends(node: AgentNode): Promise<number[]> {
  const rows = await node.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg-ha-agent observer' AND pid <> pg_backend_pid()");
  return rows.map((r) => r.pid);
}

export const FAULTS: readonly Fault[] = [
  {
    name: 'agent-kill', what: "kill -9 of the leader's agent, restarted 3 s later", primary: 'keep',
    async run(ctx) {
      await killAgent(ctx);
      ctx.faultAt();
      await hold(3000);
      ctx.leader.start();
      ctx.healedAt();
    },
  },
  {
    name: 'postmaster-kill', what: "kill -9 of the leader's postmaster", primary: 'may-change',
    async run(ctx) {
      signalPid(mustPid(ctx.leader.postmasterPid(), `postmaster of ${ctx.leader.name}`), 'SIGKILL');
      ctx.faultAt();
      ctx.healedAt();
    },
  },
  {
    name: 'guard-kill', what: "kill -9 of the leader's fence guard", primary: 'keep',
    async run(ctx) {
      signalPid(mustPid(ctx.c.guardPid(ctx.leader), `fence guard of ${ctx.leader.name}`), 'SIGKILL');
      ctx.faultAt();
      ctx.healedAt();
    },
  },
  {
    name: 'all-kill', what: "kill -9 of the leader's agent, fence guard and postmaster; agent restarted 3 s later", primary: 'may-change',
    async run(ctx) {
      const guard = mustPid(ctx.c.guardPid(ctx.leader), `fence guard of ${ctx.leader.name}`);
      const pm = mustPid(ctx.leader.postmasterPid(), `postmaster of ${ctx.leader.name}`);
      ctx.c.expectExit(ctx.leader);
      signalPid(agentOf(ctx.leader).pid, 'SIGKILL');
      signalPid(guard, 'SIGKILL');
      signalPid(pm, 'SIGKILL');
      ctx.faultAt();
      await agentOf(ctx.leader).waitExit().catch(() => undefined);
      await hold(3000);
      ctx.leader.start();
      ctx.healedAt();
    },
  },
  {
    name: 'agent-stop', what: "SIGSTOP of the leader's agent for ttl + 5 s, then SIGCONT", primary: 'may-change',
    async run(ctx) {
      const a = agentOf(ctx.leader);
      a.pause();
      ctx.faultAt();
      await hold(TTL_MS + 5000);
      a.resume();
      ctx.healedAt();
    },
  },
  {
    name: 'etcd-stop', what: 'SIGSTOP of all three etcd members for 15 s, then SIGCONT', primary: 'may-change',
    async run(ctx) {
      for (const m of ctx.c.etcd.members) m.pause();
      ctx.faultAt();
      await hold(15_000);
      for (const m of ctx.c.etcd.members) m.resume();
      ctx.healedAt();
    },
  },
  {
    name: 'leader-etcd-cut', what: 'the leader cut from etcd (blackhole on all its etcd proxies) for 2 x ttl', primary: 'may-change',
    run: (ctx) => cutEtcd(ctx, 2 * TTL_MS),
  },
  {
    name: 'leader-etcd-reset', what: 'the leader cut from etcd (connections reset, new ones refused) for 2 x ttl', primary: 'may-change',
    run: (ctx) => cutEtcd(ctx, 2 * TTL_MS, 'reset'),
  },
  {
    name: 'leader-replica-cut', what: "the leader cut from its replicas (its PostgreSQL and REST proxies) but not from etcd, 2 x ttl", primary: 'keep',
    async run(ctx) {
      const l = ctx.c.linksOf(ctx.leader);
      l.pg.cut();
      l.api.cut();
      ctx.faultAt();
      await hold(2 * TTL_MS);
      l.pg.restore();
      l.api.restore();
      ctx.healedAt();
    },
  },
  {
    name: 'leader-etcd-flap', what: "the leader's etcd links cut 3 s / up 3 s, for 30 s", primary: 'keep',
    async run(ctx) {
      const proxies = ctx.c.linksOf(ctx.leader).etcd;
      ctx.faultAt();
      for (let i = 0; i < 5; i++) {
        for (const p of proxies) p.cut();
        await hold(3000);
        for (const p of proxies) p.restore();
        await hold(3000);
      }
      ctx.healedAt();
    },
  },
  {
    name: 'etcd-quorum-loss', what: 'two of three etcd members (the raft leader and a follower) stopped for 3 x ttl', primary: 'may-change',
    async run(ctx) {
      const raftLeader = await ctx.c.etcd.leader();
      const follower = ctx.c.etcd.members.find((m) => m !== raftLeader);
      if (!follower) throw new Error('no etcd follower');
      await Promise.all([raftLeader.stop(), follower.stop()]);
      ctx.faultAt();
      ctx.note(`stopped ${raftLeader.name} (raft leader) and ${follower.name}`);
      await hold(3 * TTL_MS);
      await Promise.all([raftLeader.start(), follower.start()]);
      ctx.healedAt();
      await ctx.c.etcd.waitHealthy();
    },
  },
  {
    name: 'etcd-leader-kill', what: 'kill -9 of the etcd raft leader, restarted 5 s later', primary: 'keep',
    async run(ctx) {
      const m = await ctx.c.etcd.leader();
      ctx.note(`killed ${m.name}`);
      await m.kill();
      ctx.faultAt();
      await hold(5000);
      await m.start();
      ctx.healedAt();
      await ctx.c.etcd.waitHealthy();
    },
  },
  {
    name: 'etcd-agent-member-kill', what: "kill -9 of the etcd member the leader's agent is connected to, restarted 5 s later", primary: 'keep',
    async run(ctx) {
      const m = ctx.c.etcd.members[ctx.c.etcdMemberInUse(ctx.leader)];
      if (!m) throw new Error('no etcd member in use');
      ctx.note(`killed ${m.name}`);
      await m.kill();
      ctx.faultAt();
      await hold(5000);
      await m.start();
      ctx.healedAt();
      await ctx.c.etcd.waitHealthy();
    },
  },
  {
    name: 'etcd-rolling-restart', what: 'each etcd member in turn stopped (SIGTERM), started, cluster healthy again', primary: 'keep',
    async run(ctx) {
      ctx.faultAt();
      for (const m of ctx.c.etcd.members) {
        await m.stop();
        await m.start();
        await ctx.c.etcd.waitHealthy();
      }
      ctx.healedAt();
    },
  },
  {
    name: 'etcd-leader-stop', what: 'SIGSTOP of the etcd raft leader for 15 s (> ttl), then SIGCONT', primary: 'may-change',
    async run(ctx) {
      const m = await ctx.c.etcd.leader();
      ctx.note(`stopped ${m.name}`);
      m.pause();
      ctx.faultAt();
      await hold(15_000);
      m.resume();
      ctx.healedAt();
    },
  },
  {
    name: 'lease-revoke', what: "etcdctl lease revoke of the leader key's lease", primary: 'keep',
    async run(ctx) {
      const lease = await ctx.c.leaderKeyLease();
      if (lease === null) throw new Error('the leader key has no lease');
      await etcdctl(ctx.c.etcd, ['lease', 'revoke', lease]);
      ctx.faultAt();
      ctx.healedAt();
    },
  },
  {
    name: 'key-delete', what: 'etcdctl del of the leader key', primary: 'keep',
    async run(ctx) {
      await etcdctl(ctx.c.etcd, ['del', leaderKey()]);
      ctx.faultAt();
      ctx.healedAt();
    },
  },
  {
    name: 'duplicate-name', what: "a 4th agent started from a copy of the leader's config (other ports and data dir)", primary: 'keep',
    async run(ctx) {
      const dup = await startDuplicate(ctx.leader);
      ctx.faultAt();
      const exited = await waitFor('the duplicate agent to exit', () => dup.exitInfo(), { timeoutMs: 30_000 }).catch(() => null);
      ctx.note(exited ? `newcomer exited code=${String(exited.code)} signal=${String(exited.signal)}` : 'newcomer still running after 30 s');
      if (!exited) await dup.stop();
      ctx.healedAt();
    },
  },
  {
    name: 'foreign-member', what: 'a member key without the agent field (as Patroni writes it) present for 10 s (5 x loop_wait)', primary: 'keep',
    async run(ctx) {
      const key = memberKey('patroni-foreign');
      const value = JSON.stringify({
        conn_url: 'postgres://127.0.0.1:1/postgres', api_url: 'http://127.0.0.1:1/patroni',
        state: 'running', role: 'replica', version: '3.0.2', xlog_location: 0, timeline: 1,
      });
      await etcdctl(ctx.c.etcd, ['put', key, value]);
      ctx.faultAt();
      await hold(10_000);
      await etcdctl(ctx.c.etcd, ['del', key]);
      ctx.healedAt();
    },
  },
  {
    name: 'unresponsive-pg-etcd-cut', what: "the leader's observer backends SIGSTOPped while the leader is cut from etcd, 2 x ttl", primary: 'may-change',
    async run(ctx) {
      const stopped = new Set<number>();
      const proxies = ctx.c.linksOf(ctx.leader).etcd;
      const freeze = async (): Promise<void> => {
        for (const pid of await observerBackends(ctx.leader).catch(() => [])) {
          if (stopped.has(pid)) continue;
          stopped.add(pid);
          attempt(() => pausePid(pid));
        }
      };
      await freeze();
      if (stopped.size === 0) throw new Error(`no observer backend of ${ctx.leader.name}'s agent in pg_stat_activity`);
      for (const p of proxies) p.cut();
      ctx.faultAt();
      // The agent reconnects after a query timeout: freeze each new observer backend as well.
      const until = performance.now() + 2 * TTL_MS;
      while (performance.now() < until) {
        await freeze();
        await sleep(200);
      }
      for (const p of proxies) p.restore();
      for (const pid of stopped) attempt(() => resumePid(pid));
      ctx.note(`froze ${stopped.size} observer backend(s)`);
      ctx.healedAt();
    },
  },
];

export function faultByName(name: string): Fault {
  const f = FAULTS.find((x) => x.name === name);
  if (!f) throw new Error(`unknown fault '${name}'; known: ${FAULTS.map((x) => x.name).join(', ')}`);
  return f;
}
