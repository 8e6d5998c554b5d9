// A replica that received WAL past the new timeline's fork point (not the former primary) must be
// stopped, rewound and streaming from the new leader again (SPEC S4, 5.7), without a retry loop.
// Recipe: leader L, replicas B (behind) and A (ahead). L's walsender for B is frozen (SIGSTOP)
// while writes continue, so only A receives them; L's agent and postmaster are killed; a failover
// request makes B the leader despite being behind; A is then past B's fork point.
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausePid, signalPid, waitFor } from '../harness/index.js';
import { agentctl, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
const figures: Record<string, number | string> = {};

async function startCluster(scope: string, postgresqlExtra: Record<string, unknown> = {}): Promise<AgentCluster> {
  const c = await startAgentCluster({
    nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, scope, postgresqlExtra,
    // B is chosen by hand although it is behind: keep the lag check out of the way.
    dcsExtra: { maximum_lag_on_failover: 256 * 1024 * 1024 },
  });
  const leader = await c.waitForLeader(120_000);
  await c.waitForStreaming(c.others(leader).map((n) => n.name), 120_000);
  return c;
}

beforeAll(async () => {
  cluster = await startCluster('diverge');
});

afterAll(() => {
  console.log(`replica-divergence figures: ${JSON.stringify(figures)}`);
});

async function lsn(node: AgentNode, sql: string): Promise<string> {
  const rows = await node.query<{ l: string | null }>(`SELECT (${sql})::text AS l`);
  const l = rows[0]?.l;
  if (!l) throw new Error(`${node.name}: ${sql} returned null`);
  return l;
}

async function lsnDiff(node: AgentNode, a: string, b: string): Promise<number> {
  const rows = await node.query<{ d: string }>('SELECT pg_catalog.pg_wal_lsn_diff($1, $2)::text AS d', [a, b]);
  return Number(rows[0]?.d);
}

/** Log lines of the node's agent that say a job of this kind started. */
function jobStarts(node: AgentNode, kind: string): number {
  const file = node.agent?.logFile;
  if (!file) return 0;
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"msg":"job started"') && l.includes(`"job":"${kind}"`)).length;
}

interface Diverged {
  readonly leader: AgentNode;
  readonly behind: AgentNode;
  readonly ahead: AgentNode;
  /** performance.now() when the behind node became the leader. */
  readonly t0: number;
}

/** Leader L, then B leads although A received more of L's WAL: A is past B's fork point. */
async function divergeAhead(cluster: AgentCluster): Promise<Diverged> {
  const leader = await cluster.waitForLeader();
  const [behind, ahead] = cluster.others(leader) as [AgentNode, AgentNode];
  await leader.query('CREATE TABLE t (id int PRIMARY KEY, pad text)');
  await leader.query("INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g");
  const base = await lsn(leader, 'pg_catalog.pg_current_wal_lsn()');
  await waitFor('both replicas replayed the base rows', async () => {
    for (const n of [behind, ahead]) if ((await lsnDiff(n, await lsn(n, 'pg_catalog.pg_last_wal_replay_lsn()'), base)) < 0) return null;
    return true;
  });

  // Freeze the walsender that serves B: from now on only A receives WAL.
  const [sender] = await leader.query<{ pid: number }>('SELECT pid FROM pg_stat_replication WHERE application_name = $1', [behind.name]);
  expect(sender?.pid).toBeTruthy();
  pausePid(sender?.pid as number, `${leader.name} walsender for ${behind.name}`);
  for (let i = 0; i < 10; i++) {
    await leader.query(`INSERT INTO t SELECT g, repeat('y', 100) FROM generate_series(${1001 + i * 1000}, ${1000 + (i + 1) * 1000}) g`);
  }
  const end = await lsn(leader, 'pg_catalog.pg_current_wal_lsn()');
  await waitFor('A replayed everything', async () => (await lsnDiff(ahead, await lsn(ahead, 'pg_catalog.pg_last_wal_replay_lsn()'), end)) >= 0 || null);
  const aheadAt = await lsn(ahead, 'pg_catalog.pg_last_wal_replay_lsn()');

  // Host loss of L: agent, postmaster, and the frozen walsender (SIGKILL ends a stopped process).
  const pm = leader.postmasterPid();
  await leader.agent?.kill();
  if (pm !== null) process.kill(pm, 'SIGKILL');
  signalPid(sender?.pid as number, 'SIGKILL');
  await waitFor('L postmaster gone', () => leader.postmasterPid() === null || null);

  // Make B the leader although it is behind.
  const res = fetch(`http://127.0.0.1:${behind.apiPort}/failover`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ candidate: behind.name }),
    signal: AbortSignal.timeout(60_000),
  }).then((r) => r.status, (e: unknown) => String(e));
  const next = await cluster.waitForLeader(90_000, [leader.name]);
  const t0 = performance.now();
  figures['failoverStatus'] = await res;
  expect(next.name).toBe(behind.name);

  // Precondition: A really went past B's fork point.
  const history = (await behind.query<{ h: string }>("SELECT pg_catalog.pg_read_file('pg_wal/00000002.history') AS h"))[0]?.h ?? '';
  const fork = history.trim().split('\n').pop()?.split(/\s+/)[1] ?? '';
  expect(fork).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  figures['aheadPastForkBytes'] = await lsnDiff(behind, aheadAt, fork);
  expect(figures['aheadPastForkBytes']).toBeGreaterThan(0);

  return { leader, behind, ahead, t0 };
}

