// Synchronous mode (issue 12, SPEC 5.10 / S3) on real processes: turned on at run time with
// PATCH /config, the sync key and synchronous_standby_names converge on one replica; kill -9 of
// the leader's agent and postmaster under writers committing as fast as they can loses no
// acknowledged commit and promotes the synchronous standby; a switchover to the asynchronous
// member is refused; in strict mode a commit waits while both replicas are down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { etcdctl, waitFor } from '../harness/index.js';
import { SUPERUSER_PASSWORD, agentctl, metric, patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';
import { FastWriters, firstWritable } from '../support/fast-writers.js';

const ROUNDS = Number(process.env['SYNC_ROUNDS'] ?? 2);
const WRITERS = 4;
let cluster: AgentCluster;
let leader: AgentNode;
const figures: Record<string, unknown> = { rounds: [] };

interface SyncKey { leader: string; sync_standby: string | null }

async function syncKey(): Promise<SyncKey | null> {
  const text = await etcdctl(cluster.etcd, ['get', '--print-value-only', `/service/${cluster.scope}/sync`]).catch(() => '');
  return text.trim() === '' ? null : (JSON.parse(text) as SyncKey);
}

async function ssn(node: AgentNode): Promise<string> {
  return (await node.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s"))[0]?.s ?? '';
}

/** The leader's sync key names one replica, and the leader's PostgreSQL waits for exactly it. */
async function waitConverged(lead: AgentNode, timeoutMs = 60_000): Promise<AgentNode> {
  return waitFor(`sync key and synchronous_standby_names of ${lead.name} on one replica`, async () => {
    const key = await syncKey();
    if (key?.leader !== lead.name || !key.sync_standby || key.sync_standby.includes(',')) return null;
    const s = await ssn(lead).catch(() => '');
    if (s !== key.sync_standby) return null;
    const rows = await lead.query<{ n: string; st: string }>('SELECT application_name AS n, sync_state AS st FROM pg_stat_replication').catch(() => []);
    if (!rows.some((r) => r.n === key.sync_standby && r.st === 'sync')) return null;
    return cluster.node(key.sync_standby);
  }, { timeoutMs, intervalMs: 200 });
}

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4 });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((r) => r.name), 120_000);
});

afterAll(() => {
  console.log(`sync-mode figures: ${JSON.stringify(figures)}`);
});

