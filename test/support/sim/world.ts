// The simulation loop: each step advances the fake clock, injects or heals faults, runs the fence
// timers, PostgreSQL (promotions, streaming, writes), jobs and some agents' ticks, then checks S1.
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import { decide } from '../../../src/core/decide.js';
import { EMPTY_MEMORY, type DecideInput, type Decision } from '../../../src/core/decide-types.js';
import { completePromotion, resumeBlocked, tick, wakeToken } from './agent.js';
import { FakeEtcd } from './fake-etcd.js';
import { canStream, completionDue, crash, emptyPg, isWritable, receive, write } from './fake-pg.js';
import { injectEvent, recover } from './faults.js';
import { checkS1, checkStreamed, convergence } from './invariants.js';
import { advanceJob } from './jobs.js';
import { STEP_MS, TTL_MS, agentRuns, byName, etcdReachable, linked, log, type SimNode, type WorldState } from './model.js';
import { mulberry32 } from './prng.js';
import { walEnd } from './wal.js';

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  /** Steps of chaos, then of quiet, repeated; convergence is checked at the end of each quiet window. */
  readonly chaosSteps?: number;
  readonly quietSteps?: number;
  /** Replace decide() (to prove the checks catch a broken core). */
  readonly decide?: (input: DecideInput) => Decision;
  /** Model the proposed executor order: history entry before pg_promote (see model.ts). */
  readonly historyFirst?: boolean;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly violations: readonly string[];
  readonly trace: readonly string[];
  readonly stats: WorldState['stats'];
}

export function bootstrapDcs(): DynamicConfig {
  return {
    ttl: TTL_MS / 1000, loop_wait: 2, retry_timeout: 4,
    maximum_lag_on_failover: 400, maximum_lag_on_syncnode: -1,
    primary_start_timeout: 30, primary_stop_timeout: 30,
    synchronous_mode: false, synchronous_mode_strict: false, synchronous_node_count: 1,
    failsafe_mode: false, check_timeline: false, pause: false,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
  };
}

function tagsFor(seed: number, i: number, count: number): Tags {
  if (seed % 4 === 1 && i === count - 1) return { nofailover: true };
  if (seed % 5 === 2 && i === 1) return { failover_priority: 2 };
  return {};
}

export function createWorld(seed: number, decideFn: (input: DecideInput) => Decision = decide, historyFirst = true): WorldState {
  const count = 3 + (seed % 3);
  const dcs = bootstrapDcs();
  const nodes: SimNode[] = Array.from({ length: count }, (_, i) => ({
    name: `n${i + 1}`,
    host: `n${i + 1}.sim`,
    tags: tagsFor(seed, i, count),
    pg: emptyPg(),
    faults: { crashedUntilMs: null, etcdCutUntilMs: null, isolatedUntilMs: null, pgBrokenUntilMs: null, slowPromoteMs: 0 },
    agent: {
      alive: true, frozenUntilMs: 0, blocked: null, memory: EMPTY_MEMORY, job: null, finished: null, leaseId: null,
      validUntilMs: Number.NEGATIVE_INFINITY, fenced: false, view: null, config: dcs, nextTickMs: i * 300, wakeToken: '', lastReason: '', lastActions: '', published: null,
    },
  }));
  return {
    seed, rng: mulberry32(seed), etcd: new FakeEtcd(TTL_MS), nodes, bootstrapDcs: dcs, decide: decideFn, historyFirst,
    nowMs: 0, step: 0, etcdDownUntilMs: null, keyDeletedFrom: null, pauseUntilMs: null, chaos: false, canonical: [], nextUid: 1,
    sysid: String(7_300_000_000_000_000_000n + BigInt(seed)), trace: [], violations: [],
    stats: { ticks: 0, promotions: 0, faults: 0, fences: 0, switchovers: 0, rewinds: 0 },
  };
}

