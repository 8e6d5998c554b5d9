// S2 in pause: the bootstrap leader (no promotion in the history key names it) is frozen in pause,
// its lease is revoked (its leader key and member key go in one revision), the pause is lifted,
// and the replicas' agents restart with no memory of it. Its guard is disarmed (the operator held
// the fence) and its frozen agent does not fence: its PostgreSQL stays writable. The status key it
// put in pause names it now (`"leader"`), so the restarted agents count it as paused when last
// seen alive and wait for its own answer. Before, only a history entry could name the paused
// writer of the status key: they waited one ttl for its deadline and promoted beside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, leaseHexOf, waitFor } from '../harness/index.js';
import { canWrite, metric, patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

const TTL = 10;
const SCOPE = 'revokedpause';
let cluster: AgentCluster;

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: TTL, loopWait: 2, retryTimeout: 4, scope: SCOPE });
  const leader = await cluster.waitForLeader(180_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 180_000);
});

afterAll(() => undefined);

const key = (k: string): string => `/service/${SCOPE}/${k}`;

async function everyoneReportsPause(nodes: readonly AgentNode[], on: boolean): Promise<void> {
  await waitFor(`every member to report pause ${on}`, async () => {
    const all = await Promise.all(nodes.map((n) => n.status()));
    return all.every((s) => (s?.['pause'] === true) === on) ? true : null;
  }, { timeoutMs: 30_000 });
}

/** The config key with pause lifted, written straight to etcd (no agent is there to PATCH it). */
async function resumeInEtcd(): Promise<void> {
  const text = (await etcdctl(cluster.etcd, ['get', key('config'), '--print-value-only'])).trim();
  const config = JSON.parse(text) as Record<string, unknown>;
  delete config['pause'];
  await etcdctl(cluster.etcd, ['put', key('config'), JSON.stringify(config)]);
}

describe('a bootstrap leader frozen in pause whose lease is revoked, replica agents restarted after the resume', () => {
  it('the restarted agents wait for its answer: no second primary beside it', async () => {
    const leader = await cluster.waitForLeader(60_000);
    const others = cluster.others(leader);
    const history = (await etcdctl(cluster.etcd, ['get', key('history'), '--print-value-only'])).trim();
    expect(history === '' || history === '[]', `no promotion in the history key yet (${history})`).toBe(true);
    expect(await patchConfig(leader, { pause: true })).toBe(200);
    await everyoneReportsPause(cluster.nodes, true);
    await leader.query('CREATE TABLE IF NOT EXISTS paused_writes (id bigserial PRIMARY KEY)');
    const lease = await leaseHexOf(cluster.etcd, key('leader'));
    for (const n of others) await n.agent?.kill();
    leader.agent?.pause();
    try {
      await etcdctl(cluster.etcd, ['lease', 'revoke', lease]);
      await resumeInEtcd();
      for (const n of others) n.start();
      await everyoneReportsPause(others, false);
      // Their wait for a former leader not known as paused would end one ttl after they first saw
      // it: watch for two ttl's worth of their ticks (loop_wait 2 s), sampling both sides.
      const broken: string[] = [];
      const start = await Promise.all(others.map((n) => metric(n, 'pg_ha_agent_ticks_total')));
      const windowEnd = performance.now() + 2 * TTL * 1000;
      await waitFor('the restarted agents to tick past the deadline they would have waited for', async () => {
        if (!(await canWrite(leader))) broken.push('the frozen paused leader stopped taking writes');
        for (const n of others) if ((await n.health('/primary')) === 200) broken.push(`${n.name} promoted beside it`);
        const now = await Promise.all(others.map((n) => metric(n, 'pg_ha_agent_ticks_total')));
        return performance.now() >= windowEnd && now.every((v, i) => v !== null && v >= (start[i] ?? 0) + TTL) ? true : null;
      }, { timeoutMs: 4 * TTL * 1000, intervalMs: 250 });
      expect(broken).toEqual([]);
      const agentView = (await others[0]?.status())?.['pg_ha_agent'];
      expect(JSON.stringify(agentView ?? {})).toContain(`former leader ${leader.name} was paused when last seen alive`);
    } finally {
      leader.agent?.resume();
    }
    // Its agent, resumed, sees the resume and the lost key: it takes the key back or fences.
    const next = await cluster.waitForLeader(120_000);
    await cluster.waitForStreaming(cluster.others(next).map((n) => n.name), 120_000);
  }, 300_000);
});
