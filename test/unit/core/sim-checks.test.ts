// The simulator's own parts: WAL ground truth, PostgreSQL's streaming rule, the invariant checks,
// and proof that the checks have teeth: a deliberately broken decide() (or promotion order) run by
// the real loop is caught.
import { describe, expect, it } from 'vitest';
import type { DecideInput, Decision } from '../../../src/core/decide-types.js';
import { BROKEN } from '../../support/sim/broken.js';
import { canStream, emptyPg, startPrimary, startReplica, type FakePg } from '../../support/sim/fake-pg.js';
import { checkS1, checkStreamed, convergence } from '../../support/sim/invariants.js';
import { createWorld, runSimulation } from '../../support/sim/index.js';
import { append, commonPrefix, isPrefix, splice, truncate, walEnd, type Wal } from '../../support/sim/wal.js';
import { FENCE_MAX_MS, PREFIX, nowMs, type AgentRuntime, type SimNode, type WorldState } from '../../support/sim/model.js';

describe('simulator WAL ground truth', () => {
  const a: Wal = append(append([], 1, 100), 2, 50); // [1: 0-100][2: 100-150]
  const b: Wal = append(truncate(a, 120), 3, 30); // forked at 120: [1: 0-100][2: 100-120][3: 120-150]

  it('appends to the last segment of the same writer', () => {
    expect(append(a, 2, 10)).toEqual([{ uid: 1, from: 0, to: 100 }, { uid: 2, from: 100, to: 160 }]);
    expect(walEnd(a)).toBe(150);
  });

  it('finds the fork point of two branches', () => {
    expect(commonPrefix(a, b)).toBe(120);
    expect(commonPrefix(b, a)).toBe(120);
    expect(isPrefix(truncate(a, 110), b)).toBe(true);
    expect(isPrefix(a, b)).toBe(false);
  });

  it('splices streamed bytes onto what a replica has, diverged or not', () => {
    const replica = truncate(a, 130);
    expect(splice(replica, 130, a, 150)).toEqual(a);
    const wrong = splice(a, 150, b, 150);
    expect(isPrefix(wrong, b)).toBe(false);
  });
});

describe('fake PostgreSQL streaming rule (timeline numbers, as PostgreSQL checks them)', () => {
  const pg = (tl: number, end: number, history: { tl: number; end: number }[]): FakePg => {
    const p = emptyPg();
    p.dataDir = 'initialized';
    p.sysid = '1';
    p.tl = tl;
    p.history = history;
    p.wal = [{ uid: 1, from: 0, to: end }];
    return p;
  };
  const leader = pg(2, 500, [{ tl: 1, end: 300 }]);
  startPrimary(leader, 9, 0);

  it('streams on the same timeline up to the upstream position only', () => {
    const up = pg(1, 400, []);
    startPrimary(up, 9, 0);
    expect(canStream(pg(1, 350, []), up)).toBe(true);
    expect(canStream(pg(1, 450, []), up)).toBe(false);
  });

  it('follows a newer timeline only from before its fork point', () => {
    expect(canStream(pg(1, 300, []), leader)).toBe(true);
    expect(canStream(pg(1, 301, []), leader)).toBe(false);
    expect(canStream(pg(3, 10, [{ tl: 1, end: 5 }, { tl: 2, end: 9 }]), leader)).toBe(false);
  });

  it('does not stream from a stopped upstream', () => {
    const down = pg(2, 500, [{ tl: 1, end: 300 }]);
    expect(canStream(pg(2, 400, [{ tl: 1, end: 300 }]), down)).toBe(false);
  });
});

function handBuiltWorld(): WorldState {
  const w = createWorld(3);
  w.vt.clock.advance(100_000);
  for (const n of w.nodes) {
    n.pg.dataDir = 'initialized';
    n.pg.sysid = w.sysid;
    n.pg.wal = [{ uid: 1, from: 0, to: 100 }];
  }
  return w;
}

