// What Patroni's own acceptance suite (features/*.feature) needs of a single node, on real
// processes: a config written for PostgreSQL <= 12, the cluster's dynamic config on every start,
// and POST /restart with a schedule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, pgBinary, runCommand, waitFor } from '../harness/index.js';
import { patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
let node: AgentNode;
const figures: Record<string, number> = {};

async function setting(name: string): Promise<string | undefined> {
  const rows = await node.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name]);
  return rows[0]?.v;
}

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000),
  });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  // Patroni's suite puts wal_keep_segments (gone since PostgreSQL 13) into bootstrap.dcs.
  cluster = await startAgentCluster({
    nodes: 1, scope: 'compat', ttl: 10, loopWait: 2, retryTimeout: 4,
    dcsExtra: { postgresql: { use_pg_rewind: true, use_slots: true,
      parameters: { fsync: 'off', shared_buffers: '32MB', max_connections: 50, wal_keep_segments: 100 } } },
  });
  node = await cluster.waitForLeader(120_000);
  // The new leader seeds the dynamic configuration a tick after its PostgreSQL answers as primary:
  // a PATCH before that got 503 "there is no configuration in etcd to patch" (CI, a loaded machine).
  await waitFor('the dynamic configuration in etcd', async () =>
    ((await etcdctl(cluster.etcd, ['get', '/service/compat/config', '--print-value-only'])).trim() !== '' ? true : null), { timeoutMs: 30_000 });
});

afterAll(() => {
  console.log(`patroni-compat figures: ${JSON.stringify(figures)}`);
});

describe('a Patroni config on PostgreSQL 15', () => {
  it('bootstraps with wal_keep_segments written as wal_keep_size (16MB segments)', async () => {
    expect(await setting('wal_keep_size')).toBe('1600MB');
  });

  it('starts a stopped former primary with the dynamic config from etcd (wal_level logical next to a logical slot)', async () => {
    expect(await patchConfig(node, { postgresql: { parameters: { wal_level: 'logical' } } })).toBe(200);
    await waitFor('pending_restart', async () => ((await node.status())?.['pending_restart'] === true) || null, { timeoutMs: 60_000 });
    expect((await post('/restart', {})).status).toBe(200);
    expect(await setting('wal_level')).toBe('logical');
    await node.query(`SELECT pg_create_logical_replication_slot('compat_slot', 'test_decoding')`);
    await node.agent?.kill();
    await runCommand(pgBinary('pg_ctl'), ['stop', '-D', node.dataDir, '-m', 'fast', '-w'], { user: 'postgres' });
    const t0 = performance.now();
    node.start();
    await cluster.waitForLeader(120_000);
    figures['restartedFormerPrimaryToPrimaryMs'] = Math.round(performance.now() - t0);
    expect(await setting('wal_level')).toBe('logical');
  });

  it('runs a scheduled restart at its time; DELETE /restart cancels one', async () => {
    const before = (await node.status())?.postmaster_start_time;
    const cancelled = await post('/restart', { schedule: new Date(Date.now() + 60_000).toISOString() });
    expect([cancelled.status, cancelled.text]).toEqual([202, 'Restart scheduled']);
    const again = await post('/restart', { schedule: new Date(Date.now() + 60_000).toISOString() });
    expect(again.status).toBe(409);
    const del = await fetch(`http://127.0.0.1:${node.apiPort}/restart`, { method: 'DELETE' });
    expect([del.status, await del.text()]).toEqual([200, 'scheduled restart deleted']);
    expect(await patchConfig(node, { postgresql: { parameters: { superuser_reserved_connections: 4 } } })).toBe(200);
    await waitFor('pending_restart', async () => ((await node.status())?.['pending_restart'] === true) || null, { timeoutMs: 60_000 });
    const run = await post('/restart', { schedule: new Date(Date.now() + 3_000).toISOString(), restart_pending: 'True' });
    expect(run.status).toBe(202);
    await waitFor('the scheduled restart', async () => {
      const st = await node.status();
      return st?.state === 'running' && st.postmaster_start_time !== before && st['pending_restart'] !== true ? true : null;
    }, { timeoutMs: 60_000 });
    expect(await setting('superuser_reserved_connections')).toBe('4');
  });
});