/** Wait until `ahead` streams timeline 2 from `behind`; on a timeout say how often its agent tried. */
async function waitStreamingNewTimeline(ahead: AgentNode, behind: AgentNode): Promise<void> {
  // Not just the walreceiver connecting (it streams timeline 1 up to the fork point and then
  // fails): streaming timeline 2, as its agent also reports.
  const streamingOnNewTimeline = waitFor(`${ahead.name} streaming timeline 2 from ${behind.name}`, async () => {
    const [wr] = await ahead.query<{ status: string; sender_port: number; received_tli: number }>(
      'SELECT status, sender_port, received_tli FROM pg_stat_wal_receiver');
    if (wr?.status !== 'streaming' || wr.sender_port !== behind.pgPort || wr.received_tli !== 2) return null;
    const st = await ahead.status();
    return st?.timeline === 2 && st.replication_state === 'streaming' ? true : null;
  }, { timeoutMs: 120_000, intervalMs: 200 });
  await streamingOnNewTimeline.catch((err: unknown) => {
    const log = readFileSync(ahead.agent?.logFile ?? '/dev/null', 'utf8');
    throw new Error(`${String(err)}; ${ahead.name} started ${jobStarts(ahead, 'rejoin')} rejoin jobs, ` +
      `${log.split('stop it before checking for divergence').length - 1} failed on a running postgresql`);
  });
}

