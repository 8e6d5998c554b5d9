// S2 in pause (sim seed 544 of set 6): the leader's agent is stopped in the moment pause is set,
// before any tick of it saw the pause. Its way out reads pause fresh and leaves PostgreSQL writable,
// the key to expire and the guard disarmed (SPEC 5.8). The replicas last saw it alive before the
// pause; after the resume they judged it by its lease deadline, long passed, and one promoted
// beside the PostgreSQL it left writable. The way out in pause now marks the status key paused
// with its name (a sign of life in pause), so the replicas wait for its own answer.
//
// "Before any tick saw the pause": the leader's agent is frozen (SIGSTOP) until both replicas have
// read everything it put, pause is written straight to etcd, its etcd links are cut, and it gets
// SIGTERM as it resumes; the links come back once its loop has ended, so the way out's fresh read
// sees the pause and the tick that started on the resume never read etcd (nor put anything).
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, waitFor } from '../harness/index.js';
import { CHAOS_SCOPE, CHAOS_TTL, commitsInto, leaderKey, leaderSession, startChaosCluster, waitHealthy, type ChaosCluster } from '../chaos/cluster.js';
import { metric, type AgentNode } from '../support/agent-cluster.js';

let c: ChaosCluster;

beforeAll(async () => {
  c = await startChaosCluster({});
}, 240_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

const configKey = `/service/${CHAOS_SCOPE}/config`;

/** The config key with pause set or lifted, written straight to etcd (in-process: no time lost). */
async function setPauseInEtcd(client: Etcd3, on: boolean): Promise<void> {
  const text = (await client.get(configKey).string()) ?? '';
  const config = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
  if (on) config['pause'] = true; else delete config['pause'];
  await client.put(configKey).value(JSON.stringify(config));
}

async function reasonOf(n: AgentNode): Promise<string> {
  const s = await n.status();
  return JSON.stringify((s?.['pg_ha_agent'] as { last_decision?: unknown } | undefined)?.last_decision ?? null);
}

/** Waits until each node has completed `n` more ticks than it had when called. */
async function ticksPass(nodes: readonly AgentNode[], n: number): Promise<void> {
  const start = await Promise.all(nodes.map((x) => metric(x, 'pg_ha_agent_ticks_total')));
  await waitFor(`${n} ticks of ${nodes.map((x) => x.name).join(', ')}`, async () => {
    const now = await Promise.all(nodes.map((x) => metric(x, 'pg_ha_agent_ticks_total')));
    return now.every((v, i) => v !== null && v >= (start[i] ?? Infinity) + n) ? true : null;
  }, { timeoutMs: 30_000, intervalMs: 100 });
}

describe('the leader stopped as pause is set, before a tick of it saw the pause', () => {
  it('after the resume no replica promotes beside the postgresql it left writable', async () => {
    const { leader, others, session } = await leaderSession(c, 'late_pause_writes');
    const commits = (): Promise<boolean> => commitsInto(session, 'late_pause_writes');
    const links = c.linksOf(leader).etcd;
    const client = new Etcd3({ hosts: c.etcd.endpoints.map((e) => `http://${e}`) });
    let frozen: { resume(): void } | null = null;
    try {
      await client.get(configKey).string();
      const old = leader.agent;
      if (!old) throw new Error(`${leader.name} has no agent`);
      old.pause();
      frozen = old;
      await ticksPass(others, 2);
      await setPauseInEtcd(client, true);
      const cutAt = Date.now();
      for (const p of links) p.cut('blackhole');
      c.expectExit(leader);
      old.signal('SIGTERM');
      old.resume();
      frozen = null;
      await waitFor(`${leader.name}'s loop to end`, () => (old.output(256_000).includes('"stage":"leaving the loop"') ? true : null), { timeoutMs: 15_000, intervalMs: 5 });
      for (const p of links) p.restore();
      expect((await old.waitExit(60_000)).code).toBe(0);
      expect(old.output(64_000), 'the way out read the pause').toContain('paused: leaving postgresql running');
      // No tick of it ended once it was cut off (one would have put the status key in pause).
      const ticks = old.output(256_000).split('\n').filter((l) => l.includes('"msg":"tick"') && Date.parse((JSON.parse(l) as { time: string }).time) >= cutAt);
      expect(ticks, 'ticks of the leader after the cut').toEqual([]);
      expect(await commits(), 'the postgresql left in pause still takes writes').toBe(true);
      // Its key lapses with its lease; nobody takes it in pause.
      await waitFor('the leader key to lapse', async () => ((await etcdctl(c.etcd, ['get', leaderKey(), '--print-value-only'])).trim() === '' ? true : null), { timeoutMs: 4 * CHAOS_TTL * 1000 });
      await setPauseInEtcd(client, false);
      // A replica that judges it by its deadline promotes within a tick or two of the resume:
      // watch two ttl's worth, sampling both sides.
      const broken: string[] = [];
      const windowEnd = performance.now() + 2 * CHAOS_TTL * 1000;
      await waitFor('two ttl after the resume', async () => {
        for (const n of others) if ((await n.health('/primary')) === 200) broken.push(`${n.name} promoted`);
        return performance.now() >= windowEnd ? true : null;
      }, { timeoutMs: 4 * CHAOS_TTL * 1000, intervalMs: 250 });
      const stillWrites = await commits();
      const reasons = await Promise.all(others.map(reasonOf));
      expect(broken, `beside the old primary (which ${stillWrites ? 'still' : 'no longer'} takes writes); the replicas said: ${reasons.join('; ')}`).toEqual([]);
      expect(stillWrites).toBe(true);
      expect(reasons.join('\n')).toContain(`former leader ${leader.name} was paused when last seen alive`);
    } finally {
      frozen?.resume();
      for (const p of links) p.restore();
      await session.end().catch(() => undefined);
      client.close();
    }
    // Its agent back: it takes the key again for the postgresql it left writable, or fences it.
    leader.start();
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);
});
