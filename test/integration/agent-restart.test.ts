// Issue 21 on real processes: restart the agent in place (SIGUSR2 or agentctl restart-agent) on
// any node, the leader included, with no failover and no write gap; safe when the new process
// does not come back or cannot read the hand-over record. A RestartSupervisor plays systemd
// (RestartForceExitStatus=75). Without the change each test fails: SIGUSR2 ended the agent by
// Node's default action (no exit 75, no restart), agentctl had no restart-agent, and a hand-over
// record of another format was taken over and its key re-attached.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, isAlive, StopWaiting, waitFor } from '../harness/index.js';
import { agentctl, startAgentCluster, SUPERUSER_PASSWORD, Writer, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';
import { RESTART_IN_PLACE_EXIT_CODE, RestartSupervisor } from '../support/restart-supervisor.js';
import { writeFacts } from '../support/restart-rounds.js';

const TTL = 10;
const SCOPE = 'restart';
/** The issue asks for 20 in a row; the bench runs 20, CI fewer (PGHA_RESTART_ROUNDS overrides). */
const ROUNDS = Number(process.env['PGHA_RESTART_ROUNDS'] ?? 5);
let cluster: AgentCluster;
let supervisor: RestartSupervisor;
const figures: Record<string, number | string> = {};

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: TTL, loopWait: 2, retryTimeout: 4, scope: SCOPE });
  supervisor = new RestartSupervisor(cluster.nodes);
  await healthy(180_000);
});

afterAll(() => {
  supervisor?.stop();
  console.log(`agent-restart figures: ${JSON.stringify(figures)}`);
});

async function healthy(timeoutMs = 120_000): Promise<AgentNode> {
  const leader = await cluster.waitForLeader(timeoutMs);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), timeoutMs);
  return leader;
}

/** SIGUSR2 to the node's agent: it exits 75 and the supervisor starts it again; resolves when the new process leads (/primary 200). */
async function restartLeaderInPlace(node: AgentNode): Promise<{ exitMs: number; backMs: number }> {
  const old = node.agent;
  if (!old) throw new Error(`${node.name}: no agent`);
  const t0 = performance.now();
  old.signal('SIGUSR2');
  const exit = await old.waitExit(30_000);
  expect(exit.code).toBe(RESTART_IN_PLACE_EXIT_CODE);
  const exitMs = performance.now() - t0;
  await waitFor(`${node.name}'s new agent to lead`, async () => (node.agent !== old && (await node.health('/primary')) === 200 ? true : null), { timeoutMs: 30_000, intervalMs: 20 });
  return { exitMs: Math.round(exitMs), backMs: Math.round(performance.now() - t0) };
}

function printFacts(err: unknown): never {
  for (const n of cluster.nodes) {
    for (const p of supervisor.processes.get(n.name) ?? [n.agent]) {
      const lines = (p?.output(64_000) ?? '').split('\n').filter((l) => !l.includes('command stdout') && /restart in place|hand-over|handed|re-attach|leadership|fence|lease|promot|refus|tick|stopp|guard/.test(l));
      console.log(`--- ${n.name} pid ${p?.pid ?? '?'}\n${lines.slice(-30).map((l) => l.slice(0, 400)).join('\n')}`);
    }
  }
  throw err;
}

