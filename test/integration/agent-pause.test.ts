// Maintenance mode and refusing foreign data, on a real cluster.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createPrimary, waitFor } from '../harness/index.js';
import { metric, patchConfig, prepareNode, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
let leader: AgentNode;
const figures: Record<string, number> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, scope: 'pause' });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
});

afterAll(() => {
  console.log(`agent-pause figures: ${JSON.stringify(figures)}`);
});

/** Wait until every running agent has completed `n` more ticks: they all looked at the new state. */
async function ticksPass(nodes: readonly AgentNode[], n: number): Promise<void> {
  const start = await Promise.all(nodes.map((x) => metric(x, 'pg_ha_agent_ticks_total')));
  await waitFor(`${n} more ticks on every agent`, async () => {
    const now = await Promise.all(nodes.map((x) => metric(x, 'pg_ha_agent_ticks_total')));
    return now.every((v, i) => v !== null && v >= (start[i] ?? 0) + n) ? true : null;
  }, { timeoutMs: 60_000, intervalMs: 200 });
}

describe('pause (maintenance mode)', () => {
  it('pauses: a killed leader postmaster is neither restarted nor failed over', async () => {
    expect(await patchConfig(leader, { pause: true })).toBe(200);
    await waitFor('every member reports pause', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => n.status()));
      return all.every((s) => s?.['pause'] === true) ? true : null;
    });
    const pid = leader.postmasterPid();
    expect(pid).not.toBeNull();
    process.kill(pid as number, 'SIGKILL');
    await waitFor('the postmaster to die', () => leader.postmasterPid() === null || null);
    // Several ticks of every agent (well past the lease TTL's worth of loop_waits for the leader).
    await ticksPass(cluster.nodes, 4);
    expect(leader.postmasterPid()).toBeNull();
    for (const n of cluster.others(leader)) {
      const st = await n.status();
      expect(st?.role).toBe('replica');
      expect(await n.health('/primary')).toBe(503);
    }
    // The leader still holds the key (it renews in pause), so nobody else could take it.
    expect(await leader.health('/leader')).toBe(200);
  });

  it('resumes: the leader restarts its postgresql and the replicas stream again', async () => {
    const t0 = performance.now();
    expect(await patchConfig(leader, { pause: null })).toBe(200);
    const back = await cluster.waitForLeader(90_000);
    figures['resumeToPrimaryMs'] = Math.round(performance.now() - t0);
    expect(back.name).toBe(leader.name);
    await cluster.waitForStreaming(cluster.others(back).map((n) => n.name), 90_000);
    const all = await Promise.all(cluster.nodes.map((n) => n.status()));
    expect(all.every((s) => s?.['pause'] !== true)).toBe(true);
  });

  it('a paused leader frozen while the pause is lifted is not failed over by its deadline: the replicas wait for its answer', async () => {
    leader = await cluster.waitForLeader();
    const replicas = cluster.others(leader);
    await cluster.waitForStreaming(replicas.map((n) => n.name), 90_000);
    expect(await patchConfig(leader, { pause: true })).toBe(200);
    await waitFor('every member reports pause', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => n.status()));
      return all.every((s) => s?.['pause'] === true) ? true : null;
    });
    const first = replicas[0] as AgentNode;
    // SIGSTOP: in pause the agent neither renews nor fences; its PostgreSQL stays writable.
    leader.agent?.pause();
    try {
      await waitFor('the leader key to lapse in pause', async () => ((await first.status())?.['cluster_unlocked'] === true ? true : null), { timeoutMs: 60_000 });
      expect(await patchConfig(first, { pause: null })).toBe(200);
      await waitFor('a replica to say why it does not fail over', async () => {
        for (const r of replicas) {
          const why = ((await r.status())?.['pg_ha_agent'] as { last_decision?: { reason?: string } } | undefined)?.last_decision?.reason;
          if (typeof why === 'string' && why.includes(`former leader ${leader.name} was paused when last seen alive`)) return true;
        }
        return null;
      }, { timeoutMs: 60_000 });
      await ticksPass(replicas, 3);
      for (const r of replicas) expect((await r.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r, r.name).toBe(true);
      expect((await leader.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(false);
    } finally {
      leader.agent?.resume();
    }
    // Running again, it sees the resume and no key: it takes the key back (or fences); one leader after.
    const next = await cluster.waitForLeader(90_000);
    await cluster.waitForStreaming(cluster.others(next).map((n) => n.name), 120_000);
  });
});

