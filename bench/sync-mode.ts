// Synchronous mode against asynchronous (issue 12), for each system in the same run: a fresh
// 3-node cluster with `synchronous_mode: false`, then another with `true` (bootstrap.dcs), one at a
// time. On each: WRITERS connections commit single-row INSERTs on the leader as fast as they can
// for a fixed window (commits/s, commit latency), then the leader's agent and postmaster get kill -9
// under that load: the time to the first acknowledged write on another node, the acknowledged
// commits that node lacks, and (sync) whether it was the member the `sync` key named before the kill.
// BENCH_SYNC_ROUNDS (default 1) failovers per mode; BENCH_SYNC_WINDOW_SEC (default 15) per round.
import os from 'node:os';
import { etcdctl, runTeardown, sleep, waitFor } from '../test/harness/index.js';
import type { AgentCluster, AgentNode } from '../test/support/agent-cluster.js';
import { CommitLoad, LOAD_TABLE } from './commit-load.js';
import type { Scenario, SystemName } from './scenario.js';
import { summarize } from './stats.js';
import { BENCH_CLUSTER, startSystemCluster, waitClusterReady } from './systems.js';

const WRITERS = 4;

export interface SyncModeOptions {
  readonly rounds?: number;
  readonly windowSec?: number;
}

interface SyncKey { leader?: string; sync_standby?: string | null }

async function syncKey(cluster: AgentCluster): Promise<SyncKey | null> {
  const text = await etcdctl(cluster.etcd, ['get', '--print-value-only', `/service/${cluster.scope}/sync`]).catch(() => '');
  return text.trim() === '' ? null : (JSON.parse(text) as SyncKey);
}

/** The standby the `sync` key names for `leader`, once the leader's PostgreSQL reports it 'sync'. */
async function waitSyncStandby(cluster: AgentCluster, leader: AgentNode, timeoutMs = 120_000): Promise<AgentNode> {
  return waitFor(`the sync key of ${leader.name} naming a standby that pg_stat_replication reports sync`, async () => {
    const key = await syncKey(cluster);
    const standby = key?.sync_standby;
    if (key?.leader !== leader.name || !standby || standby.includes(',')) return null;
    const rows = await leader.query<{ n: string; st: string }>('SELECT application_name AS n, sync_state AS st FROM pg_stat_replication').catch(() => []);
    return rows.some((r) => r.n === standby && r.st === 'sync') ? cluster.node(standby) : null;
  }, { timeoutMs, intervalMs: 200 });
}

/** The first of `nodes` to acknowledge a write (a probe row with a negative id). */
async function firstWritable(nodes: readonly AgentNode[]): Promise<AgentNode> {
  return waitFor('a write acknowledged by another node', async () => {
    for (const n of nodes) {
      try {
        await n.query(`INSERT INTO ${LOAD_TABLE} (id) VALUES (-1 - (random() * 1e12)::bigint) ON CONFLICT DO NOTHING`);
        return n;
      } catch {
        // not writable yet
      }
    }
    return null;
  }, { timeoutMs: 120_000, intervalMs: 50 });
}

/** kill -9 of the node's agent (Patroni) and of its postmaster, as a lost host would do. */
async function killHost(node: AgentNode): Promise<void> {
  const pid = node.postmasterPid();
  if (pid === null) throw new Error(`${node.name} has no live postmaster to kill`);
  await node.agent?.kill();
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone (the agent's fence guard may have stopped it first)
  }
}

interface Round {
  readonly latenciesMs: number[];
  readonly commits: number;
  readonly windowMs: number;
  readonly failoverMs: number;
  readonly lost: number;
  readonly promotedWasSync: boolean;
  readonly next: AgentNode;
}

