// Fault tests with real processes: a frozen leader agent (SIGSTOP) and a total etcd outage. The
// checker proves no two writable primaries overlapped and no acknowledged, replicated write was lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../harness/index.js';
import { canWrite, metric, startAgentCluster, Writer, type AgentCluster } from '../support/agent-cluster.js';

const TTL = 10;
let cluster: AgentCluster;
const figures: Record<string, number | string> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: TTL, loopWait: 2, retryTimeout: 4, scope: 'faults' });
  const leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
});

afterAll(() => {
  console.log(`agent-faults figures: ${JSON.stringify(figures)}`);
});

describe('fault tests', () => {
  it('a frozen leader agent (SIGSTOP for 2.5 x ttl) is fenced by its guard before a replica takes over', async () => {
    const old = await cluster.waitForLeader();
    const writer = new Writer(cluster.nodes, 50);
    await writer.prepare(old);
    await cluster.waitForStreaming(cluster.others(old).map((n) => n.name));
    writer.start();
    await waitFor('writes flowing', () => writer.acked.length > 20 || null);
    const t0 = performance.now();
    old.agent?.pause();
    const next = await waitFor('a new leader', async () => {
      for (const n of cluster.others(old)) if ((await n.health('/primary')) === 200) return n;
      return null;
    }, { timeoutMs: 90_000, intervalMs: 100 });
    figures['sigstopToNewLeaderMs'] = Math.round(performance.now() - t0);
    const rest = t0 + 2.5 * TTL * 1000 - performance.now();
    if (rest > 0) await sleep(rest);
    old.agent?.resume();
    await cluster.waitStreamingFrom(old, next, 90_000);
    figures['sigcontToStreamingMs'] = Math.round(performance.now() - t0 - 2.5 * TTL * 1000);
    await writer.stop();

    const oldAcks = writer.acked.filter((a) => a.node === old.name && a.atMs > t0);
    const newAcks = writer.acked.filter((a) => a.node === next.name && a.atMs > t0);
    expect(newAcks.length).toBeGreaterThan(0);
    const lastOld = Math.max(0, ...oldAcks.map((a) => a.atMs));
    const firstNew = Math.min(...newAcks.map((a) => a.atMs));
    figures['oldPrimaryLastAckAfterStopMs'] = Math.round(lastOld > 0 ? lastOld - t0 : 0);
    figures['gapBetweenPrimariesMs'] = Math.round(firstNew - Math.max(lastOld, t0));
    // S1: the frozen node's PostgreSQL acknowledged nothing once the new primary accepted writes.
    expect(lastOld).toBeLessThan(firstNew);
    // Writes acknowledged before the freeze were replicated and survive the failover.
    const before = writer.acked.filter((a) => a.atMs < t0 - 1000).map((a) => a.id);
    const present = new Set((await next.query<{ id: string }>('SELECT id FROM writes')).map((r) => Number(r.id)));
    const lost = before.filter((id) => !present.has(id));
    expect(lost).toEqual([]);
    const lostAfter = writer.acked.filter((a) => a.atMs >= t0 - 1000 && !present.has(a.id)).length;
    figures['ackedWritesLostInLastSecondBeforeFreeze'] = lostAfter;
  });

  it('a total etcd outage fences the leader before its lease can expire; reads continue; one leader after', async () => {
    const leader = await cluster.waitForLeader();
    const replicas = cluster.others(leader);
    await cluster.waitForStreaming(replicas.map((n) => n.name));
    await cluster.etcd.stopAll();
    const tStop = performance.now();
    // With etcd down the deadline can no longer move: read it now.
    const left = await metric(leader, 'pg_ha_agent_lease_seconds_left');
    const tRead = performance.now();
    expect(left).not.toBeNull();
    const deadline = tRead + (left as number) * 1000;
    let lastWrite = tStop;
    await waitFor('the leader to stop accepting writes', async () => {
      if (await canWrite(leader)) {
        lastWrite = performance.now();
        return null;
      }
      return true;
    }, { timeoutMs: TTL * 1000 + 10_000, intervalMs: 20 });
    figures['etcdStopToLeaderFencedMs'] = Math.round(lastWrite - tStop);
    figures['fencedBeforeOwnDeadlineMs'] = Math.round(deadline - lastWrite);
    // Never past its own deadline (the lease expires in etcd at least the margin later); a little
    // slack for the poll that observed it.
    expect(lastWrite).toBeLessThan(deadline + 250);
    expect(lastWrite - tStop).toBeLessThan(TTL * 1000);
    for (const r of replicas) expect((await r.query<{ one: number }>('SELECT 1 AS one'))[0]?.one).toBe(1);
    await cluster.etcd.startAll();
    await cluster.etcd.waitHealthy();
    const back = await cluster.waitForLeader(120_000);
    await cluster.waitForStreaming(cluster.others(back).map((n) => n.name), 120_000);
    const primaries = await Promise.all(cluster.nodes.map((n) => n.health('/primary')));
    expect(primaries.filter((c) => c === 200)).toHaveLength(1);
  });

  it('kill -9 of the leader agent alone: its guard fences PostgreSQL before anyone else can promote', async () => {
    const old = await cluster.waitForLeader();
    await cluster.waitForStreaming(cluster.others(old).map((n) => n.name));
    const writer = new Writer(cluster.nodes, 50);
    writer.start();
    await waitFor('writes flowing', () => writer.acked.length > 10 || null);
    const t0 = performance.now();
    await old.agent?.kill();
    const next = await waitFor('a new leader', async () => {
      for (const n of cluster.others(old)) if ((await n.health('/primary')) === 200) return n;
      return null;
    }, { timeoutMs: 90_000, intervalMs: 100 });
    await waitFor('writes on the new leader', () => writer.acked.some((a) => a.node === next.name && a.atMs > t0) || null);
    await writer.stop();
    const lastOld = Math.max(0, ...writer.acked.filter((a) => a.node === old.name).map((a) => a.atMs));
    const firstNew = Math.min(...writer.acked.filter((a) => a.node === next.name && a.atMs > t0).map((a) => a.atMs));
    figures['agentKilledOldLastAckAfterKillMs'] = Math.round(lastOld - t0);
    expect(lastOld).toBeLessThan(firstNew);
    // Nobody but the guard could have stopped it: the agent was dead.
    expect(old.postmasterPid()).toBeNull();
    old.start();
    await cluster.waitStreamingFrom(old, next, 90_000);
  });

  it('an agent killed and restarted at once (systemd Restart=) keeps its PostgreSQL: no fence, no failover', async () => {
    const lead = await cluster.waitForLeader();
    await cluster.waitForStreaming(cluster.others(lead).map((n) => n.name));
    const pid = lead.postmasterPid();
    expect(pid).not.toBeNull();
    const before = await lead.status();
    await lead.agent?.kill();
    lead.start();
    // The new agent re-attaches the key; its guard took over the old guard's deadline and retired it.
    await waitFor('the restarted agent to lead again', async () => ((await lead.health('/primary')) === 200 ? true : null), { timeoutMs: 60_000 });
    await waitFor('a few more ticks', async () => ((await metric(lead, 'pg_ha_agent_ticks_total')) ?? 0) >= 8 || null, { timeoutMs: 60_000 });
    expect(lead.postmasterPid()).toBe(pid);
    expect((await lead.status())?.timeline).toBe(before?.timeline);
    for (const n of cluster.others(lead)) expect(await n.health('/primary')).toBe(503);
    expect(await canWrite(lead)).toBe(true);
  });
});
