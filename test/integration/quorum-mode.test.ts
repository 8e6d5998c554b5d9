// Quorum mode (synchronous_mode: quorum, issue 12) on real processes: a leader and three
// replicas with synchronous_node_count 2 converge on `ANY 2 (three)` and a sync key listing the
// three with quorum 1; kill -9 of the leader's agent and postmaster under writers committing as
// fast as they can promotes a voter holding every acknowledged commit; a replica stopped after
// that shrinks s_s_n and the key in an order that keeps every sampled pair safe, and commits go on;
// PATCH switches to synchronous_mode true and then off at run time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, waitFor } from '../harness/index.js';
import { agentctl, metric, patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';
import { FastWriters, firstWritable } from '../support/fast-writers.js';

const WRITERS = 4;
let cluster: AgentCluster;
let leader: AgentNode;
const figures: Record<string, unknown> = {};

interface SyncKey { leader: string; sync_standby: string | null; quorum?: number }

async function syncKey(): Promise<SyncKey | null> {
  const text = await etcdctl(cluster.etcd, ['get', '--print-value-only', `/service/${cluster.scope}/sync`]).catch(() => '');
  return text.trim() === '' ? null : (JSON.parse(text) as SyncKey);
}

async function ssn(node: AgentNode): Promise<string> {
  return (await node.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s"))[0]?.s ?? '';
}

const voters = (k: SyncKey | null): string[] => (k?.sync_standby ?? '').split(',').filter((s) => s !== '').sort();
const anyOf = (n: number, names: readonly string[]): string => `ANY ${n} (${[...names].sort().join(',')})`;

/** The leader's key lists `names` with `quorum`, and its PostgreSQL waits for ANY numsync of them. */
async function waitState(lead: AgentNode, names: readonly string[], quorum: number, numsync: number, timeoutMs = 60_000): Promise<void> {
  const want = [...names].sort();
  await waitFor(`sync key ${want.join(',')} quorum ${quorum} and '${anyOf(numsync, want)}' on ${lead.name}`, async () => {
    const key = await syncKey();
    if (key?.leader !== lead.name || (key.quorum ?? 0) !== quorum || voters(key).join(',') !== want.join(',')) return null;
    return (await ssn(lead).catch(() => '')) === anyOf(numsync, want) ? true : null;
  }, { timeoutMs, intervalMs: 200 });
}

/** `ANY n (a,b)` read back: numsync and names (empty for ''). */
function parseAny(value: string): { n: number; names: string[] } {
  const m = /^ANY (\d+) \((.*)\)$/.exec(value);
  return m ? { n: Number(m[1]), names: (m[2] ?? '').split(',') } : { n: 0, names: [] };
}

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 4, ttl: 10, loopWait: 2, retryTimeout: 4 });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((r) => r.name), 150_000);
});

afterAll(() => {
  console.log(`quorum-mode figures: ${JSON.stringify(figures)}`);
});