describe('foreign data', () => {
  it('an agent whose data dir belongs to another cluster refuses to start it and exits with a clear message', async () => {
    // The leader as it is now: the frozen paused leader of the test before may have fenced, and
    // another member taken over.
    const before = await cluster.waitForLeader();
    const other = await createPrimary({ name: 'foreign' });
    await other.stop();
    const node = await prepareNode({ name: 'intruder', etcd: cluster.etcd, scope: cluster.scope, dataDir: other.dataDir });
    const agent = node.start();
    const exit = await agent.waitExit(60_000);
    expect(exit.code).toBe(3);
    expect(agent.output()).toMatch(/system identifier .* another cluster/);
    expect(node.postmasterPid()).toBeNull();
    // The cluster is untouched.
    expect((await cluster.waitForLeader()).name).toBe(before.name);
  });
});

describe('SIGTERM', () => {
  it('in pause, stopping the leader agent leaves its PostgreSQL running', async () => {
    leader = await cluster.waitForLeader();
    expect(await patchConfig(leader, { pause: true })).toBe(200);
    await waitFor('every member reports pause', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => n.status()));
      return all.every((s) => s?.['pause'] === true) ? true : null;
    });
    const pid = leader.postmasterPid();
    const exit = await leader.agent?.stop('SIGTERM');
    expect(exit?.code).toBe(0);
    expect(leader.postmasterPid()).toBe(pid);
    leader.start();
    await waitFor('the restarted agent to answer', async () => ((await leader.health('/leader')) === 200 ? true : null), { timeoutMs: 60_000 });
    expect(leader.postmasterPid()).toBe(pid);
    expect(await patchConfig(leader, { pause: null })).toBe(200);
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 90_000);
  });

  it('a SIGTERM decides pause from etcd as it is now, not from the last tick (pause lifted while the agent was frozen)', async () => {
    leader = await cluster.waitForLeader();
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 90_000);
    expect(await patchConfig(leader, { pause: true })).toBe(200);
    await waitFor('every member reports pause', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => n.status()));
      return all.every((s) => s?.['pause'] === true) ? true : null;
    });
    // The leader's last tick saw pause; it is lifted (through another member) while it is frozen,
    // and the SIGTERM is waiting for it when it resumes.
    leader.agent?.pause();
    const other = cluster.others(leader)[0] as AgentNode;
    let exiting: Promise<{ code: number | null } | undefined> | undefined;
    try {
      expect(await patchConfig(other, { pause: null })).toBe(200);
      exiting = leader.agent?.stop('SIGTERM');
    } finally {
      leader.agent?.resume();
    }
    const exit = await exiting;
    expect(exit?.code).toBe(0);
    expect(leader.postmasterPid()).toBeNull();
    const next = await cluster.waitForLeader(60_000, [leader.name]);
    leader.start();
    await cluster.waitStreamingFrom(leader, next, 90_000);
  });

  it('stopping the leader agent stops PostgreSQL and hands the key over at once (no wait for the TTL)', async () => {
    leader = await cluster.waitForLeader();
    await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 90_000);
    const t0 = performance.now();
    const exit = await leader.agent?.stop('SIGTERM');
    expect(exit?.code).toBe(0);
    expect(leader.postmasterPid()).toBeNull();
    const next = await waitFor('a new leader', async () => {
      for (const n of cluster.others(leader)) if ((await n.health('/primary')) === 200) return n;
      return null;
    }, { timeoutMs: 60_000, intervalMs: 50 });
    figures['sigtermToNewLeaderMs'] = Math.round(performance.now() - t0);
    // A released key, not an expired one: well under the 10 s TTL.
    expect(performance.now() - t0).toBeLessThan(8_000);
    leader.start();
    await cluster.waitStreamingFrom(leader, next, 90_000);
  });

  it('SIGHUP re-reads the config file: a new tag takes effect without a restart', async () => {
    const node = cluster.others(await cluster.waitForLeader())[0] as AgentNode;
    const text = readFileSync(node.configPath, 'utf8');
    const doc = parse(text) as Record<string, unknown>;
    writeFileSync(node.configPath, stringify({ ...doc, tags: { nofailover: true, zone: 'b' } }));
    node.agent?.signal('SIGHUP');
    await waitFor('the reloaded tags in /patroni', async () => {
      const tags = (await node.status())?.['tags'] as Record<string, unknown> | undefined;
      return tags?.['nofailover'] === true && tags['zone'] === 'b' ? true : null;
    });
    expect(await node.health('/replica?tag_zone=b')).toBe(200);
    expect(node.agentRunning()).toBe(true);
  });
});