/** An agent as the checks see one: its lease keeper's state and its dynamic config, nothing running. */
function agentOf(w: WorldState, n: SimNode, lease: { leaseId: string | null; validUntilMs: number }, pause = false): AgentRuntime {
  const a: AgentRuntime = {
    owner: w.vt.owner(n.name), fenced: false, lastReason: '', haltReason: null, status: null, startingAs: () => null, terminate: () => undefined,
    lease: () => lease, etcdRead: () => 'read', dynamic: () => ({ ...w.bootstrapDcs, pause }), wake: () => undefined, stop: () => undefined,
  };
  n.agent = a;
  return a;
}

/** n holds the leader key in the store under a fresh lease; returns the lease id. */
function giveKey(w: WorldState, n: SimNode): string {
  const { id } = w.store.grant(10);
  w.store.txn([], [{ op: 'put', key: `${PREFIX}leader`, value: n.name, lease: id }], []);
  return id;
}

describe('simulator checks', () => {
  it('S1 allows a writable primary past its deadline only for as long as a fence takes', () => {
    const w = handBuiltWorld();
    const n = w.nodes[0]!;
    startPrimary(n.pg, 5, nowMs(w));
    const leaseId = giveKey(w, n);
    agentOf(w, n, { leaseId, validUntilMs: nowMs(w) - FENCE_MAX_MS });
    checkS1(w);
    expect(w.violations).toEqual([]);
    agentOf(w, n, { leaseId, validUntilMs: nowMs(w) - FENCE_MAX_MS - 1 });
    checkS1(w);
    expect(w.violations.join()).toContain(`S1: n1 is a writable primary ${FENCE_MAX_MS + 1} ms past its lease deadline`);
  });

  it('S1 flags a writable primary without the leader key, but not one whose agent sees pause', () => {
    const w = handBuiltWorld();
    const n = w.nodes[1]!;
    startPrimary(n.pg, 5, nowMs(w));
    agentOf(w, n, { leaseId: '1', validUntilMs: nowMs(w) + 5_000 }, true);
    checkS1(w);
    expect(w.violations).toEqual([]);
    agentOf(w, n, { leaseId: '1', validUntilMs: nowMs(w) + 5_000 }, false);
    checkS1(w);
    expect(w.violations.join()).toContain('S1: n2 is a writable primary without holding the leader key');
  });

  it('S1 accepts the key holder under its valid lease, not under a lease etcd no longer has', () => {
    const w = handBuiltWorld();
    const n = w.nodes[0]!;
    const leaseId = giveKey(w, n);
    agentOf(w, n, { leaseId, validUntilMs: nowMs(w) + 8_000 });
    startPrimary(n.pg, 5, nowMs(w));
    checkS1(w);
    expect(w.violations).toEqual([]);
    w.store.revoke(leaseId);
    checkS1(w);
    expect(w.violations.join()).toContain('S1: n1 is a writable primary without holding the leader key (key: none)');
  });

  it('S4 flags a replica streaming a branch it did not come from', () => {
    const w = handBuiltWorld();
    const [up, r] = [w.nodes[0]!, w.nodes[1]!];
    up.pg.wal = append(up.pg.wal, 7, 50);
    r.pg.wal = append(r.pg.wal, 8, 20);
    checkStreamed(w, r, up);
    expect(w.violations.join()).toContain('S4: n2 streams from n1 although its WAL diverged at 100');
  });

  it('convergence reports what is missing', () => {
    const w = handBuiltWorld();
    expect(convergence(w)).toBe('0 writable primaries ()');
    startPrimary(w.nodes[0]!.pg, 5, nowMs(w));
    startPrimary(w.nodes[1]!.pg, 6, nowMs(w));
    expect(convergence(w)).toBe('2 writable primaries (n1, n2)');
    startReplica(w.nodes[1]!.pg, 'n1', nowMs(w));
    expect(convergence(w)).toContain('n1 is primary but the leader key is absent');
  });

  it('a seed replays exactly (virtual time, one PRNG)', async () => {
    const a = await runSimulation({ seed: 7, steps: 1_500 });
    const b = await runSimulation({ seed: 7, steps: 1_500 });
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
    expect(a.stats.ticks).toBeGreaterThan(100);
  }, 120_000);
});