describe('quorum mode on a 4-node cluster, synchronous_node_count 2', () => {
  it("PATCH /config turns it on: 'ANY 2 (three replicas)' and the key lists the three with quorum 1", async () => {
    const t0 = performance.now();
    expect(await patchConfig(leader, { synchronous_mode: 'quorum', synchronous_node_count: 2 })).toBe(200);
    const replicas = cluster.others(leader);
    await waitState(leader, replicas.map((r) => r.name), 1, 2);
    figures['convergeMs'] = Math.round(performance.now() - t0);
    const rows = await leader.query<{ n: string; st: string }>('SELECT application_name AS n, sync_state AS st FROM pg_stat_replication');
    expect(rows.filter((r) => r.st === 'quorum').map((r) => r.n).sort()).toEqual(replicas.map((r) => r.name).sort());
    const one = replicas[0] as AgentNode;
    await waitFor('/quorum answers on the replicas', async () => ((await one.health('/quorum')) === 200 ? true : null), { timeoutMs: 15_000, intervalMs: 200 });
    for (const r of replicas) {
      expect(await r.health('/quorum')).toBe(200);
      expect(await r.health('/read-only-quorum')).toBe(200);
      expect(await r.health('/async')).toBe(503);
      expect(await r.health('/sync')).toBe(503);
      expect((await r.status())?.['quorum_standby']).toBe(true);
      expect(await metric(r, 'patroni_quorum_standby')).toBe(1);
    }
    expect(await leader.health('/quorum')).toBe(503);
    expect(await leader.health('/read-only-quorum')).toBe(200);
    expect(await metric(leader, 'patroni_quorum_standby')).toBe(0);
    const list = await agentctl(leader.configPath, ['list']);
    for (const r of replicas) expect(list.stdout).toMatch(new RegExp(`${r.name}\\s.*Quorum Standby`));
    await leader.query('CREATE TABLE acked (id bigint PRIMARY KEY)');
  });

  it(`kill -9 of the leader agent and postmaster under ${WRITERS} fast writers: a voter takes over with every acknowledged commit`, async () => {
    const before = voters(await syncKey());
    const writers = new FastWriters(leader, 10_000_000);
    writers.start(WRITERS);
    await waitFor('writers committing', async () => (writers.acked.length > 300 ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
    const pid = leader.postmasterPid();
    expect(pid).not.toBeNull();
    const t0 = performance.now();
    await leader.agent?.kill();
    process.kill(pid as number, 'SIGKILL');
    await writers.stop();
    const old = leader;
    const next = await firstWritable(cluster.others(old));
    const failoverMs = Math.round(performance.now() - t0);
    const present = await next.query<{ id: string }>('SELECT id::text AS id FROM acked WHERE id = ANY($1::bigint[])', [writers.acked]);
    const missing = writers.acked.length - present.length;
    figures['failover'] = { acked: writers.acked.length, missing, failoverMs, voters: before, promoted: next.name };
    expect(before).toContain(next.name);
    expect(missing).toBe(0);
    leader = next;
    // The former leader stays down: the key drops it, ANY 2 of the two replicas left, quorum 0.
    const t1 = performance.now();
    await waitState(leader, cluster.others(leader).filter((n) => n !== old).map((n) => n.name), 0, 2, 90_000);
    figures['settleAfterFailoverMs'] = Math.round(performance.now() - t1);
  });

  it('a replica stopped: s_s_n and the key shrink in a safe order and commits go on', async () => {
    const alive = cluster.others(leader).filter((n) => n.agentRunning());
    const [gone, stays] = alive as [AgentNode, AgentNode];
    const writers = new FastWriters(leader, 20_000_000);
    writers.start(2);
    await waitFor('writers committing', async () => (writers.acked.length > 100 ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
    // Sample (s_s_n, key, s_s_n) while it changes; a pair counts when s_s_n did not move around the key read.
    const seen: string[] = [];
    let sampling = true;
    const violations: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const s1 = await ssn(leader).catch(() => null);
        const key = await syncKey();
        const s2 = await ssn(leader).catch(() => null);
        if (s1 === null || s1 !== s2 || key === null) continue;
        const { n, names } = parseAny(s1);
        const v = voters(key);
        const q = key.quorum ?? 0;
        const nodes = new Set([key.leader, ...v, ...names, leader.name]).size;
        const state = `key ${q} of (${v.join(',')}) / '${s1}'`;
        if (seen[seen.length - 1] !== state) seen.push(state);
        const nested = v.every((x) => names.includes(x)) || names.every((x) => v.includes(x));
        if (v.length > 0 && (nodes > q + n + 1 || !nested)) violations.push(state);
      }
    })();
    const t0 = performance.now();
    const pid = gone.postmasterPid();
    await gone.agent?.kill();
    if (pid !== null) process.kill(pid, 'SIGKILL');
    await waitState(leader, [stays.name], 0, 1, 60_000);
    figures['shrinkMs'] = Math.round(performance.now() - t0);
    const count = writers.acked.length;
    await waitFor('commits going on', async () => {
      if (writers.lastError !== null) throw new Error(`a writer failed: ${writers.lastError}`);
      return writers.acked.length > count + 100 ? true : null;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    sampling = false;
    await sampler;
    await writers.stop();
    figures['shrinkStates'] = seen;
    figures['shrinkLongestCommitGapMs'] = writers.longestGapMs();
    expect(violations).toEqual([]);
    const present = await leader.query<{ n: string }>('SELECT count(*)::text AS n FROM acked WHERE id = ANY($1::bigint[])', [writers.acked]);
    expect(Number(present[0]?.n)).toBe(writers.acked.length);
  });

  it('PATCH synchronous_mode true switches to FIRST n: the voter leaves the key, then comes back as the synchronous standby', async () => {
    const stays = cluster.others(leader).find((n) => n.agentRunning()) as AgentNode;
    expect(await patchConfig(leader, { synchronous_mode: true, synchronous_node_count: 1 })).toBe(200);
    await waitFor(`sync key ${stays.name} (no quorum) and s_s_n '${stays.name}'`, async () => {
      const key = await syncKey();
      if (key?.leader !== leader.name || key.sync_standby !== stays.name || (key.quorum ?? 0) !== 0) return null;
      return (await ssn(leader).catch(() => '')) === stays.name ? true : null;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    // Each node answers from its own last view of etcd: wait for the standby's.
    await waitFor(`/sync on ${stays.name}`, async () => ((await stays.health('/sync')) === 200 ? true : null), { timeoutMs: 15_000, intervalMs: 200 });
    expect(await stays.health('/quorum')).toBe(503);
  });

  it('PATCH synchronous_mode false turns it off: sync key deleted, synchronous_standby_names cleared', async () => {
    expect(await patchConfig(leader, { synchronous_mode: false })).toBe(200);
    await waitFor('sync key gone and s_s_n empty', async () => ((await syncKey()) === null && (await ssn(leader)) === '' ? true : null), { timeoutMs: 30_000, intervalMs: 200 });
  });
});
