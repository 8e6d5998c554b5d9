// Issue 22 on real processes: etcd's `config` rewritten as Patroni would write it, with keys the
// agent refuses (failsafe_mode, ignore_slots, slots). The running cluster keeps its leader
// and its writes; every agent reports the keys (log, GET /patroni, agentctl list) and applies the
// rest; PATCH /config still works and the refused key is refused there.
import { describe, expect, it, beforeAll } from 'vitest';
import { etcdctl, waitFor } from '../harness/index.js';
import { agentctl, canWrite, patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
let leader: AgentNode;

const PATRONI_CONFIG = {
  ttl: 10, loop_wait: 2, retry_timeout: 4, maximum_lag_on_failover: 2097152,
  failsafe_mode: true, ignore_slots: [{ name: 'dr_slot' }], slots: { dr_slot: { type: 'physical' } },
  postgresql: { use_pg_rewind: true, use_slots: true, parameters: { work_mem: '8MB' } },
};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 2, ttl: 10, loopWait: 2, retryTimeout: 4, scope: 'refused' });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
});

describe("refused keys in etcd's stored config", () => {
  it('stop nothing: both agents report them and apply the rest', async () => {
    await etcdctl(cluster.etcd, ['put', `/service/${cluster.scope}/config`, JSON.stringify(PATRONI_CONFIG)]);
    for (const node of cluster.nodes) {
      const refused = await waitFor(`${node.name} reports the refused keys`, async () => {
        const keys = ((await node.status())?.['config_refused'] as { key: string }[] | undefined)?.map((r) => r.key);
        return keys?.length === 3 ? keys : null;
      }, { timeoutMs: 30_000 });
      expect(refused.sort()).toEqual(['failsafe_mode', 'ignore_slots', 'slots']);
      expect(node.agentRunning()).toBe(true);
      expect(node.agent?.output(1_000_000)).toContain('refused configuration key in etcd ignored; the rest of the configuration applies');
    }
    // The rest applies: the new work_mem reaches PostgreSQL through a reload.
    await waitFor('work_mem 8MB on the leader', async () => {
      const rows = await leader.query<{ work_mem: string }>('SHOW work_mem');
      return rows[0]?.work_mem === '8MB' ? true : null;
    }, { timeoutMs: 30_000 });
    expect(await leader.health('/primary')).toBe(200);
    expect(await canWrite(leader)).toBe(true);
  });

  it('agentctl list names them under the table', async () => {
    const r = await agentctl(leader.configPath, ['list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Warning: config: failsafe_mode: not supported yet: .*the rest of the configuration applies/);
  });

  it('PATCH /config still works, refuses the key itself, and writes the config without them', async () => {
    expect(await patchConfig(leader, { failsafe_mode: true })).toBe(400);
    expect(await patchConfig(leader, { maximum_lag_on_failover: 1048576 })).toBe(200);
    const stored = JSON.parse(await etcdctl(cluster.etcd, ['get', '--print-value-only', `/service/${cluster.scope}/config`])) as Record<string, unknown>;
    expect(stored).toMatchObject({ maximum_lag_on_failover: 1048576, failsafe_mode: false, synchronous_mode: false });
    expect(stored).not.toHaveProperty('slots');
    expect(stored['ignore_slots'] ?? []).toEqual([]);
    await waitFor('the report to clear', async () => ((await leader.status())?.['config_refused'] === undefined ? true : null), { timeoutMs: 30_000 });
  });
});