/** The fence timer inside the agent and the fence guard beside it both fire at validUntil. */
function fenceTimers(w: WorldState): void {
  for (const n of w.nodes) {
    const pg = n.pg;
    if (!(isWritable(pg) || pg.promoteDoneAtMs !== null) || n.agent.config.pause || w.nowMs < n.agent.validUntilMs) continue;
    crash(pg);
    n.agent.fenced = true;
    w.stats.fences++;
    log(w, `${n.name} fence ${agentRuns(w, n) ? 'timer' : 'guard'}: lease deadline passed`);
  }
}

function postgres(w: WorldState): void {
  for (const n of w.nodes) {
    if (completionDue(n.pg, w.nowMs)) completePromotion(w, n);
  }
  for (const r of w.nodes) {
    const pg = r.pg;
    if (!pg.running || !pg.recovery || pg.upstream === null || pg.promoteDoneAtMs !== null) {
      pg.streaming = false;
      continue;
    }
    const up = byName(w, pg.upstream);
    pg.streaming = up !== undefined && linked(r, up) && canStream(pg, up.pg);
    if (up && pg.streaming && w.rng.chance(0.8)) {
      receive(pg, up.pg, walEnd(up.pg.wal));
      checkStreamed(w, r, up);
    }
  }
  for (const n of w.nodes) write(n.pg, w.rng.int(1, 40));
}

function agents(w: WorldState): void {
  const snap = w.etcd.snapshot();
  const token = wakeToken(snap);
  const order = [...w.nodes];
  for (let i = order.length - 1; i > 0; i--) {
    const j = w.rng.int(0, i);
    [order[i], order[j]] = [order[j] as SimNode, order[i] as SimNode];
  }
  for (const n of order) {
    if (!agentRuns(w, n)) continue;
    resumeBlocked(w, n);
    if (n.agent.blocked) continue;
    advanceJob(w, n);
    const woken = etcdReachable(w, n) && n.agent.wakeToken !== token;
    if (w.nowMs >= n.agent.nextTickMs || woken) tick(w, n);
  }
}

function updateCanonical(w: WorldState): void {
  const l = w.etcd.leader;
  for (const n of w.nodes) {
    if (!isWritable(n.pg) || w.nowMs >= n.agent.validUntilMs) continue;
    if (l?.name === n.name && l.leaseId === n.agent.leaseId) w.canonical = n.pg.wal;
  }
}

export function step(w: WorldState): void {
  w.step++;
  w.nowMs += STEP_MS;
  recover(w);
  if (w.chaos) injectEvent(w);
  if (w.etcdDownUntilMs === null) w.etcd.expire(w.nowMs);
  fenceTimers(w);
  postgres(w);
  agents(w);
  checkS1(w);
  updateCanonical(w);
}

export function runSimulation(opts: SimOptions): SimResult {
  const chaosSteps = opts.chaosSteps ?? 600;
  const quietSteps = opts.quietSteps ?? 200;
  const w = createWorld(opts.seed, opts.decide, opts.historyFirst);
  const check = (label: string): void => {
    const why = convergence(w);
    if (why !== null) log(w, `not converged: ${why}`);
    if (why !== null) w.violations.push(`step ${w.step}: progress: ${label}, not converged: ${why}`);
  };
  // The bootstrap window is quiet; then chaos and quiet alternate.
  while (w.step < quietSteps && w.violations.length === 0) step(w);
  check('after the bootstrap window');
  while (w.step < opts.steps && w.violations.length === 0) {
    const cycleStep = (w.step - quietSteps) % (chaosSteps + quietSteps);
    const chaos = cycleStep < chaosSteps && w.step + quietSteps < opts.steps;
    if (w.chaos && !chaos) {
      recover(w, true);
      log(w, 'chaos ends');
    }
    w.chaos = chaos;
    step(w);
    if (!w.chaos && (cycleStep === chaosSteps + quietSteps - 1 || w.step === opts.steps)) check(`${quietSteps} quiet steps after the faults stopped`);
  }
  return { seed: opts.seed, nodes: w.nodes.length, steps: w.step, violations: w.violations, trace: w.trace, stats: w.stats };
}
