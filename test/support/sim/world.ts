// The simulation loop. Each step (500 ms of virtual time) heals due faults, maybe injects one, runs
// every event of the real agents (ticks, etcd replies, fence timers, jobs) in time order up to the
// end of the step, then lets PostgreSQL stream and write, and checks S1.
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import { decide } from '../../../src/core/decide.js';
import type { DecideInput, Decision } from '../../../src/core/decide-types.js';
import { FakeEtcdStore } from '../fakes/fake-store.js';
import { canStream, emptyPg, isWritable, receive, write } from './fake-pg.js';
import { LATEST_FAULT_SET, injectEvent, recover, type FaultSet } from './faults.js';
import { closeGuard } from './guard.js';
import { checkS1, checkStreamed, convergence, holdsKey, leaseDeadline } from './invariants.js';
import { STEP_MS, TTL_SEC, byName, linked, log, nowMs, type SimNode, type WorldState } from './model.js';
import { startAgent } from './node.js';
import { mulberry32 } from './prng.js';
import { VirtualTime } from './vtime.js';
import { walEnd } from './wal.js';

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  /** Steps of chaos, then of quiet, repeated; convergence is checked at the end of each quiet window. */
  readonly chaosSteps?: number;
  readonly quietSteps?: number;
  /** Replace decide() (to prove the checks catch a broken core). */
  readonly decide?: (input: DecideInput) => Decision;
  /** false: the broken promotion order (pg_promote before the history entry), see model.ts. */
  readonly historyFirst?: boolean;
  /**
   * Which faults are drawn (faults.ts FAULT_SETS; default the newest): an older set replays the
   * seeds of findings made with it exactly (sim-regressions.test.ts).
   */
  readonly faultSet?: FaultSet;
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
    ttl: TTL_SEC, loop_wait: 2, retry_timeout: 4,
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

/** A world with its nodes, agents not started yet (startAgents). */
export function createWorld(seed: number, decideFn: (input: DecideInput) => Decision = decide, historyFirst = true, faultSet: FaultSet = LATEST_FAULT_SET): WorldState {
  const count = 3 + (seed % 3);
  const vt = new VirtualTime();
  const nodes: SimNode[] = Array.from({ length: count }, (_, i) => ({
    name: `n${i + 1}`,
    host: `n${i + 1}.sim`,
    tags: tagsFor(seed, i, count),
    pg: emptyPg(),
    agent: null,
    guard: null, guardFile: null,
    prevLeases: [],
    killedInPause: false,
    faults: { crashedUntilMs: null, agentDownUntilMs: null, pgHungUntilMs: null, etcdCutUntilMs: null, isolatedUntilMs: null, etcdLossyUntilMs: null, pgBrokenUntilMs: null, slowPromoteMs: 0 },
  }));
  return {
    seed, rng: mulberry32(seed), vt, world: vt.owner('world'), store: new FakeEtcdStore(vt.clock), nodes, bootstrapDcs: bootstrapDcs(),
    decide: decideFn, historyFirst, faultSet, step: 0, etcdDownUntilMs: null, keyDeletedFrom: null, stranger: null, pauseUntilMs: null, chaos: false, canonical: [], probeFailedAt: new Map(), nextUid: 1,
    sysid: String(7_300_000_000_000_000_000n + BigInt(seed)), trace: [], violations: [],
    stats: { ticks: 0, promotions: 0, faults: 0, fences: 0, switchovers: 0, rewinds: 0 },
  };
}

/** Start every agent, 300 ms apart (as the old simulator's first ticks were). */
export function startAgents(w: WorldState): void {
  w.nodes.forEach((n, i) => {
    w.world.after(i * 300, () => {
      if (n.agent === null && n.faults.crashedUntilMs === null) n.agent = startAgent(w, n);
    });
  });
}

/** Streaming (one step of lag, sometimes none), then writes on every writable primary; a vanished postmaster wakes its agent. */
function postgres(w: WorldState, wasRunning: Map<SimNode, boolean>): void {
  for (const r of w.nodes) {
    const pg = r.pg;
    if (wasRunning.get(r) === true && !pg.running) r.agent?.owner.after(0, () => r.agent?.wake());
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

function updateCanonical(w: WorldState): void {
  for (const n of w.nodes) {
    const keyed = holdsKey(w, n) || w.keyDeletedFrom === n.name;
    if (isWritable(n.pg) && nowMs(w) < leaseDeadline(n) && keyed) w.canonical = n.pg.wal;
    // A killed run's lease no longer binds anything once its PostgreSQL is not writable and will
    // not become so on its own (a promotion it requested ends without it).
    if (!isWritable(n.pg) && n.pg.promoteDoneAtMs === null) n.prevLeases.length = 0;
  }
}

export async function step(w: WorldState): Promise<void> {
  w.step++;
  recover(w);
  if (w.chaos) injectEvent(w);
  const wasRunning = new Map(w.nodes.map((n) => [n, n.pg.running]));
  await w.vt.runUntil(nowMs(w) + STEP_MS);
  // An operator-deleted key stops excusing its former holder once anyone holds the key again.
  if (w.keyDeletedFrom !== null && etcdHasLeader(w)) w.keyDeletedFrom = null;
  postgres(w, wasRunning);
  checkS1(w);
  updateCanonical(w);
  if (w.step % 200 === 0) w.vt.prune();
}

function etcdHasLeader(w: WorldState): boolean {
  return w.nodes.some((n) => holdsKey(w, n));
}

/** End every agent; detached first, so the loops' exits (code 0 on abort) are not taken for halts. */
export function stopAll(w: WorldState): void {
  for (const n of w.nodes) {
    const agent = n.agent;
    n.agent = null;
    agent?.stop();
    closeGuard(n);
  }
}

export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  const chaosSteps = opts.chaosSteps ?? 600;
  const quietSteps = opts.quietSteps ?? 200;
  const w = createWorld(opts.seed, opts.decide, opts.historyFirst, opts.faultSet);
  try {
    startAgents(w);
    const check = (label: string): void => {
      const why = convergence(w);
      if (why !== null) log(w, `not converged: ${why}`);
      if (why !== null) w.violations.push(`step ${w.step}: progress: ${label}, not converged: ${why}`);
    };
    // The bootstrap window is quiet; then chaos and quiet alternate.
    while (w.step < quietSteps && w.violations.length === 0) await step(w);
    check('after the bootstrap window');
    while (w.step < opts.steps && w.violations.length === 0) {
      const cycleStep = (w.step - quietSteps) % (chaosSteps + quietSteps);
      const chaos = cycleStep < chaosSteps && w.step + quietSteps < opts.steps;
      if (w.chaos && !chaos) {
        recover(w, true);
        log(w, 'chaos ends');
      }
      w.chaos = chaos;
      await step(w);
      if (!w.chaos && (cycleStep === chaosSteps + quietSteps - 1 || w.step === opts.steps)) check(`${quietSteps} quiet steps after the faults stopped`);
    }
  } finally {
    stopAll(w);
  }
  return { seed: opts.seed, nodes: w.nodes.length, steps: w.step, violations: [...w.violations], trace: [...w.trace], stats: { ...w.stats } };
}
