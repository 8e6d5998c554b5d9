// The agent end to end on a real 3-node cluster: bootstrap, host loss (agent + postmaster killed),
// rejoin of the killed node, leader postmaster crash restarted in place.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import { startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

const TTL = 10;
let cluster: AgentCluster;
let leader: AgentNode;
const figures: Record<string, number | string> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: TTL, loopWait: 2, retryTimeout: 4 });
});

afterAll(() => {
  console.log(`agent-failover figures: ${JSON.stringify(figures)}`);
});

describe('agent on a 3-node cluster', () => {
  it('bootstraps three empty data dirs into one leader and two streaming replicas', async () => {
    leader = await cluster.waitForLeader(120_000);
    const replicas = cluster.others(leader);
    await cluster.waitForStreaming(replicas.map((r) => r.name), 120_000);
    const status = await leader.status();
    expect(status?.role).toBe('primary');
    expect(status?.timeline).toBe(1);
    for (const r of replicas) expect(await r.health('/replica')).toBe(200);
    for (const r of replicas) expect(await r.health('/primary')).toBe(503);
    // Every node joined the same database cluster.
    const ids = await Promise.all(cluster.nodes.map(async (n) => (await n.status())?.['database_system_identifier']));
    expect(new Set(ids).size).toBe(1);
  });

  it('fails over after kill -9 of the leader agent and postmaster; the third node follows without restart', async () => {
    await leader.query('CREATE TABLE kept (id int PRIMARY KEY)');
    await leader.query('INSERT INTO kept SELECT generate_series(1, 500)');
    const [a, b] = cluster.others(leader) as [AgentNode, AgentNode];
    // Rows committed and replicated before the kill must survive.
    await waitFor('rows replicated', async () => {
      const counts = await Promise.all([a, b].map(async (n) => (await n.query<{ c: string }>('SELECT count(*) AS c FROM kept'))[0]?.c));
      return counts.every((c) => c === '500') ? true : null;
    });
    const startTimes = new Map<string, string>();
    for (const n of [a, b]) startTimes.set(n.name, (await n.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t'))[0]?.t ?? '');
    const pid = leader.postmasterPid();
    expect(pid).not.toBeNull();
    const t0 = performance.now();
    await leader.agent?.kill();
    process.kill(pid as number, 'SIGKILL');
    const old = leader;
    // First write accepted elsewhere.
    const next = await waitFor('a write accepted by another node', async () => {
      for (const n of [a, b]) {
        try {
          await n.query('INSERT INTO kept VALUES (1000 + (random() * 1000000)::int) ON CONFLICT DO NOTHING');
          return n;
        } catch {
          // not writable yet
        }
      }
      return null;
    }, { timeoutMs: 90_000, intervalMs: 50 });
    figures['killToFirstWriteMs'] = Math.round(performance.now() - t0);
    leader = next;
    const third = next === a ? b : a;
    const tFollow = performance.now();
    await cluster.waitStreamingFrom(third, next, 60_000);
    figures['thirdStreamingAfterFirstWriteMs'] = Math.round(performance.now() - tFollow);
    const after = (await third.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t'))[0]?.t;
    expect(after).toBe(startTimes.get(third.name));
    const rows = await next.query<{ c: string }>('SELECT count(*) AS c FROM kept WHERE id <= 500');
    expect(rows[0]?.c).toBe('500');
    // The status is republished by the next tick after the promotion.
    const status = await waitFor('the new leader to report its new timeline', async () => {
      const st = await next.status();
      return st?.role === 'primary' && st.timeline !== 1 ? st : null;
    });
    expect(status.timeline).toBe(2);
    // The killed node is now the one to rejoin.
    (globalThis as { killedNode?: AgentNode }).killedNode = old;
  });

  it('rejoins the killed node as a streaming replica when its agent starts again', async () => {
    const old = (globalThis as { killedNode?: AgentNode }).killedNode as AgentNode;
    const t0 = performance.now();
    old.start();
    await cluster.waitStreamingFrom(old, leader, 90_000);
    figures['rejoinStreamingMs'] = Math.round(performance.now() - t0);
    const rows = await old.query<{ c: string }>('SELECT count(*) AS c FROM kept WHERE id <= 500');
    expect(rows[0]?.c).toBe('500');
    expect(await old.health('/replica')).not.toBeNull();
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name));
  });

  it('restarts a crashed leader postmaster in place: no failover, same timeline', async () => {
    const before = await leader.status();
    const pid = leader.postmasterPid();
    expect(pid).not.toBeNull();
    const t0 = performance.now();
    process.kill(pid as number, 'SIGKILL');
    await waitFor('writes accepted again on the same leader', async () => {
      try {
        await leader.query('INSERT INTO kept VALUES (2000000 + (random() * 1000000)::int) ON CONFLICT DO NOTHING');
        return true;
      } catch {
        return null;
      }
    }, { timeoutMs: 60_000, intervalMs: 20 });
    figures['postmasterCrashToWriteMs'] = Math.round(performance.now() - t0);
    const after = await waitFor('the leader to report postgresql running again', async () => {
      const st = await leader.status();
      return st?.state === 'running' ? st : null;
    });
    expect(after.timeline).toBe(before?.timeline);
    expect(leader.postmasterPid()).not.toBe(pid);
    expect((await cluster.waitForLeader()).name).toBe(leader.name);
  });

  it('gives the key up when its crashed PostgreSQL refuses to start again (Patroni post_recover), not after primary_start_timeout', async () => {
    const crashed = leader;
    const autoConf = join(crashed.dataDir, 'postgresql.auto.conf');
    const saved = await readFile(autoConf, 'utf8');
    // What Patroni's recovery.feature does: a setting PostgreSQL refuses at start-up.
    await writeFile(autoConf, 'foo=bar\n');
    try {
      const t0 = performance.now();
      process.kill(crashed.postmasterPid() as number, 'SIGKILL');
      // primary_start_timeout is 300 s: only the release gets a new leader within this bound.
      leader = await cluster.waitForLeader(60_000, [crashed.name]);
      figures['refusedStartToNewLeaderMs'] = Math.round(performance.now() - t0);
      expect(crashed.agent?.output(500_000)).toContain('releasing the leader key: postgresql failed to start as primary after a crash');
    } finally {
      await writeFile(autoConf, saved);
    }
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
  });
});