/** Seeds in this order until one run finds a violation; returns the first violation or null. */
async function firstViolation(decideFn: (input: DecideInput) => Decision, seeds: readonly number[]): Promise<string | null> {
  for (const seed of seeds) {
    const r = await runSimulation({ seed, steps: 10_000, decide: decideFn });
    if (r.violations.length > 0) return r.violations[0] ?? null;
  }
  return null;
}

// A seed known to catch the variant first (found with `npm run sim -- --broken <name>`), then the
// others: trajectories move with every change of the loop, so a stale hint costs time, not the test.
const seeds = (first: number[]): number[] => [...first, ...Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => !first.includes(s))];
const broken = (name: string): ((input: DecideInput) => Decision) => {
  const fn = BROKEN[name];
  if (!fn) throw new Error(`no broken variant ${name}`);
  return fn;
};

describe('a broken decide() run by the real loop is caught', () => {
  it('promoting as soon as the leader key is gone, without waiting for the former leader, gives two primaries', async () => {
    expect(await firstViolation(broken('noWait'), seeds([1]))).toMatch(/S2: .* while n\d is still a writable primary \(two primaries\)/);
  }, 120_000);

  it('promoting whenever the key is free, ignoring peers and tags, breaks S2', async () => {
    expect(await firstViolation(broken('greedy'), seeds([1]))).toMatch(/S2: /);
  }, 120_000);

  it('promoting without taking the leader key breaks S1', async () => {
    expect(await firstViolation(broken('noAcquire'), seeds([4]))).toMatch(/S1: .* without holding the leader key/);
  }, 120_000);

  // Defence in depth, not a blind spot: a decide() that never demotes is still held by the layer
  // under it. Our leader key taken over ends the leadership in the lease keeper, Fencing answers the
  // loss at once (retake or fence), and the fence timer and guard hold the deadline (before the
  // leader's heartbeat and the arming of starting jobs, seed 4 broke S1). Not seed 1 any more: since
  // start failures are verdicts (as the real adapter's), its run reaches a paused leader cut off
  // from etcd while the pause is lifted; in pause the fencing layer is off by design (the operator
  // holds the fence), so only decide()'s demotion stands between it and a second primary.
  it('a decide() that never demotes is still kept from two primaries by the fencing layer', async () => {
    expect(await firstViolation(broken('noFence'), [2, 3, 4, 5])).toBeNull();
  }, 120_000);

  it('starting a former primary as a plain replica (no fork check) never converges', async () => {
    expect(await firstViolation(broken('noRewind'), seeds([3]))).toMatch(/progress: .*not converged|S4: /);
  }, 120_000);

  it('ignoring the history key (no timeline check) lets timelines collide and breaks S4', async () => {
    expect(await firstViolation(broken('noHistory'), seeds([2]))).toMatch(/S4: /);
  }, 120_000);
});

describe('promotion order of the real job (src/loop/promotion.ts: the history entry before pg_promote)', () => {
  // A promotion that completes while the node is cut off from etcd would leave no trace if the entry
  // were written after pg_promote, and a later promotion from the same timeline would reuse its
  // number: PostgreSQL then streams the wrong branch (S4). Seed 3 (fault set 3) shows it with the broken order
  // (`npm run sim -- --promote-first` finds more) and passes with the real one.
  it('the real order: no violation in a seed that breaks the other order', async () => {
    const r = await runSimulation({ seed: 3, steps: 10_000, faultSet: 3 });
    expect(r.violations).toEqual([]);
  }, 120_000);

  it('the simulator sees the collision the other order causes', async () => {
    const r = await runSimulation({ seed: 3, steps: 10_000, historyFirst: false, faultSet: 3 });
    expect(r.violations.join()).toMatch(/S4: /);
  }, 120_000);
});
