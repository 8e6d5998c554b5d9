// S2 on real processes, the scenario of simulator seed 301 (fault set 5): a switchover whose
// candidate's agent freezes after the old leader released the key. The old primary, stopped
// cleanly with every acknowledged write, starts read-only to compete; a third member that lags
// (its walreceiver stopped) races meanwhile and must not promote past it and lose the writes it
// lacks: the race waits for a member stopped with more WAL (GET /patroni's
// pg_ha_agent.stopped_wal). Here the old primary wins in both directions: with the race's wait
// removed this test passed too (the old primary's next tick restarts it within milliseconds, so
// the window seed 301 hit, a probe between the release and that start, is not reached on this
// machine); the window itself is pinned in the simulator (sim-regressions, seed 301).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, waitFor } from '../harness/index.js';
import { agentctl, startAgentCluster, Writer, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
const figures: Record<string, number | string> = {};

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function walReceiverPid(node: AgentNode): Promise<number> {
  const rows = await node.query<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver');
  const pid = rows[0]?.pid;
  if (typeof pid !== 'number') throw new Error(`no walreceiver on ${node.name}`);
  return pid;
}

beforeAll(async () => {
  cluster = await startAgentCluster({
    nodes: 3, ttl: 20, loopWait: 5, retryTimeout: 5, logLevel: 'info', scope: 'swfrozen',
    dcsExtra: {
      postgresql: {
        use_pg_rewind: true, use_slots: true,
        // The walsender of the lagging member (its receiver stopped) gives up after 3 s, so the old
        // leader's fast shutdown stays clean.
        parameters: { fsync: 'off', shared_buffers: '32MB', max_connections: 50, wal_sender_timeout: '3s' },
      },
    },
  });
  const leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
}, 240_000);

afterAll(() => {
  console.log(`switchover-frozen-candidate figures: ${JSON.stringify(figures)}`);
});

/** Who holds the leader key now (etcd, not the REST API: a frozen agent cannot answer). */
async function keyHolder(): Promise<string> {
  return (await etcdctl(cluster.etcd, ['get', '--print-value-only', `/service/${cluster.scope}/leader`])).trim();
}

/**
 * One switchover whose candidate's agent is frozen the moment the old primary's postmaster is gone
 * (the release follows the stop, and the candidate takes the key a tick later). Returns the new
 * leader, or null when the candidate took the key before it froze (the window was missed).
 */
async function switchoverWithFrozenCandidate(old: AgentNode, candidate: AgentNode, lagging: AgentNode, writer: Writer): Promise<AgentNode | null> {
  const receiver = await walReceiverPid(lagging);
  const oldPid = old.postmasterPid();
  signal(receiver, 'SIGSTOP');
  try {
    const before = writer.acked.length;
    await waitFor('writes the lagging member does not receive', () => (writer.acked.length >= before + 25 ? true : null), { timeoutMs: 30_000 });
    const switching = agentctl(old.configPath, ['switchover', '--candidate', candidate.name, '--force'], { timeoutMs: 180_000 }).catch(() => null);
    await waitFor('the old primary to stop for the switchover', () => (old.postmasterPid() === null ? true : null), { timeoutMs: 60_000, intervalMs: 2 });
    candidate.agent?.pause();
    try {
      const next = await waitFor('a new leader other than the frozen candidate', async () => {
        const holder = await keyHolder().catch(() => '');
        if (holder === candidate.name) return 'missed';
        for (const n of [old, lagging]) {
          if (holder === n.name && (await n.health('/primary')) === 200 && (n !== old || old.postmasterPid() !== oldPid)) return n;
        }
        return null;
      }, { timeoutMs: 120_000, intervalMs: 100 });
      return next === 'missed' ? null : next;
    } finally {
      candidate.agent?.resume();
      await switching;
    }
  } finally {
    signal(receiver, 'SIGCONT');
  }
}

describe('a switchover whose candidate freezes', () => {
  it('a lagging member does not promote past the stopped old primary: no acknowledged write is lost', async () => {
    let next: AgentNode | null = null;
    let writer: Writer | null = null;
    for (let attempt = 1; attempt <= 3 && next === null; attempt++) {
      const old = await cluster.waitForLeader(120_000);
      await cluster.waitForStreaming(cluster.others(old).map((n) => n.name), 120_000);
      const [candidate, lagging] = cluster.others(old) as [AgentNode, AgentNode];
      writer = new Writer([old], 20);
      await old.query('DROP TABLE IF EXISTS writes');
      await writer.prepare(old);
      writer.start();
      try {
        next = await switchoverWithFrozenCandidate(old, candidate, lagging, writer);
      } finally {
        await writer.stop();
      }
      figures['attempts'] = attempt;
      if (next !== null) figures['newLeader'] = next === old ? 'the old primary' : 'the lagging member';
    }
    expect(next, 'the candidate froze before it took the key in one of 3 attempts').not.toBeNull();
    const leader = next as AgentNode;
    const ids = (writer as Writer).acked.map((a) => a.id);
    const found = await leader.query<{ id: string }>('SELECT id FROM writes WHERE id = ANY($1::bigint[])', [ids]);
    const have = new Set(found.map((r) => Number(r.id)));
    figures['ackedWrites'] = ids.length;
    expect(ids.filter((id) => !have.has(id)), `acknowledged writes missing on the new leader ${leader.name}`).toEqual([]);
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
  }, 900_000);
});