describe('restart in place', () => {
  it(`${ROUNDS} restarts of the leader's agent in a row: no failover, no write gap, no write lost`, async () => {
    const leader = await healthy();
    const pid = leader.postmasterPid();
    const timeline = (await leader.status())?.timeline;
    const writer = new Writer(cluster.nodes, 20);
    await writer.prepare(leader);
    await leader.query('TRUNCATE writes');
    writer.start();
    const checks = new PrimaryCheckGap(leader);
    checks.start();
    const t0 = performance.now();
    const backs: number[] = [];
    const exits: number[] = [];
    try {
      await waitFor('writes flowing', () => writer.acked.length > 10 || null);
      for (let i = 0; i < ROUNDS; i++) {
        const r = await restartLeaderInPlace(leader);
        backs.push(r.backMs);
        exits.push(r.exitMs);
      }
      // A few more writes after the last restart.
      const n = writer.acked.length;
      await waitFor('writes after the last restart', () => writer.acked.length > n + 10 || null);
      await writer.stop();
      const facts = await writeFacts(writer, t0, leader);
      figures['rounds'] = ROUNDS;
      figures['longestWriteGapMs'] = facts.longestWriteGapMs;
      figures['primaryChanges'] = facts.primaryChanges;
      figures['lostWrites'] = facts.lostWrites;
      figures['ackedWrites'] = facts.acked;
      await checks.stop();
      figures['primaryCheckGapMsMax'] = checks.longestMs;
      figures['signalToExitMsMax'] = Math.max(...exits);
      figures['signalToReattachedMsMax'] = Math.max(...backs);
      expect(facts.primaryChanges).toBe(0);
      expect(facts.nodesThatAcked).toEqual([leader.name]);
      expect(facts.lostWrites).toBe(0);
      expect(facts.longestWriteGapMs).toBeLessThanOrEqual(1000);
      expect(leader.postmasterPid()).toBe(pid);
      expect((await leader.status())?.timeline).toBe(timeline);
      for (const o of cluster.others(leader)) expect(await o.health('/primary')).toBe(503);
      // Each new guard retired the one before it: one guard per data dir.
      expect(leader.guardPids()).toHaveLength(1);
      expect(leader.logTail()).toContain('leader key re-attached');
    } catch (err) {
      printFacts(err);
    } finally {
      await checks.stop();
      await writer.stop();
    }
  });

  it('a rolling restart of every agent with agentctl restart-agent --all: leader last, no failover', async () => {
    const leader = await healthy();
    const pids = new Map(cluster.nodes.map((n) => [n.name, n.agent?.pid]));
    const writer = new Writer(cluster.nodes, 20);
    await leader.query('TRUNCATE writes');
    writer.start();
    const t0 = performance.now();
    try {
      await waitFor('writes flowing', () => writer.acked.length > 10 || null);
      const r = await agentctl(leader.configPath, ['restart-agent', '--all', '--force'], { timeoutMs: 240_000 });
      figures['rollingRestartMs'] = Math.round(r.durationMs);
      expect(r.code, r.stderr).toBe(0);
      const done = r.stdout.split('\n').filter((l) => l.includes('agent restarted in place'));
      expect(done).toHaveLength(3);
      expect(done[2]).toContain(leader.name);
      expect(done[2]).toContain('leader key re-attached');
      expect(r.stderr).toMatch(/\[3\/3\]/);
      const n = writer.acked.length;
      await waitFor('writes after the rolling restart', () => writer.acked.length > n + 10 || null);
      await writer.stop();
      const facts = await writeFacts(writer, t0, leader);
      figures['rollingLongestWriteGapMs'] = facts.longestWriteGapMs;
      expect(facts.primaryChanges).toBe(0);
      expect(facts.lostWrites).toBe(0);
      expect(facts.longestWriteGapMs).toBeLessThanOrEqual(1000);
      for (const node of cluster.nodes) expect(node.agent?.pid).not.toBe(pids.get(node.name));
      await healthy();
    } catch (err) {
      printFacts(err);
    } finally {
      await writer.stop();
    }
  });

  it('the new agent killed (-9) right after the restart: the guard fences before the lease expires in etcd, a replica takes over', async () => {
    const leader = await healthy();
    const pmPid = leader.postmasterPid() as number;
    const writer = new Writer(cluster.nodes, 20);
    await leader.query('TRUNCATE writes');
    writer.start();
    const samples = new DualPrimarySampler(cluster.nodes);
    samples.start();
    try {
      await waitFor('writes flowing', () => writer.acked.length > 10 || null);
      supervisor.hold(leader);
      const old = leader.agent;
      old?.signal('SIGUSR2');
      expect((await old?.waitExit(30_000))?.code).toBe(RESTART_IN_PLACE_EXIT_CODE);
      const fresh = leader.start();
      await waitFor('the new agent\'s guard to take over', () => fresh.output().includes('fence guard started') || null, { timeoutMs: 20_000, intervalMs: 10 });
      await fresh.kill();
      const tKill = performance.now();
      let fencedAt = 0;
      let keyGoneAt = 0;
      await Promise.all([
        waitFor('the guard to fence the postmaster', () => (isAlive(pmPid) ? null : (fencedAt = performance.now())), { timeoutMs: TTL * 1000 + 10_000, intervalMs: 10 }),
        waitFor('the leader key to expire in etcd', async () => {
          const v = (await etcdctl(cluster.etcd, ['get', `/service/${SCOPE}/leader`, '--print-value-only'])).trim();
          return v === leader.name ? null : (keyGoneAt = performance.now());
        }, { timeoutMs: TTL * 1000 + 10_000, intervalMs: 20 }),
      ]);
      figures['killedAfterRestartFencedAfterMs'] = Math.round(fencedAt - tKill);
      figures['fencedBeforeKeyExpiredByMs'] = Math.round(keyGoneAt - fencedAt);
      expect(fencedAt).toBeLessThan(keyGoneAt);
      const next = await waitFor('a replica to take over', async () => {
        for (const n of cluster.others(leader)) if ((await n.health('/primary')) === 200) return n;
        return null;
      }, { timeoutMs: 60_000, intervalMs: 50 });
      await waitFor('writes on the new leader', () => writer.acked.some((a) => a.node === next.name) || null, { timeoutMs: 30_000 });
      await writer.stop();
      samples.stop();
      figures['dualPrimarySamples'] = samples.dual;
      figures['primarySamples'] = samples.taken;
      expect(samples.dual).toBe(0);
      const lastOld = Math.max(...writer.acked.filter((a) => a.node === leader.name).map((a) => a.atMs));
      const firstNew = Math.min(...writer.acked.filter((a) => a.node === next.name).map((a) => a.atMs));
      expect(lastOld).toBeLessThan(firstNew);
      supervisor.release(leader);
      leader.start();
      supervisor.watch(leader);
      await cluster.waitStreamingFrom(leader, next, 90_000);
    } catch (err) {
      printFacts(err);
    } finally {
      samples.stop();
      await writer.stop();
      supervisor.release(leader);
    }
  });

  it('a hand-over record the new version cannot read is refused: fence, then a new leader by a race (not a re-attach)', async () => {
    const leader = await healthy();
    const pmPid = leader.postmasterPid() as number;
    supervisor.hold(leader);
    try {
      const old = leader.agent;
      old?.signal('SIGUSR2');
      expect((await old?.waitExit(30_000))?.code).toBe(RESTART_IN_PLACE_EXIT_CODE);
      // The old guard saves its state when the agent's exit message arrives, and logs the closed
      // channel after that. Rewritten before that save (a loaded machine), the record would be
      // valid again and the new run would rightly re-attach the key: most likely what made this
      // test time out once in CI (no fence, and the key never expired for the others).
      await waitFor('the old guard to see the agent gone', () => (old?.output().includes('agent closed the channel') ? true : null), { timeoutMs: 10_000, intervalMs: 20 });
      // As if an older or newer agent had written it: another format version.
      const file = join(dirname(leader.dataDir), `.${basename(leader.dataDir)}.fence-guard.json`);
      const rec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...rec, version: 99 }));
      const t0 = performance.now();
      const fresh = leader.start();
      // Tracked at once (the node is held, so nothing restarts it): a failure prints its log too.
      supervisor.watch(leader);
      await waitFor('the postmaster to be fenced', () => {
        if (fresh.output().includes('"msg":"leader key re-attached"')) throw new StopWaiting('the new run re-attached the key: it read a valid hand-over record');
        return isAlive(pmPid) ? null : true;
      }, { timeoutMs: 30_000, intervalMs: 20 });
      figures['refusedHandoverFencedAfterMs'] = Math.round(performance.now() - t0);
      expect(fresh.output()).toContain('refusing the hand-over state of the previous agent run');
      // A new leader by a race, not by a re-attach: a replica, or the fenced node itself, which
      // holds the most WAL and comes back read-only to compete (the race waits for a member that
      // is starting, src/core/starting-peers.ts).
      const next = await waitFor('a new leader after the fence', async () => {
        for (const n of cluster.nodes) if ((await n.health('/primary')) === 200) return n;
        return null;
      }, { timeoutMs: 60_000, intervalMs: 50 });
      figures['refusedHandoverNewLeaderIsFencedNode'] = next === leader ? 1 : 0;
      for (const r of cluster.others(next)) await cluster.waitStreamingFrom(r, next, 90_000);
      expect(fresh.output()).not.toContain('"msg":"leader key re-attached"');
    } catch (err) {
      printFacts(err);
    } finally {
      supervisor.release(leader);
    }
  });
});

