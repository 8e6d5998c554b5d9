// S2 (seed 572 of the simulator's fault set 5): the leader's PostgreSQL stops answering its agent
// while sessions already open go on committing, the leader is cut from etcd, then its key is
// deleted. Its agent still answers REST, with state "starting" (neither running nor stopped). A
// replica read that answer as "not running", took it for evidence that the former primary no
// longer accepts writes, and promoted at once: two writable primaries until the cut-off leader's guard fenced it at its lease deadline.
// Such an answer is no evidence now; the replicas wait for that deadline, by which the leader has
// fenced itself.
//
//
// The same hang with the leader's agent restarted in place (sim seed 867 of set 6): the new run,
// with no key to hold once it was deleted, published its PostgreSQL's role as "replica" (the role of
// a stopped PostgreSQL it does not lead), unresponsive. A replica took that for a former primary
// that no longer writes and promoted 5 s before the leader's guard fenced it at the handed-over
// deadline. An unresponsive PostgreSQL's role is now read from its data directory, and an
// unresponsive former leader is no evidence whatever role it reports.
//
// The hang: the postmaster is SIGSTOPped (no new connection is accepted) and so are the agent's
// own backends (its open sessions hang); a client session opened before keeps committing.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, pausePid, resumePid, waitFor } from '../harness/index.js';
import { RESTART_IN_PLACE_EXIT_CODE } from '../support/restart-supervisor.js';
import { commitsInto, leaderKey, leaderSession, startChaosCluster, waitHealthy, watchHandover, type ChaosCluster, type Handover } from '../chaos/cluster.js';
import type { AgentNode } from '../support/agent-cluster.js';

let c: ChaosCluster;

beforeAll(async () => {
  c = await startChaosCluster({});
}, 240_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

/** Whether a session opened before the hang still commits a write. */
const commits = (session: pg.Client): Promise<boolean> => commitsInto(session, 'hang_writes');

async function stateOf(n: AgentNode): Promise<string | null> {
  const res = await fetch(`http://127.0.0.1:${n.apiPort}/patroni`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
  return res ? (((await res.json()) as { state?: string }).state ?? null) : null;
}

/** SIGSTOP of the postmaster, then of every session of the agent; returns the pids stopped. */
async function hang(leader: AgentNode, session: pg.Client): Promise<number[]> {
  const postmaster = leader.postmasterPid();
  if (postmaster === null) throw new Error(`${leader.name} has no postmaster`);
  pausePid(postmaster, `${leader.name}'s postmaster`);
  const { rows } = await session.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pg-ha-agent%' AND pid <> pg_backend_pid()");
  const stopped = [postmaster];
  for (const { pid } of rows) {
    try {
      pausePid(pid);
      stopped.push(pid);
    } catch { /* ended meanwhile */ }
  }
  return stopped;
}

describe('a leader whose postgresql does not answer its agent, cut from etcd, its key deleted', () => {
  it('no replica promotes while the former primary still commits writes', async () => {
    const { leader, others, session } = await leaderSession(c, 'hang_writes');
    const etcdLinks = c.linksOf(leader).etcd;
    let stopped: number[] = [];
    const h: Handover = { leaderStoppedMs: null, promotedMs: null, overlapMs: 0 };
    try {
      stopped = await hang(leader, session);
      let last = 'none';
      // An agent whose PostgreSQL does not answer reports state "starting" (as Patroni does).
      await waitFor(`${leader.name} to report its postgresql unresponsive`, async () => (['starting', 'unknown'].includes(last = await stateOf(leader) ?? 'none') ? true : null), { timeoutMs: 60_000 })
        .catch((err: unknown) => {
          throw new Error(`${String(err)}; it reported state ${last}; its agent said:\n${leader.logTail().split('\n').slice(-8).join('\n')}`);
        });
      expect(await commits(session), 'the session opened before the hang still commits').toBe(true);
      for (const p of etcdLinks) p.cut('blackhole');
      await etcdctl(c.etcd, ['del', leaderKey()]);
      await watchHandover(() => commits(session), others, h);
    } finally {
      for (const p of etcdLinks) p.restore();
      for (const pid of stopped) {
        try { resumePid(pid); } catch { /* fenced: gone */ }
      }
      await session.end().catch(() => undefined);
    }
    console.log(`unresponsive-leader figures: ${JSON.stringify({ ...h, stoppedPids: stopped.length })}`);
    expect(h.overlapMs, 'two primaries committed writes').toBe(0);
    expect(h.promotedMs).toBeGreaterThanOrEqual(h.leaderStoppedMs ?? Infinity);
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);

  it('restarted in place while hung, then its key deleted: no replica promotes while it still commits', async () => {
    const { leader, others, session } = await leaderSession(c, 'hang_writes');
    let stopped: number[] = [];
    const h: Handover = { leaderStoppedMs: null, promotedMs: null, overlapMs: 0 };
    try {
      stopped = await hang(leader, session);
      await waitFor(`${leader.name} to report its postgresql unresponsive`, async () => (['starting', 'unknown'].includes(await stateOf(leader) ?? 'none') ? true : null), { timeoutMs: 60_000 });
      expect(await commits(session), 'the session opened before the hang still commits').toBe(true);
      const old = leader.agent;
      if (!old) throw new Error(`${leader.name} has no agent`);
      c.expectExit(leader);
      old.signal('SIGUSR2');
      expect((await old.waitExit(60_000)).code, 'restart in place').toBe(RESTART_IN_PLACE_EXIT_CODE);
      // The key goes before the new run's first tick (its observation waits out the hung
      // PostgreSQL), so that run never re-attaches it.
      leader.start();
      await etcdctl(c.etcd, ['del', leaderKey()]);
      // Fenced at the handed-over deadline, the former leader may win the next race itself.
      await watchHandover(() => commits(session), others, h, true).catch((err: unknown) => {
        const tails = c.nodes.map((n) => `--- ${n.name}\n${n.logTail().split('\n').slice(-10).map((l) => l.slice(0, 500)).join('\n')}`);
        throw new Error(`${String(err)}; ${JSON.stringify(h)}\n${tails.join('\n')}`);
      });
    } finally {
      for (const pid of stopped) {
        try { resumePid(pid); } catch { /* fenced: gone */ }
      }
      await session.end().catch(() => undefined);
    }
    console.log(`unresponsive-leader restarted figures: ${JSON.stringify({ ...h, stoppedPids: stopped.length })}`);
    const decisions = c.nodes.map((n) => `--- ${n.name}\n${n.logTail().split('\n').filter((l) => /"tick"|fence|re-attach|hand-over/.test(l)).slice(-6).map((l) => l.slice(0, 400)).join('\n')}`);
    expect(h.overlapMs, `two primaries committed writes; the agents said:\n${decisions.join('\n')}`).toBe(0);
    expect(h.leaderStoppedMs).not.toBeNull();
    if (h.promotedMs !== null) expect(h.promotedMs).toBeGreaterThanOrEqual(h.leaderStoppedMs ?? Infinity);
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);
});
