// The simulator's own parts: WAL ground truth, PostgreSQL's streaming rule, the invariant checks,
// and proof that the checks have teeth: a deliberately broken decide() is caught.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import type { DecideInput, Decision } from '../../../src/core/decide-types.js';
import { canStream, emptyPg, startPrimary, startReplica, type FakePg } from '../../support/sim/fake-pg.js';
import { checkS1, checkStreamed, convergence } from '../../support/sim/invariants.js';
import { createWorld, runSimulation } from '../../support/sim/index.js';
import { append, commonPrefix, isPrefix, splice, truncate, walEnd, type Wal } from '../../support/sim/wal.js';
import type { WorldState } from '../../support/sim/model.js';

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
  w.nowMs = 100_000;
  for (const n of w.nodes) {
    n.pg.dataDir = 'initialized';
    n.pg.sysid = w.sysid;
    n.pg.wal = [{ uid: 1, from: 0, to: 100 }];
  }
  return w;
}

describe('simulator checks', () => {
  it('S1 flags a writable primary past its own lease deadline', () => {
    const w = handBuiltWorld();
    const n = w.nodes[0]!;
    startPrimary(n.pg, 5, w.nowMs);
    n.agent.validUntilMs = w.nowMs - 1;
    checkS1(w);
    expect(w.violations.join()).toContain('S1: n1 is a writable primary 1 ms past its lease deadline');
  });

  it('S1 flags a writable primary without the leader key, but not one whose agent sees pause', () => {
    const w = handBuiltWorld();
    const n = w.nodes[1]!;
    startPrimary(n.pg, 5, w.nowMs);
    n.agent.validUntilMs = w.nowMs + 5_000;
    n.agent.config = { ...n.agent.config, pause: true };
    checkS1(w);
    expect(w.violations).toEqual([]);
    n.agent.config = { ...n.agent.config, pause: false };
    checkS1(w);
    expect(w.violations.join()).toContain('S1: n2 is a writable primary without holding the leader key');
  });

  it('S1 accepts the key holder under its valid lease', () => {
    const w = handBuiltWorld();
    const n = w.nodes[0]!;
    n.agent.leaseId = w.etcd.grant(w.nowMs);
    n.agent.validUntilMs = w.nowMs + 8_000;
    expect(w.etcd.acquire(n.name, n.agent.leaseId, w.nowMs)).toBe(true);
    startPrimary(n.pg, 5, w.nowMs);
    checkS1(w);
    expect(w.violations).toEqual([]);
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
    startPrimary(w.nodes[0]!.pg, 5, w.nowMs);
    startPrimary(w.nodes[1]!.pg, 6, w.nowMs);
    expect(convergence(w)).toBe('2 writable primaries (n1, n2)');
    startReplica(w.nodes[1]!.pg, 'n1', w.nowMs);
    expect(convergence(w)).toContain('n1 is primary but the leader key is absent');
  });
});

/** Seeds in this order until one run finds a violation; returns the first violation or null. */
function firstViolation(decideFn: (input: DecideInput) => Decision, seeds: readonly number[]): string | null {
  for (const seed of seeds) {
    const r = runSimulation({ seed, steps: 10_000, decide: decideFn });
    if (r.violations.length > 0) return r.violations[0] ?? null;
  }
  return null;
}

const seeds = (first: number[]): number[] => [...first, ...Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => !first.includes(s))];

describe('a broken decide() is caught', () => {
  it('promoting as soon as the leader key is gone, without waiting for the former leader, gives two primaries', () => {
    // ttl 0 makes "last seen alive + ttl" pass at once: the S2 former-leader check is off.
    const noWait = (i: DecideInput): Decision => decide({ ...i, config: { ...i.config, ttl: 0 } });
    expect(firstViolation(noWait, seeds([13]))).toMatch(/S2: .* while n\d is still a writable primary \(two primaries\)/);
  });

  it('promoting whenever the key is free, ignoring peers and tags, breaks S2', () => {
    const greedy = (i: DecideInput): Decision => {
      if (i.cluster?.leader === null && i.local.kind === 'running' && i.local.inRecovery && !i.fenced && i.job === null) {
        return { actions: [{ kind: 'acquireLeader' }, { kind: 'promote', oldTimeline: i.local.timeline, switchLsn: i.local.receiveLsn ?? 0, reason: 'greedy' }], reason: 'greedy', memory: i.memory };
      }
      return decide(i);
    };
    expect(firstViolation(greedy, seeds([9, 1]))).toMatch(/S2: /);
  });

  it('promoting without taking the leader key breaks S1', () => {
    const noAcquire = (i: DecideInput): Decision => {
      const d = decide(i);
      return { ...d, actions: d.actions.filter((a) => a.kind !== 'acquireLeader') };
    };
    expect(firstViolation(noAcquire, seeds([2]))).toMatch(/S1: .* without holding the leader key/);
  });

  it('not demoting a primary when another member holds the key breaks S1', () => {
    const noFence = (i: DecideInput): Decision => {
      const d = decide(i);
      return { ...d, actions: d.actions.filter((a) => a.kind !== 'fence') };
    };
    expect(firstViolation(noFence, seeds([3, 6]))).toMatch(/S1: /);
  });

  it('starting a former primary as a plain replica (no fork check) never converges', () => {
    const noRewind = (i: DecideInput): Decision => {
      const d = decide(i);
      return {
        ...d,
        actions: d.actions.map((a) => (a.kind === 'startJob' && a.job.kind === 'rejoin' ? { kind: 'startJob', job: { kind: 'startReplica', leader: a.job.leader } } : a)),
      };
    };
    expect(firstViolation(noRewind, seeds([1]))).toMatch(/progress: .*not converged|S4: /);
  });

  it('ignoring the history key (no timeline check) lets timelines collide and breaks S4', () => {
    const noHistory = (i: DecideInput): Decision => decide(i.cluster ? { ...i, cluster: { ...i.cluster, history: null } } : i);
    expect(firstViolation(noHistory, seeds([9, 6, 12, 5]))).toMatch(/S4: /);
  });
});

describe('executor order for the history entry (src/loop/executor.ts writes it before pg_promote)', () => {
  // A promotion that completes while the node is cut off from etcd would leave no trace if the
  // entry were written after pg_promote, and a later promotion from the same timeline would reuse
  // its number (seed 64: S4). The executor writes it first and gives the promotion up when that
  // fails; decide() copes with announced promotions that never completed (seed 177).
  it('history first (the executor order): no violation in the seeds that broke the other order', () => {
    for (const seed of [64, 177]) {
      const r = runSimulation({ seed, steps: 10_000, historyFirst: true });
      expect(r.violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('the simulator still sees the collision the other order would cause', () => {
    // The first seed whose run with the old order breaks S4; trajectories move with every change
    // of the core, so the seed is searched, not fixed.
    const seed = Array.from({ length: 60 }, (_, i) => i + 1).find((s) => /S4: /.test(runSimulation({ seed: s, steps: 10_000, historyFirst: false }).violations.join()));
    expect(seed, 'no seed in 1..60 shows the collision with the old order').toBeDefined();
    expect(runSimulation({ seed: seed as number, steps: 10_000, historyFirst: true }).violations).toEqual([]);
  }, 120_000);
});