async function failoverRound(cluster: AgentCluster, leader: AgentNode, sync: boolean, round: number, windowMs: number): Promise<Round> {
  for (const r of cluster.others(leader)) await cluster.waitStreamingFrom(r, leader, 120_000);
  const syncName = sync ? (await waitSyncStandby(cluster, leader)).name : null;
  const load = new CommitLoad(leader, round * 1_000_000_000);
  const t0 = performance.now();
  load.start(WRITERS);
  await sleep(windowMs);
  if (load.lastError !== null) throw new Error(`a writer failed before the kill: ${load.lastError}`);
  const tKill = performance.now();
  await killHost(leader);
  await load.stop();
  const next = await firstWritable(cluster.others(leader));
  const failoverMs = performance.now() - tKill;
  const before = load.commits.filter((c) => c.atMs <= tKill);
  process.stderr.write(`bench: sync-mode ${sync ? 'sync' : 'async'} round ${round}: killed ${leader.name} (sync standby ${syncName ?? '-'}), ${next.name} wrote after ${Math.round(failoverMs)} ms\n`);
  return {
    latenciesMs: before.map((c) => c.latencyMs),
    commits: before.length,
    windowMs: tKill - t0,
    failoverMs,
    lost: await load.missingOn(next),
    promotedWasSync: next.name === syncName,
    next,
  };
}

async function measureMode(system: SystemName, sync: boolean, rounds: number, windowMs: number): Promise<Record<string, number>> {
  const cluster = await startSystemCluster(system, { ...BENCH_CLUSTER, dcsExtra: { synchronous_mode: sync } });
  try {
    let leader = await waitClusterReady(cluster);
    await leader.query(`CREATE TABLE ${LOAD_TABLE} (id bigint PRIMARY KEY)`);
    const done: Round[] = [];
    for (let round = 1; round <= rounds; round++) {
      const r = await failoverRound(cluster, leader, sync, round, windowMs);
      done.push(r);
      const old = leader;
      leader = r.next;
      if (round < rounds) old.start();
    }
    return modeFigures(sync ? 'sync' : 'async', done, sync);
  } finally {
    // The next cluster must not share the cores with this one.
    await runTeardown();
  }
}

function modeFigures(p: string, rounds: readonly Round[], sync: boolean): Record<string, number> {
  const lat = summarize(rounds.flatMap((r) => r.latenciesMs));
  const fo = rounds.map((r) => r.failoverMs);
  const r1 = (v: number): number => Math.round(v * 10) / 10;
  const r2 = (v: number): number => Math.round(v * 100) / 100;
  const sum = (f: (r: Round) => number): number => rounds.reduce((a, r) => a + f(r), 0);
  return {
    [`${p}CommitsPerSec`]: Math.round(sum((r) => r.commits) / (sum((r) => r.windowMs) / 1000)),
    [`${p}CommitP50Ms`]: r2(lat.p50Ms),
    [`${p}CommitP99Ms`]: r2(lat.p99Ms),
    [`${p}FailoverMs`]: Math.round(fo.reduce((a, b) => a + b, 0) / fo.length),
    [`${p}FailoverMaxMs`]: Math.round(Math.max(...fo)),
    [`${p}AckedCommits`]: sum((r) => r.commits),
    [`${p}LostCommits`]: sum((r) => r.lost),
    ...(sync ? { [`${p}PromotedWasSync`]: rounds.every((r) => r.promotedWasSync) ? 1 : 0 } : {}),
    [`${p}LoadAvg1m`]: r1(os.loadavg()[0] ?? 0),
  };
}

export function syncMode(system: SystemName, opts: SyncModeOptions = {}): Scenario {
  const rounds = opts.rounds ?? Number(process.env['BENCH_SYNC_ROUNDS'] ?? 1);
  const windowSec = opts.windowSec ?? Number(process.env['BENCH_SYNC_WINDOW_SEC'] ?? 15);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_SYNC_ROUNDS must be a positive integer, got ${rounds}`);
  if (!(windowSec > 0)) throw new Error(`BENCH_SYNC_WINDOW_SEC must be a positive number, got ${windowSec}`);
  return {
    name: 'sync-mode',
    system,
    // Issue 12: in sync mode no acknowledged commit is lost (syncPromotedWasSync is read as is:
    // a target is an upper bound).
    targets: { syncLostCommits: 0 },
    run: async () => ({
      rounds, writers: WRITERS, windowSec,
      ...(await measureMode(system, false, rounds, windowSec * 1000)),
      ...(await measureMode(system, true, rounds, windowSec * 1000)),
    }),
  };
}
