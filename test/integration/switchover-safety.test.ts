// A switchover never drops a commit, and never leaves the cluster without a primary (issue 10,
// SPEC 5.6 and 5.8), on real etcd, PostgreSQL and agents with a writer every 20 ms:
// - a switchover whose stop does not finish cleanly (a backend that cannot be terminated, so the
//   fast shutdown escalates) is aborted: the old leader keeps the key and serves writes again;
// - a switchover whose candidate does not receive the shutdown checkpoint (its walreceiver
//   stopped) is aborted the same way;
// - in pause, a switchover to a named candidate completes (with and without --force), with one
//   primary at every moment; if the candidate does not take the key, the old leader comes back.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import {
  agentctl, startAgentCluster, Writer, type AgentCluster, type AgentNode, type CliResult,
} from '../support/agent-cluster.js';

let cluster: AgentCluster;
const figures: Record<string, number | string | null> = {};

const ctl = (args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> =>
  agentctl(cluster.nodes[0]!.configPath, args, { timeoutMs: 180_000, ...opts });

function expectCode(r: CliResult, code: number): void {
  if (r.code !== code) throw new Error(`agentctl exited ${r.code}, expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

/** Which nodes' PostgreSQL answer as writable primaries right now. */
async function primaries(): Promise<string[]> {
  const states = await Promise.all(cluster.nodes.map(async (n) => {
    try {
      const rows = await n.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return rows[0]?.r === false ? n.name : null;
    } catch {
      return null;
    }
  }));
  return states.filter((s): s is string => s !== null);
}

/** Samples every 100 ms: the longest stretch without any primary, and whether two were ever seen. */
class PrimaryMonitor {
  private stopped = false;
  private loop: Promise<void> | null = null;
  maxTwo = 0;
  noPrimaryMs = 0;

  start(): void {
    this.loop = (async () => {
      let since: number | null = null;
      while (!this.stopped) {
        const p = await primaries();
        const now = performance.now();
        this.maxTwo = Math.max(this.maxTwo, p.length);
        if (p.length === 0) since ??= now;
        else since = null;
        if (since !== null) this.noPrimaryMs = Math.max(this.noPrimaryMs, now - since);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function leaderNow(): Promise<AgentNode> {
  return cluster.waitForLeader(120_000);
}

/** The leader, once every other node streams from it again (a previous abort restarted it). */
async function streamingLeader(): Promise<AgentNode> {
  const leader = await leaderNow();
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
  return leader;
}

async function expectNoAckedWriteLost(writer: Writer, primary: AgentNode): Promise<void> {
  const ids = writer.acked.map((a) => a.id);
  const found = await primary.query<{ id: string }>('SELECT id FROM writes WHERE id = ANY($1::bigint[])', [ids]);
  const have = new Set(found.map((r) => Number(r.id)));
  expect(ids.filter((id) => !have.has(id))).toEqual([]);
}

function logOf(node: AgentNode): string {
  return node.agent ? readFileSync(node.agent.logFile, 'utf8') : '';
}

async function pgPid(node: AgentNode, sql: string): Promise<number> {
  const rows = await node.query<{ pid: number }>(sql);
  const pid = rows[0]?.pid;
  if (typeof pid !== 'number') throw new Error(`no pid from ${sql} on ${node.name}`);
  return pid;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Starts a writer on every node, waits for acknowledged writes on `leader`. */
async function startWriter(leader: AgentNode): Promise<Writer> {
  const writer = new Writer(cluster.nodes, 20);
  // Each writer numbers its rows from 1: start from an empty table.
  await leader.query('DROP TABLE IF EXISTS writes');
  await writer.prepare(leader);
  writer.start();
  await waitFor('writes acknowledged', () => writer.acked.length >= 10);
  return writer;
}

/** An aborted switchover: agentctl exits 1 with the reason, the old leader serves writes again. */
async function expectAborted(r: CliResult, old: AgentNode, writer: Writer, t0: number, why: RegExp, label: string): Promise<void> {
  expectCode(r, 1);
  expect(r.stderr).toMatch(why);
  const back = await leaderNow();
  expect(back.name).toBe(old.name);
  await waitFor('a write acknowledged by the old leader after the abort', () =>
    writer.acked.some((a) => a.node === old.name && a.atMs > t0 + 500) ? true : null, { timeoutMs: 60_000 });
  figures[`${label}WriteGapMs`] = Math.round(writer.longestGapMs(t0));
  figures[`${label}AgentctlMs`] = Math.round(r.durationMs);
  await writer.stop();
  await expectNoAckedWriteLost(writer, old);
  // The reason is published too (the log and /patroni of the old leader).
  expect(logOf(old)).toMatch(/switchover to node\d aborted/);
  const agent = (await old.status())?.['pg_ha_agent'] as { last_switchover_aborted?: { reason: string } } | undefined;
  expect(agent?.last_switchover_aborted?.reason).toMatch(why);
  for (const n of cluster.others(old)) await cluster.waitStreamingFrom(n, old, 90_000);
}

beforeAll(async () => {
  cluster = await startAgentCluster({
    nodes: 2, ttl: 10, loopWait: 2, retryTimeout: 4, logLevel: 'info', scope: 'swsafety',
    dcsExtra: {
      // The fast stop escalates after this long (the stuck-backend test relies on it).
      primary_stop_timeout: 8,
      postgresql: {
        use_pg_rewind: true, use_slots: true,
        // A walsender whose receiver does not answer gives up after 3 s (so a stop stays clean).
        parameters: { fsync: 'off', shared_buffers: '32MB', max_connections: 50, wal_sender_timeout: '3s' },
      },
    },
  });
  const leader = await leaderNow();
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
}, 240_000);

afterAll(() => {
  console.log(`switchover-safety figures: ${JSON.stringify(figures)}`);
});

describe('switchover safety on real processes', () => {
  it('a planned switchover completes with no acknowledged write lost (write gap measured)', async () => {
    const old = await leaderNow();
    const candidate = cluster.others(old)[0]!;
    const writer = await startWriter(old);
    const t0 = performance.now();
    const r = await ctl(['switchover', '--candidate', candidate.name, '--force']);
    expectCode(r, 0);
    const next = await leaderNow();
    expect(next.name).toBe(candidate.name);
    await waitFor('a write on the new leader', () => writer.acked.some((a) => a.node === next.name) ? true : null);
    await writer.stop();
    figures['plannedWriteGapMs'] = Math.round(writer.longestGapMs(t0));
    await expectNoAckedWriteLost(writer, next);
    await cluster.waitStreamingFrom(old, next, 90_000);
  }, 240_000);

  // Figures only (SWITCHOVER_GAP_ROUNDS=N): the write gap of N planned switchovers back and forth.
  it.runIf(process.env['SWITCHOVER_GAP_ROUNDS'] !== undefined)('measures the planned switchover write gap', async () => {
    const gaps: number[] = [];
    for (let i = 0; i < Number(process.env['SWITCHOVER_GAP_ROUNDS']); i++) {
      const old = await leaderNow();
      const candidate = cluster.others(old)[0]!;
      await cluster.waitStreamingFrom(candidate, old, 90_000);
      const writer = await startWriter(old);
      const t0 = performance.now();
      const r = await ctl(['switchover', '--candidate', candidate.name, '--force', '-f', 'json']);
      expectCode(r, 0);
      await waitFor('a write on the new leader', () => writer.acked.some((a) => a.node === candidate.name) ? true : null);
      await writer.stop();
      gaps.push(Math.round(writer.longestGapMs(t0)));
      const phases = (JSON.parse(r.stdout) as { phases: { phase: string; at_ms: number }[] }).phases.map((p) => `${p.phase}@${Math.round(p.at_ms)}`);
      console.log(`round ${i}: gap ${gaps.at(-1)} ms; ${phases.join(' ')}`);
      await expectNoAckedWriteLost(writer, candidate);
      await cluster.waitStreamingFrom(old, candidate, 90_000);
    }
    const sorted = [...gaps].sort((a, b) => a - b);
    figures['plannedGapRoundsMs'] = gaps.join(',');
    figures['plannedGapMedianMs'] = sorted[Math.floor(sorted.length / 2)] ?? null;
  }, 900_000);

  it('aborts when the old primary cannot stop cleanly: it keeps the key and serves writes again', async () => {
    const old = await streamingLeader();
    const candidate = cluster.others(old)[0]!;
    const writer = await startWriter(old);
    // A backend that cannot process the fast shutdown's SIGTERM: the stop must escalate.
    const stuck = new pg.Client({ host: '127.0.0.1', port: old.pgPort, user: 'postgres', password: 'test-superuser', database: 'postgres' });
    stuck.on('error', () => undefined);
    await stuck.connect();
    const backend = (await stuck.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    signal(backend, 'SIGSTOP');
    const t0 = performance.now();
    let r: CliResult;
    try {
      r = await ctl(['switchover', '--candidate', candidate.name, '--force']);
    } finally {
      signal(backend, 'SIGCONT');
      await stuck.end().catch(() => undefined);
    }
    await expectAborted(r, old, writer, t0, /did not stop cleanly/, 'uncleanStop');
  }, 300_000);

  it('aborts when the candidate does not receive the shutdown checkpoint', async () => {
    const old = await streamingLeader();
    const candidate = cluster.others(old)[0]!;
    const writer = await startWriter(old);
    const receiver = await pgPid(candidate, 'SELECT pid FROM pg_stat_wal_receiver');
    signal(receiver, 'SIGSTOP');
    const t0 = performance.now();
    let r: CliResult;
    try {
      r = await ctl(['switchover', '--candidate', candidate.name, '--force']);
    } finally {
      signal(receiver, 'SIGCONT');
    }
    await expectAborted(r, old, writer, t0, /did not receive the shutdown checkpoint/, 'noCheckpoint');
  }, 300_000);

  it('in pause, a switchover to a named candidate completes (with and without --force), one primary throughout', async () => {
    expectCode(await ctl(['pause', '--wait']), 0);
    try {
      for (const confirm of ['--force', null] as const) {
        const old = await leaderNow();
        const candidate = cluster.others(old)[0]!;
        const writer = await startWriter(old);
        const monitor = new PrimaryMonitor();
        monitor.start();
        const t0 = performance.now();
        const args = ['switchover', '--candidate', candidate.name, ...(confirm ? [confirm] : [])];
        const r = await ctl(args, confirm ? {} : { input: 'y\n' });
        expectCode(r, 0);
        const next = await leaderNow();
        expect(next.name).toBe(candidate.name);
        await waitFor('a write on the new leader', () => writer.acked.some((a) => a.node === next.name) ? true : null, { timeoutMs: 60_000 });
        // The old leader rejoins as a replica of the new one, even in pause.
        await cluster.waitStreamingFrom(old, next, 90_000);
        await monitor.stop();
        await writer.stop();
        figures[`paused${confirm ? 'Forced' : 'Confirmed'}WriteGapMs`] = Math.round(writer.longestGapMs(t0));
        expect(monitor.maxTwo).toBeLessThanOrEqual(1);
        expect(await primaries()).toEqual([next.name]);
        await expectNoAckedWriteLost(writer, next);
      }
    } finally {
      expectCode(await ctl(['resume', '--wait']), 0);
    }
  }, 400_000);

  it('in pause, if the candidate does not take the key, the old leader comes back as primary', async () => {
    expectCode(await ctl(['pause', '--wait']), 0);
    const old = await leaderNow();
    const candidate = cluster.others(old)[0]!;
    const writer = await startWriter(old);
    const mark = logOf(old).length;
    const request = ctl(['switchover', '--candidate', candidate.name, '--force']);
    try {
      // Freeze the candidate's agent once the old leader is stopping: its PostgreSQL still
      // receives the shutdown checkpoint, but nobody takes the key.
      await waitFor('the old leader stopping', () => /switchover: stopping postgresql cleanly/.test(logOf(old).slice(mark)) ? true : null, { timeoutMs: 60_000, intervalMs: 20 });
      candidate.agent?.pause();
      await waitFor('the old leader releasing the key', () => /switchover: leader key handed over/.test(logOf(old).slice(mark)) ? true : null, { timeoutMs: 60_000, intervalMs: 20 });
      const t0 = performance.now();
      await waitFor('the old leader writable again', () => writer.acked.some((a) => a.node === old.name && a.atMs > t0) ? true : null, { timeoutMs: 120_000 });
      figures['pausedUnclaimedBackMs'] = Math.round(performance.now() - t0);
      expect((await leaderNow()).name).toBe(old.name);
      expect(logOf(old).slice(mark)).toContain(`paused: ${candidate.name} did not take the leader key after the switchover and is still a replica`);
    } finally {
      candidate.agent?.resume();
      await request;
      await writer.stop();
    }
    expect(await primaries()).toEqual([old.name]);
    await expectNoAckedWriteLost(writer, old);
    await cluster.waitStreamingFrom(candidate, old, 90_000);
    expectCode(await ctl(['resume', '--wait']), 0);
  }, 400_000);
});
