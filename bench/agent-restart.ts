// Restarting the leader's HA agent under a write load (issue 21; a writer commits every 20 ms to
// every node). pg-ha-agent: 20 restarts in place in a row (SIGUSR2, exit 75, started again after
// systemd's RestartSec=200ms). Patroni, in the same run: its plain restart (SIGTERM stops PostgreSQL
// and fails over) and its documented upgrade path (patronictl pause, restart, resume: Patroni
// issues #469, #1738), during which the cluster has no automatic failover. Figures per path: the
// longest gap between acknowledged writes, changes of the node acknowledging writes, acknowledged
// writes missing from the final primary, and how long automatic failover was off.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { waitFor } from '../test/harness/index.js';
import { Writer, type AgentCluster, type AgentNode } from '../test/support/agent-cluster.js';
import { RESTART_IN_PLACE_EXIT_CODE, RestartSupervisor } from '../test/support/restart-supervisor.js';
import { writeFacts } from '../test/support/restart-rounds.js';
import type { Scenario, SystemName } from './scenario.js';
import { summarize } from './stats.js';
import { startSystemCluster, waitClusterReady } from './systems.js';

const run = promisify(execFile);
/** systemd/pg-ha-agent.service RestartSec. */
const RESTART_SEC_MS = 200;
const WRITE_INTERVAL_MS = 20;

export interface AgentRestartOptions {
  /** pg-ha-agent restarts in place in a row (default 20, as issue 21 asks). */
  readonly rounds?: number;
  /** Patroni plain restarts (each a failover and a rejoin; default 3). */
  readonly patroniRounds?: number;
}

async function withWriter(cluster: AgentCluster, leader: AgentNode, body: () => Promise<void>): Promise<{ writer: Writer; t0: number }> {
  const writer = new Writer(cluster.nodes, WRITE_INTERVAL_MS);
  await writer.prepare(leader);
  await leader.query('TRUNCATE writes');
  writer.start();
  const t0 = performance.now();
  try {
    await waitFor('writes flowing', () => writer.acked.length > 10 || null);
    await body();
    const n = writer.acked.length;
    await waitFor('writes after the last restart', () => writer.acked.length > n + 10 || null, { timeoutMs: 60_000 });
  } finally {
    await writer.stop();
  }
  return { writer, t0 };
}

async function agentInPlace(rounds: number): Promise<Record<string, number>> {
  const cluster = await startSystemCluster('pg-ha-agent');
  let leader = await waitClusterReady(cluster);
  const supervisor = new RestartSupervisor(cluster.nodes, RESTART_SEC_MS);
  const backs: number[] = [];
  let late = 0;
  try {
    const { writer, t0 } = await withWriter(cluster, leader, async () => {
      for (let i = 0; i < rounds; i++) {
        const node = leader;
        const old = node.agent;
        const t = performance.now();
        old?.signal('SIGUSR2');
        const exit = await old?.waitExit(30_000);
        if (exit?.code !== RESTART_IN_PLACE_EXIT_CODE) throw new Error(`the agent exited with ${String(exit?.code)}, not ${RESTART_IN_PLACE_EXIT_CODE}`);
        try {
          await waitFor('the new agent to lead', async () => (node.agent !== old && (await node.health('/primary')) === 200 ? true : null), { timeoutMs: 30_000, intervalMs: 20 });
          backs.push(performance.now() - t);
        } catch {
          // The new process did not re-attach before the deadline (a starved host): the guard
          // fenced and the cluster recovered by itself. Counted, and the next round goes on.
          late++;
          process.stderr.write(`bench: round ${i + 1}: the new agent did not re-attach in time; ${describeLast(supervisor, node)}\n`);
          leader = await waitClusterReady(cluster);
        }
      }
    });
    const facts = await writeFacts(writer, t0, (await cluster.waitForLeader()));
    const back = summarize(backs);
    return {
      rounds, restartLongestWriteGapMs: facts.longestWriteGapMs, restartPrimaryChanges: facts.primaryChanges, restartLostWrites: facts.lostWrites,
      restartAckedWrites: facts.acked, restartsNotReattachedInTime: late, noAutoFailoverMs: 0,
      signalToReattachedP50Ms: back.p50Ms, signalToReattachedP90Ms: back.p90Ms, signalToReattachedMaxMs: back.maxMs,
      loadAvg1m: Math.round((os.loadavg()[0] ?? 0) * 10) / 10,
    };
  } finally {
    supervisor.stop();
  }
}

