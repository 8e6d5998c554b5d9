// A replica still on timeline 1 when the only member of timeline 2 dies (Patroni's recovery.feature,
// "crashed primary demotes after failed attempt to start", made deterministic): it promotes to a
// fresh timeline 3 after writing timeline 2's history file, never to a second timeline 2 (S4), and
// the member of timeline 2 rejoins it through pg_rewind.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import { startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
const figures: Record<string, number> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4 });
});

afterAll(() => {
  console.log(`timeline-catchup figures: ${JSON.stringify(figures)}`);
});

/** A setting PostgreSQL refuses at start-up (what recovery.feature does), then a crash. */
async function crashUnstartable(n: AgentNode): Promise<string> {
  const autoConf = join(n.dataDir, 'postgresql.auto.conf');
  const saved = await readFile(autoConf, 'utf8');
  await writeFile(autoConf, 'foo=bar\n');
  process.kill(n.postmasterPid() as number, 'SIGKILL');
  return saved;
}

async function timeline(n: AgentNode): Promise<number> {
  return waitFor(`${n.name} to report a timeline as primary`, async () => {
    const st = await n.status();
    return st?.role === 'primary' && typeof st.timeline === 'number' ? st.timeline : null;
  });
}

describe('a replica behind the newest timeline', () => {
  it('promotes to a fresh timeline when the only member of the newest one cannot start', async () => {
    const first = await cluster.waitForLeader(120_000);
    const [second, late] = cluster.others(first) as [AgentNode, AgentNode];
    await cluster.waitForStreaming([second.name, late.name], 120_000);
    await first.query('CREATE TABLE t (id int PRIMARY KEY)');
    await first.query('INSERT INTO t SELECT generate_series(1, 100)');
    await waitFor('rows on the replicas', async () => {
      const c = await Promise.all([second, late].map(async (n) => (await n.query<{ c: string }>('SELECT count(*) AS c FROM t'))[0]?.c));
      return c.every((x) => x === '100') ? true : null;
    });
    // `late` sits out timeline 2: its agent and its PostgreSQL stop (a replica's agent leaves it running).
    await late.agent?.stop();
    const latePid = late.postmasterPid() as number;
    process.kill(latePid, 'SIGINT');
    await waitFor(`${late.name}'s postmaster to stop`, async () => (late.postmasterPid() === null ? true : null));
    const savedFirst = await crashUnstartable(first);
    const next = await cluster.waitForLeader(60_000, [first.name, late.name]);
    expect(next.name).toBe(second.name);
    expect(await timeline(second)).toBe(2);
    // Timeline 2's only member crashes and cannot start again either; it gives the key up.
    const savedSecond = await crashUnstartable(second);
    await waitFor('the leader key released', async () => ((await second.health('/primary')) === 503 ? true : null), { timeoutMs: 60_000 });
    const t0 = performance.now();
    late.start();
    const leader = await cluster.waitForLeader(90_000);
    figures['lateStartToLeaderMs'] = Math.round(performance.now() - t0);
    expect(leader.name).toBe(late.name);
    expect(await timeline(late)).toBe(3);
    expect(existsSync(join(late.dataDir, 'pg_wal', '00000002.history'))).toBe(true);
    const own = await late.query<{ h: string }>("SELECT pg_read_file('pg_wal/00000003.history') AS h");
    expect(own[0]?.h).toMatch(/^1\t/m);
    expect(late.logTail()).not.toContain('"level":60');
    await late.query('INSERT INTO t VALUES (1000)');
    // Both others rejoin once they can start: the member of timeline 2 wrote past the fork, so
    // only pg_rewind brings it onto timeline 3.
    await writeFile(join(first.dataDir, 'postgresql.auto.conf'), savedFirst);
    await writeFile(join(second.dataDir, 'postgresql.auto.conf'), savedSecond);
    await cluster.waitForStreaming([first.name, second.name], 120_000);
    for (const n of [first, second]) {
      await waitFor(`row 1000 on ${n.name}`, async () => ((await n.query('SELECT 1 FROM t WHERE id = 1000')).length === 1 ? true : null));
      const c = await n.query<{ c: string }>('SELECT count(*) AS c FROM t');
      expect(c[0]?.c).toBe('101');
    }
    expect(second.agent?.output(2_000_000)).toMatch(/pg_rewind|rewound/);
  });
});