describe('synchronous mode on a 3-node cluster', () => {
  it('PATCH /config turns it on: the sync key and synchronous_standby_names converge on one replica', async () => {
    expect(await ssn(leader)).toBe('');
    const t0 = performance.now();
    expect(await patchConfig(leader, { synchronous_mode: true })).toBe(200);
    const sync = await waitConverged(leader);
    figures['convergeMs'] = Math.round(performance.now() - t0);
    const other = cluster.others(leader).find((n) => n.name !== sync.name) as AgentNode;
    await waitFor('/sync and /async answer', async () => ((await sync.health('/sync')) === 200 && (await other.health('/async')) === 200 ? true : null));
    expect(await sync.health('/async')).toBe(503);
    expect(await other.health('/sync')).toBe(503);
    expect((await sync.status())?.['sync_standby']).toBe(true);
    expect(await metric(sync, 'patroni_sync_standby')).toBe(1);
    expect(await metric(other, 'patroni_sync_standby')).toBe(0);
    const list = await agentctl(leader.configPath, ['list']);
    expect(list.stdout).toMatch(new RegExp(`${sync.name}\\s.*Sync Standby`));
    await leader.query('CREATE TABLE acked (id bigint PRIMARY KEY)');
  });

  it('refuses a switchover to the asynchronous member (REST 412 and agentctl)', async () => {
    const key = await syncKey();
    const async = cluster.others(leader).find((n) => n.name !== key?.sync_standby) as AgentNode;
    const res = await fetch(`http://127.0.0.1:${leader.apiPort}/switchover`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leader.name, candidate: async.name }), signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(412);
    expect(await res.text()).toContain('candidate name does not match with sync_standby');
    const ctl = await agentctl(leader.configPath, ['switchover', '--candidate', async.name, '--force']);
    expect(ctl.code).not.toBe(0);
    expect(`${ctl.stdout}${ctl.stderr}`).toMatch(/not the synchronous standby|sync_standby/);
    expect((await cluster.waitForLeader()).name).toBe(leader.name);
  });

  it(`kill -9 of the leader agent and postmaster under ${WRITERS} fast writers: the sync standby takes over with every acknowledged commit (${ROUNDS} rounds)`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const sync = await waitConverged(leader, 90_000);
      const writers = new FastWriters(leader, round * 10_000_000);
      writers.start(WRITERS);
      await waitFor('writers committing', async () => (writers.acked.length > 200 ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
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
      (figures['rounds'] as unknown[]).push({ round, acked: writers.acked.length, missing, failoverMs, sync: sync.name, promoted: next.name });
      expect(next.name).toBe(sync.name);
      expect(missing).toBe(0);
      leader = next;
      old.start();
      await cluster.waitStreamingFrom(old, leader, 120_000);
    }
  });

  it('the synchronous standby killed: the other replica becomes synchronous and commits go on', async () => {
    const sync = await waitConverged(leader, 90_000);
    const writers = new FastWriters(leader, 2_000_000_000);
    writers.start(2);
    await waitFor('writers committing', async () => (writers.acked.length > 100 ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
    const pid = sync.postmasterPid();
    const t0 = performance.now();
    await sync.agent?.kill();
    if (pid !== null) process.kill(pid, 'SIGKILL');
    const next = await waitConverged(leader, 60_000).then(async (n) => (n.name === sync.name ? waitFor('a new sync standby', async () => {
      const key = await syncKey();
      return key?.sync_standby && key.sync_standby !== sync.name ? cluster.node(key.sync_standby) : null;
    }, { timeoutMs: 60_000, intervalMs: 200 }) : n));
    expect(next.name).not.toBe(sync.name);
    await waitConverged(leader, 30_000);
    figures['syncStandbyLossToNewSyncMs'] = Math.round(performance.now() - t0);
    const before = writers.acked.length;
    await waitFor('commits going on', async () => {
      if (writers.lastError !== null) throw new Error(`a writer failed: ${writers.lastError}`);
      return writers.acked.length > before + 100 ? true : null;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    await writers.stop();
    figures['syncStandbyLossLongestCommitGapMs'] = writers.longestGapMs();
    const present = await leader.query<{ n: string }>('SELECT count(*)::text AS n FROM acked WHERE id = ANY($1::bigint[])', [writers.acked]);
    expect(Number(present[0]?.n)).toBe(writers.acked.length);
    sync.start();
    await cluster.waitStreamingFrom(sync, leader, 120_000);
  });

  it('strict: with both replicas down a commit waits, and completes when one returns', async () => {
    expect(await patchConfig(leader, { synchronous_mode_strict: true })).toBe(200);
    await waitConverged(leader, 90_000);
    const replicas = cluster.others(leader);
    for (const r of replicas) {
      const pid = r.postmasterPid();
      await r.agent?.kill();
      if (pid !== null) process.kill(pid, 'SIGKILL');
    }
    await waitFor('the leader to see no standby', async () => {
      const rows = await leader.query('SELECT 1 FROM pg_stat_replication').catch(() => [1]);
      return rows.length === 0 ? true : null;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    // No query timeout: this commit is meant to wait.
    const c = new pg.Client({ host: '127.0.0.1', port: leader.pgPort, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    let done = false;
    let failed: unknown = null;
    const commit = c.query('INSERT INTO acked (id) VALUES (-424242)').then(() => { done = true; }, (err: unknown) => { failed = err; });
    await waitFor('the commit waiting for a synchronous standby', async () => {
      const rows = await leader.query<{ w: string | null }>("SELECT wait_event AS w FROM pg_stat_activity WHERE query LIKE 'INSERT INTO acked (id) VALUES (-424242)%'");
      return rows[0]?.w === 'SyncRep' ? true : null;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await waitFor('the leader to say why commits wait', async () => {
      const st = await leader.status();
      return JSON.stringify(st).includes('synchronous_mode_strict: no standby can be synchronous') ? true : null;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    expect(done).toBe(false);
    expect(await ssn(leader)).not.toBe('');
    const t0 = performance.now();
    const back = replicas[0] as AgentNode;
    back.start();
    await waitFor('the waiting commit to complete', async () => (done || failed !== null ? true : null), { timeoutMs: 90_000, intervalMs: 100 });
    expect(failed).toBeNull();
    figures['strictReleaseMs'] = Math.round(performance.now() - t0);
    await commit;
    await c.end().catch(() => undefined);
    (replicas[1] as AgentNode).start();
    await cluster.waitForStreaming(replicas.map((r) => r.name), 120_000);
  });

  it('PATCH synchronous_mode false turns it off: sync key deleted, synchronous_standby_names cleared', async () => {
    expect(await patchConfig(leader, { synchronous_mode: false, synchronous_mode_strict: false })).toBe(200);
    await waitFor('sync key gone and s_s_n empty', async () => ((await syncKey()) === null && (await ssn(leader)) === '' ? true : null), { timeoutMs: 30_000, intervalMs: 200 });
  });

  // The control of issue 12: the same kill in asynchronous mode; what it loses is reported, not asserted.
  it('control: the same kill with synchronous mode off fails over to a replica that takes writes', async () => {
    await cluster.waitForStreaming(cluster.others(leader).map((r) => r.name), 120_000);
    const writers = new FastWriters(leader, 3_000_000_000);
    writers.start(WRITERS);
    await waitFor('writers committing', async () => (writers.acked.length > 200 ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
    const pid = leader.postmasterPid();
    const t0 = performance.now();
    await leader.agent?.kill();
    if (pid !== null) process.kill(pid, 'SIGKILL');
    await writers.stop();
    const next = await firstWritable(cluster.others(leader));
    const present = await next.query<{ id: string }>('SELECT id::text AS id FROM acked WHERE id = ANY($1::bigint[])', [writers.acked]);
    figures['asyncControl'] = { acked: writers.acked.length, missing: writers.acked.length - present.length, failoverMs: Math.round(performance.now() - t0) };
    expect(next.name).not.toBe(leader.name);
    expect(await next.query('INSERT INTO acked (id) VALUES (-2000000000000) RETURNING id')).toHaveLength(1);
  });
});
