// S2, last clause (issue 20): no promotion while the former primary may still be writable. The
// leader's agent is frozen (SIGSTOP: its PostgreSQL keeps running, its fence guard fences at the
// lease deadline) and the leader key is deleted at once with etcdctl. Before the fix a replica
// promoted at once and two primaries acknowledged writes until the guard fenced the old one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, waitFor } from '../harness/index.js';
import { ETCDCTL_BIN } from '../harness/etcd.js';
import { startAgentCluster, Writer, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

const TTL = 10;
let cluster: AgentCluster;
const figures: Record<string, number | string> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: TTL, loopWait: 2, retryTimeout: 4, logLevel: 'info' });
});

afterAll(() => {
  console.log(`promotion-safety figures: ${JSON.stringify(figures)}`);
});

async function deleteLeaderKey(): Promise<void> {
  await runCommand(ETCDCTL_BIN, ['--endpoints', cluster.etcd.clientUrls.join(','), 'del', `/service/${cluster.scope}/leader`], {
    env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 10_000,
  });
}

async function receivedLsn(n: AgentNode): Promise<bigint | null> {
  try {
    const rows = await n.query<{ l: string | null }>("SELECT (pg_last_wal_receive_lsn() - '0/0')::text AS l");
    return rows[0]?.l ? BigInt(rows[0].l) : null;
  } catch {
    return null;
  }
}

async function inRecovery(n: AgentNode): Promise<boolean> {
  try {
    return (await n.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === true;
  } catch {
    return false;
  }
}

/** [first, last] acknowledged write per node, from `fromMs` on. */
function ackSpans(writer: Writer, fromMs: number): Map<string, [number, number]> {
  const spans = new Map<string, [number, number]>();
  for (const a of writer.acked) {
    if (a.atMs < fromMs) continue;
    const s = spans.get(a.node);
    spans.set(a.node, s ? [Math.min(s[0], a.atMs), Math.max(s[1], a.atMs)] : [a.atMs, a.atMs]);
  }
  return spans;
}

describe('promotion while the former primary may still be writable', () => {
  it('a plain host loss (agent and postmaster killed) promotes as soon as the lease expired (figure: kill to first write)', async () => {
    const old = await cluster.waitForLeader(120_000);
    await cluster.waitForStreaming(cluster.others(old).map((r) => r.name), 120_000);
    const writer = new Writer(cluster.nodes, 25);
    await writer.prepare(old);
    await old.query('TRUNCATE writes');
    writer.start();
    await waitFor('writes acknowledged by the leader', () => writer.acked.filter((a) => a.node === old.name).length >= 20);
    const pid = old.postmasterPid() as number;
    const t0 = performance.now();
    await old.agent?.kill();
    process.kill(pid, 'SIGKILL');
    const next = await waitFor('a write on another node', () => writer.acked.find((a) => a.node !== old.name && a.atMs > t0), { timeoutMs: 90_000, intervalMs: 50 });
    figures['hostLossKillToFirstWriteMs'] = Math.round(next.atMs - t0);
    await writer.stop();
    // The killed node comes back as a replica of the new leader for the next test.
    old.start();
    await cluster.waitStreamingFrom(old, cluster.node(next.node), 120_000);
  });

  it('a frozen leader whose key was deleted: no second primary until the guard fenced it, the most advanced replica wins', async () => {
    const old = await cluster.waitForLeader(120_000);
    const replicas = cluster.others(old);
    await cluster.waitForStreaming(replicas.map((r) => r.name), 120_000);
    const writer = new Writer(cluster.nodes, 25);
    await writer.prepare(old);
    await old.query('TRUNCATE writes');
    writer.start();
    await waitFor('writes acknowledged by the leader', () => writer.acked.filter((a) => a.node === old.name).length >= 20);
    const oldPid = old.postmasterPid();
    expect(oldPid).not.toBeNull();

    const t0 = performance.now();
    old.agent?.pause();
    await deleteLeaderKey();
    figures['delMs'] = Math.round(performance.now() - t0);
    // Watch the old postmaster and the replicas' received WAL until a replica is writable.
    let fencedAtMs: number | null = null;
    const lastLsn = new Map<string, bigint>();
    const next = await waitFor('a replica to accept writes', async () => {
      if (fencedAtMs === null && old.postmasterPid() === null) fencedAtMs = performance.now();
      // Positions count only when every replica was still in recovery after all were read: a
      // later round could include WAL a replica streamed from the new primary.
      const round = await Promise.all(replicas.map((r) => receivedLsn(r)));
      const still = await Promise.all(replicas.map((r) => inRecovery(r)));
      if (still.every((x) => x)) replicas.forEach((r, i) => { const l = round[i]; if (l !== null && l !== undefined) lastLsn.set(r.name, l); });
      return replicas.find((r) => writer.acked.some((a) => a.node === r.name && a.atMs > t0)) ?? null;
    }, { timeoutMs: 90_000, intervalMs: 50 });
    const firstNewAck = Math.min(...writer.acked.filter((a) => a.node === next.name && a.atMs > t0).map((a) => a.atMs));
    figures['firstWriteOnNewMs'] = Math.round(firstNewAck - t0);
    if (fencedAtMs !== null) figures['oldFencedMs'] = Math.round((fencedAtMs as number) - t0);
    await waitFor('the old postmaster fenced', () => old.postmasterPid() === null, { timeoutMs: 60_000 });
    fencedAtMs ??= performance.now();
    figures['oldFencedMs'] = Math.round(fencedAtMs - t0);
    await waitFor('writes on the new primary', () => writer.acked.filter((a) => a.node === next.name).length >= 10);
    await writer.stop();

    const spans = ackSpans(writer, t0);
    const oldSpan = spans.get(old.name);
    const newSpan = spans.get(next.name) as [number, number];
    figures['lastWriteOnOldMs'] = oldSpan ? Math.round(oldSpan[1] - t0) : 'none';
    const overlapMs = oldSpan ? Math.max(0, Math.min(oldSpan[1], newSpan[1]) - Math.max(oldSpan[0], newSpan[0])) : 0;
    figures['twoPrimariesOverlapMs'] = Math.round(overlapMs);
    figures['winner'] = next.name;
    figures['replicaLsns'] = JSON.stringify(Object.fromEntries([...lastLsn].map(([k, v]) => [k, v.toString()])));
    // No two nodes acknowledged writes in overlapping intervals, and the old primary was fenced first.
    expect(overlapMs, `writes acknowledged by ${old.name} and ${next.name} overlap`).toBe(0);
    expect(firstNewAck, "the new primary acknowledged a write before the old one was fenced").toBeGreaterThan(fencedAtMs - 1000);
    // The most advanced replica won (positions sampled while neither had promoted).
    const loser = replicas.find((r) => r !== next) as AgentNode;
    const w = lastLsn.get(next.name);
    const l = lastLsn.get(loser.name);
    if (w !== undefined && l !== undefined) expect(w >= l, `winner ${next.name} at ${w}, ${loser.name} at ${l}`).toBe(true);

    // Cleanup: the old agent resumes and rejoins as a replica of the new leader.
    old.agent?.resume();
    await cluster.waitStreamingFrom(old, next, 90_000);
  });
});