describe('a replica ahead of the new timeline fork point', () => {
  it('is rewound and streams from the new leader; its agent does not loop', async () => {
    const { behind, ahead, t0 } = await divergeAhead(cluster);
    await waitStreamingNewTimeline(ahead, behind);
    figures['promotionToAheadStreamingMs'] = Math.round(performance.now() - t0);
    // The diverged rows are gone from A, the rows B had are there, and new writes arrive.
    await behind.query("INSERT INTO t VALUES (999999, 'after')");
    await waitFor('A has the new row', async () => ((await ahead.query('SELECT 1 FROM t WHERE id = 999999')).length === 1) || null);
    const [counts] = await ahead.query<{ c: string }>('SELECT count(*)::text AS c FROM t');
    const [countsB] = await behind.query<{ c: string }>('SELECT count(*)::text AS c FROM t');
    expect(counts?.c).toBe(countsB?.c);
    figures['aheadRejoinJobs'] = jobStarts(ahead, 'rejoin');
    // One rejoin does it; a couple more would still be no loop, dozens would.
    expect(figures['aheadRejoinJobs']).toBeLessThanOrEqual(3);
  });

  it('a start that keeps failing is retried with growing waits, shown in /patroni and agentctl list', async () => {
    const leader = await cluster.waitForLeader();
    const replica = cluster.others(leader).find((n) => n.agentRunning()) as AgentNode;
    // A setting PostgreSQL refuses, in a file the agent does not manage: every start fails.
    await replica.agent?.kill();
    const pm = replica.postmasterPid();
    if (pm !== null) process.kill(pm, 'SIGINT');
    await waitFor('replica postmaster stopped', () => replica.postmasterPid() === null || null);
    const auto = join(replica.dataDir, 'postgresql.auto.conf');
    const original = readFileSync(auto, 'utf8');
    appendFileSync(auto, '\nbogus_setting_for_backoff_test = 1\n');
    replica.start();
    const starts0 = jobStarts(replica, 'startReplica');
    const seen: { failures: number; delay: number }[] = [];
    type Body = { pg_ha_agent?: { pending_job_backoff?: { failures: number; delay_seconds: number; last_error: string } } };
    await waitFor('three failed starts in a row', async () => {
      const b = ((await replica.status()) as Body | null)?.pg_ha_agent?.pending_job_backoff;
      if (b && !seen.some((s) => s.failures === b.failures)) seen.push({ failures: b.failures, delay: b.delay_seconds });
      return b !== undefined && b.failures >= 3 ? b : null;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    figures['backoffSeen'] = JSON.stringify(seen);
    // 5 s, 10 s, 20 s, ...: each failure in a row doubles the wait.
    for (const s of seen) expect(s.delay, `wait after failure ${s.failures}`).toBe(5 * 2 ** (s.failures - 1));
    const body = (await replica.status()) as Body;
    expect(body.pg_ha_agent?.pending_job_backoff?.last_error).toContain('bogus_setting_for_backoff_test');
    const list = await agentctl(replica.configPath, ['list']);
    expect(list.stdout).toMatch(new RegExp(`Backing off: ${replica.name} job startReplica \\(${leader.name}\\) failed [3-9] times in a row`));
    // Roughly 5 + 10 s for three failures: not one start per tick.
    expect(jobStarts(replica, 'startReplica') - starts0).toBeLessThanOrEqual(4);

    writeFileSync(auto, original);
    await cluster.waitStreamingFrom(replica, leader, 90_000);
    await waitFor('backoff cleared after the start succeeded', async () => {
      const b = ((await replica.status()) as Body | null)?.pg_ha_agent;
      return b !== undefined && b.pending_job_backoff === undefined ? true : null;
    }, { timeoutMs: 30_000 });
  });
});

describe('a diverged replica whose pg_rewind fails', () => {
  it('is re-cloned when remove_data_directory_on_rewind_failure allows it, its old data kept aside', async () => {
    const c = await startCluster('diverge-reclone', { remove_data_directory_on_rewind_failure: true });
    // pg_rewind logs in as the rewind user: make that fail (the superuser's fork check still works).
    await (await c.waitForLeader()).query('ALTER ROLE rewind_user NOLOGIN');
    const { behind, ahead, t0 } = await divergeAhead(c);
    await waitStreamingNewTimeline(ahead, behind);
    figures['recloneToStreamingMs'] = Math.round(performance.now() - t0);
    const dir = dirname(ahead.dataDir);
    const aside = readdirSync(dir).filter((f) => f.startsWith(`${basename(ahead.dataDir)}.reinit.`));
    expect(aside).toHaveLength(1);
    const log = readFileSync(ahead.agent?.logFile ?? '/dev/null', 'utf8');
    expect(log).toContain('re-cloning from');
    expect(log).toContain('is not permitted to log in');
    expect(jobStarts(ahead, 'reinit')).toBe(1);
    expect(jobStarts(ahead, 'rejoin')).toBeLessThanOrEqual(3);
    figures['recloneRejoinJobs'] = jobStarts(ahead, 'rejoin');
  });
});
