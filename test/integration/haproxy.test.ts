// A real HAProxy, configured from the shipped config/haproxy.cfg, in front of a real 3-node
// cluster: the writer port reaches the leader, the reader port the replicas, and after a host
// loss (kill -9 of the leader's agent and postmaster) the same writer port reaches the new leader.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StopWaiting, runCommand, waitFor } from '../harness/index.js';
import { SUPERUSER_PASSWORD, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';
import { SHIPPED_HAPROXY_CFG, renderHaproxyConfig, startHaproxy, type Haproxy } from '../support/haproxy.js';

let cluster: AgentCluster;
let leader: AgentNode;
let haproxy: Haproxy;
const figures: Record<string, number> = {};

interface Answer { port: number; inRecovery: boolean }

async function viaPort<T extends Record<string, unknown>>(port: number, sql: string): Promise<T> {
  const c = new pg.Client({
    host: '127.0.0.1', port, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres',
    connectionTimeoutMillis: 2000, query_timeout: 5000,
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const row = (await c.query(sql)).rows[0] as T | undefined;
    if (!row) throw new Error(`no row from: ${sql}`);
    return row;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** An insert through `port`; the row records which server took it. */
async function writeVia(port: number): Promise<Answer> {
  const r = await viaPort<{ port: number; rec: boolean }>(port,
    'INSERT INTO via_haproxy (port) VALUES (inet_server_port()) RETURNING port, pg_is_in_recovery() AS rec');
  return { port: r.port, inRecovery: r.rec };
}

async function readVia(port: number): Promise<Answer> {
  const r = await viaPort<{ port: number; rec: boolean }>(port, 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS rec');
  return { port: r.port, inRecovery: r.rec };
}

function nodeByPgPort(port: number): AgentNode {
  const n = cluster.nodes.find((x) => x.pgPort === port);
  if (!n) throw new Error(`no node has PostgreSQL port ${port}`);
  return n;
}

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4 });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((r) => r.name), 120_000);
  haproxy = await startHaproxy({
    // The shipped check timing as is: the failover figure below is what users get.
    backends: cluster.nodes.map((n) => ({ name: n.name, pgPort: n.pgPort, apiPort: n.apiPort })),
  });
});

afterAll(() => {
  console.log(`haproxy figures: ${JSON.stringify(figures)}`);
});

describe('HAProxy with config/haproxy.cfg in front of a 3-node cluster', () => {
  it('tests the shipped file: valid as shipped, and the rendered copy keeps its checks', async () => {
    await runCommand('/usr/sbin/haproxy', ['-c', '-f', SHIPPED_HAPROXY_CFG]);
    const rendered = readFileSync(haproxy.configPath, 'utf8');
    const checkLines = (text: string): string[] => text.split('\n').map((l) => l.trim())
      .filter((l) => /^(option httpchk|http-check|default-server|balance|mode|timeout|retries)\b/.test(l));
    expect(checkLines(rendered)).toEqual(checkLines(readFileSync(SHIPPED_HAPROXY_CFG, 'utf8')));
    expect(rendered).toContain('option httpchk OPTIONS /primary');
    expect(rendered).toContain('option httpchk OPTIONS /replica');
    for (const n of cluster.nodes) expect(rendered).toContain(`server ${n.name} 127.0.0.1:${n.pgPort} maxconn 300 check port ${n.apiPort}`);
    expect(() => renderHaproxyConfig('global\nlisten writer\n  bind *:1\n', {
      ports: { writer: 1, readers: 2, stats: 3 }, backends: [{ name: 'a', pgPort: 1, apiPort: 2 }],
    })).toThrow(/no 'listen readers' section/);
  });

  it('sends writes through the writer port to the leader', async () => {
    await haproxy.waitServersUp('writer', [leader.name]);
    await leader.query('CREATE TABLE via_haproxy (id serial PRIMARY KEY, port int NOT NULL)');
    for (let i = 0; i < 5; i++) {
      const a = await writeVia(haproxy.writerPort);
      expect(a).toEqual({ port: leader.pgPort, inRecovery: false });
    }
    const rows = await leader.query<{ c: string }>(`SELECT count(*) AS c FROM via_haproxy WHERE port = ${leader.pgPort}`);
    expect(rows[0]?.c).toBe('5');
  });

  it('sends reads through the reader port to both replicas, never to the leader', async () => {
    const replicas = cluster.others(leader);
    await haproxy.waitServersUp('readers', replicas.map((r) => r.name));
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const a = await readVia(haproxy.readerPort);
      expect(a.inRecovery).toBe(true);
      expect(replicas.map((r) => r.pgPort)).toContain(a.port);
      seen.add(a.port);
    }
    expect([...seen].sort()).toEqual(replicas.map((r) => r.pgPort).sort());
    // The writes made through the writer port are readable through the reader port.
    await waitFor('writes replicated to both replicas', async () => {
      const counts = await Promise.all([0, 1, 2, 3].map(() => viaPort<{ c: string }>(haproxy.readerPort, 'SELECT count(*) AS c FROM via_haproxy')));
      return counts.every((r) => r.c === '5') ? true : null;
    });
  });

  it('after kill -9 of the leader agent and postmaster, writes through the same writer port reach the new leader', async () => {
    const old = leader;
    const pid = old.postmasterPid();
    expect(pid).not.toBeNull();
    const t0 = performance.now();
    await old.agent?.kill();
    process.kill(pid as number, 'SIGKILL');
    const primaryAnswer = cluster.waitForLeader(90_000, [old.name]).then((n) => {
      figures['killToNewPrimary200Ms'] = Math.round(performance.now() - t0);
      return n;
    });
    const first = await waitFor('a write through the writer port accepted by a new leader', async () => {
      let a: Answer;
      try {
        a = await writeVia(haproxy.writerPort);
      } catch {
        return null;
      }
      if (a.port === old.pgPort) throw new StopWaiting('a write through the writer port reached the killed leader');
      return a;
    }, { timeoutMs: 90_000, intervalMs: 50 });
    figures['killToFirstWriteViaHaproxyMs'] = Math.round(performance.now() - t0);
    expect(first.inRecovery).toBe(false);
    leader = nodeByPgPort(first.port);
    expect((await primaryAnswer).name).toBe(leader.name);
    figures['haproxyLagAfterPrimary200Ms'] = figures['killToFirstWriteViaHaproxyMs'] - (figures['killToNewPrimary200Ms'] ?? 0);
    await haproxy.waitServersUp('writer', [leader.name]);
    for (let i = 0; i < 3; i++) expect(await writeVia(haproxy.writerPort)).toEqual({ port: leader.pgPort, inRecovery: false });
    // The remaining replica follows the new leader and alone serves the reader port.
    const third = cluster.others(leader).find((n) => n !== old) as AgentNode;
    await cluster.waitStreamingFrom(third, leader);
    await haproxy.waitServersUp('readers', [third.name]);
    for (let i = 0; i < 4; i++) expect(await readVia(haproxy.readerPort)).toEqual({ port: third.pgPort, inRecovery: true });
  });
});