/** The last lines of a node's newest agent processes: where a late restart spent its time. */
function describeLast(supervisor: RestartSupervisor, node: AgentNode): string {
  const procs = (supervisor.processes.get(node.name) ?? []).slice(-2);
  return procs.map((p) => `pid ${p.pid}: ${p.output(4000).split('\n').filter((l) => l.includes('"msg"')).slice(-4).map((l) => /"time":"([^"]+)".*"msg":"([^"]+)"/.exec(l)?.slice(1).join(' ') ?? '').join(' | ')}`).join(' || ');
}

async function patronictl(node: AgentNode, args: readonly string[]): Promise<void> {
  await run('/usr/bin/patronictl', ['-c', node.configPath, ...args], { timeout: 120_000 });
}

/** Stop the leader's Patroni (SIGTERM, as systemctl restart does) and start it again. */
async function restartPatroni(node: AgentNode): Promise<void> {
  await node.agent?.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, RESTART_SEC_MS));
  node.start();
}

async function patroniPaths(rounds: number): Promise<Record<string, number>> {
  const cluster = await startSystemCluster('patroni');
  let leader = await waitClusterReady(cluster);
  // Plain restart: Patroni stops PostgreSQL on SIGTERM and releases the key; a replica takes over.
  const plain = await withWriter(cluster, leader, async () => {
    for (let i = 0; i < rounds; i++) {
      const current = await cluster.waitForLeader(120_000);
      await restartPatroni(current);
      await waitClusterReady(cluster);
    }
  });
  leader = await cluster.waitForLeader();
  const plainFacts = await writeFacts(plain.writer, plain.t0, leader);
  // The documented upgrade path: pause, restart the leader's Patroni (PostgreSQL keeps running), resume.
  let pausedMs = 0;
  const paused = await withWriter(cluster, leader, async () => {
    const t = performance.now();
    await patronictl(leader, ['pause', '--wait']);
    await restartPatroni(leader);
    await waitFor('the restarted Patroni to answer', async () => ((await leader.health('/primary')) === 200 ? true : null), { timeoutMs: 120_000, intervalMs: 50 });
    await patronictl(leader, ['resume', '--wait']);
    pausedMs = performance.now() - t;
  });
  const pausedFacts = await writeFacts(paused.writer, paused.t0, await cluster.waitForLeader());
  return {
    plainRestartRounds: rounds, plainRestartLongestWriteGapMs: plainFacts.longestWriteGapMs, plainRestartPrimaryChanges: plainFacts.primaryChanges,
    plainRestartLostWrites: plainFacts.lostWrites,
    pauseRestartResumeLongestWriteGapMs: pausedFacts.longestWriteGapMs, pauseRestartResumePrimaryChanges: pausedFacts.primaryChanges,
    pauseRestartResumeLostWrites: pausedFacts.lostWrites, noAutoFailoverMs: Math.round(pausedMs),
  };
}

export function agentRestart(system: SystemName, opts: AgentRestartOptions = {}): Scenario {
  return {
    name: 'agent-restart',
    system,
    // Issue 21: no failover, no write gap beyond 1 s, nothing lost.
    targets: { restartPrimaryChanges: 0, restartLongestWriteGapMs: 1000, restartLostWrites: 0 },
    run: () => (system === 'pg-ha-agent' ? agentInPlace(opts.rounds ?? 20) : patroniPaths(opts.patroniRounds ?? 3)),
  };
}