/** Asks every node's PostgreSQL every 50 ms whether it is writable; counts samples with two or more. */
class DualPrimarySampler {
  dual = 0;
  taken = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  constructor(private readonly nodes: readonly AgentNode[]) {}
  start(): void {
    this.running = true;
    const clients = new Map<string, pg.Client | null>();
    const writable = async (n: AgentNode): Promise<boolean> => {
      try {
        let c = clients.get(n.name) ?? null;
        if (!c) {
          c = new pg.Client({ host: '127.0.0.1', port: n.pgPort, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres', connectionTimeoutMillis: 500, query_timeout: 500 });
          c.on('error', () => undefined);
          clients.set(n.name, c);
          await c.connect();
        }
        const r = await c.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro');
        return r.rows[0]?.ro === false;
      } catch {
        const c = clients.get(n.name);
        clients.set(n.name, null);
        await c?.end().catch(() => undefined);
        return false;
      }
    };
    this.loop = (async () => {
      while (this.running) {
        const t = performance.now();
        const w = await Promise.all(this.nodes.map(writable));
        this.taken++;
        if (w.filter(Boolean).length > 1) this.dual++;
        await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - t))));
      }
      for (const c of clients.values()) await c?.end().catch(() => undefined);
    })();
  }
  stop(): Promise<void> {
    this.running = false;
    return this.loop;
  }
}

/** GET /primary on one node every 20 ms: the longest stretch without a 200 (what HAProxy would see). */
class PrimaryCheckGap {
  longestMs = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  constructor(private readonly node: AgentNode) {}
  start(): void {
    this.running = true;
    this.loop = (async () => {
      let lastOk = performance.now();
      while (this.running) {
        const code = await this.node.health('/primary');
        const now = performance.now();
        if (code === 200) lastOk = now;
        else this.longestMs = Math.max(this.longestMs, Math.round(now - lastOk));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }
  stop(): Promise<void> {
    this.running = false;
    return this.loop;
  }
}
