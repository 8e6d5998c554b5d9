// S2 on real processes (simulator seed 319 of fault set 5): a replica whose PostgreSQL crashed and
// cannot start again for a moment holds WAL that another replica lacks. Its agent still answers
// GET /patroni, and pg_control alone says little (a replica's last restartpoint is old): a racing
// replica with less WAL read that as "behind" and promoted, losing acknowledged commits. The agent
// now reports the furthest WAL it saw while PostgreSQL ran (pg_ha_agent.stopped_wal), and the race
// waits (up to ttl) for that member to start and compete.
//
// The set-up: node B's agent is killed and its PostgreSQL stopped; rows are committed on the
// leader and reach node A only; A's postmaster is killed and its port taken, so its restarts fail;
// the leader stops cleanly (SIGTERM) and releases the key; B's agent starts again and races. A's
// port is freed once B has decided.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, isAlive, waitFor } from '../harness/index.js';
import { startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
const figures: Record<string, number> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({
    nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, logLevel: 'info', scope: 'stoppedwal',
    dcsExtra: {
      postgresql: {
        use_pg_rewind: true, use_slots: true,
        parameters: { fsync: 'off', shared_buffers: '32MB', max_connections: 50 },
      },
    },
  });
  const leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
}, 240_000);

afterAll(() => {
  console.log(`stopped-replica-wal figures: ${JSON.stringify(figures)}`);
});

const count = async (n: AgentNode): Promise<number> => Number((await n.query<{ n: string }>('SELECT count(*) AS n FROM acked'))[0]?.n ?? -1);

/** Takes the port as soon as the dying postmaster lets go of it. */
async function holdPort(port: number): Promise<Server> {
  return waitFor(`port ${port} to be free`, () => new Promise<Server | null>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  }), { timeoutMs: 10_000, intervalMs: 5 });
}

describe('a replica with more WAL whose postgresql is down for a moment', () => {
  it('is waited for: the new leader has every acknowledged commit', async () => {
    const leader = await cluster.waitForLeader(60_000);
    const [a, b] = cluster.others(leader) as [AgentNode, AgentNode];
    await leader.query('CREATE TABLE acked (id int PRIMARY KEY)');
    await waitFor('the table on both replicas', async () => ((await count(a)) === 0 && (await count(b)) === 0 ? true : null), { timeoutMs: 30_000 });
    await b.agent?.kill();
    const bPm = b.postmasterPid();
    if (bPm === null) throw new Error(`${b.name} has no postmaster`);
    process.kill(bPm, 'SIGINT'); // fast shutdown
    await waitFor(`${b.name}'s postgresql stopped`, () => (isAlive(bPm) ? null : true), { timeoutMs: 30_000 });
    let port: Server | null = null;
    try {
      await leader.query('INSERT INTO acked SELECT generate_series(1, 100)');
      await waitFor(`${a.name} to replay the 100 rows`, async () => ((await count(a)) === 100 ? true : null), { timeoutMs: 30_000 });
      // A's agent has seen the rows while PostgreSQL ran: its member key (put by its tick) says so.
      const end = Number((await leader.query<{ lsn: string }>("SELECT pg_current_wal_lsn() - '0/0' AS lsn"))[0]?.lsn);
      await waitFor(`${a.name}'s member key at the leader's position ${end}`, async () => {
        const member = JSON.parse(await etcdctl(cluster.etcd, ['get', `/service/stoppedwal/members/${a.name}`, '--print-value-only'])) as { xlog_location?: number };
        return (member.xlog_location ?? 0) >= end ? true : null;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      const pm = a.postmasterPid();
      if (pm === null) throw new Error(`${a.name} has no postmaster`);
      process.kill(pm, 'SIGKILL');
      port = await holdPort(a.pgPort);
      await waitFor(`${a.name}'s postmaster gone`, () => (isAlive(pm) ? null : true), { timeoutMs: 10_000 });
      const killedAt = Date.now();
      await waitFor(`a start of ${a.name}'s postgresql to fail on the taken port`, () =>
        (a.logSince(killedAt).some((j) => j['msg'] === 'job failed') ? true : null), { timeoutMs: 30_000, intervalMs: 50 });
      leader.agent?.signal('SIGTERM');
      await leader.agent?.waitExit(60_000);
      const t0 = performance.now();
      const stoppedAt = Date.now();
      b.start();
      // B's first decision in the race (before the fix: taking the key), then A may start.
      await waitFor(`${b.name} to decide in the race`, () =>
        (b.logSince(stoppedAt).some((j) => j['msg'] === 'tick' && /^(not promoting|taking the leader key)/.test(String(j['reason']))) ? true : null), { timeoutMs: 60_000, intervalMs: 50 });
      port.close();
      port = null;
      const next = await cluster.waitForLeader(60_000, [leader.name]);
      figures['newLeaderAfterMs'] = Math.round(performance.now() - t0);
      expect(await count(next), `${next.name} leads; ${b.name} said:\n${b.logTail().split('\n').filter((l) => l.includes('"reason"')).slice(-5).join('\n')}`).toBe(100);
      expect(next.name).toBe(a.name);
    } finally {
      port?.close();
    }
  });
});
