// The order of quorum-mode writes (quorum-resolver.ts), and an exhaustive check of the promise
// it exists for: at every intermediate state, any candidate that gathers `quorum` voters (plus
// itself) meets a member holding every acknowledged commit.
import { describe, expect, it } from 'vitest';
import { nextTransition } from '../../../src/core/quorum.js';
import { QuorumStateResolver, type QuorumState, type Transition } from '../../../src/core/quorum-resolver.js';

const base: QuorumState = { leader: 'a', quorum: 0, voters: [], numsync: 0, sync: [], numsyncConfirmed: 0, active: [], syncWanted: 1, leaderWanted: 'a' };
const show = (ts: Transition[]) => ts.map((t) => `${t.type} ${t.num} ${[...t.names].sort().join(',')}`);
const all = (over: Partial<QuorumState>) => show(new QuorumStateResolver({ ...base, ...over }).transitions());

describe('QuorumStateResolver (Patroni test_quorum cases)', () => {
  it('from nothing: s_s_n names all new standbys at once, the key follows once one is confirmed', () => {
    expect(all({ active: ['b', 'c', 'd'], syncWanted: 2 })).toEqual(['sync 2 b,c,d', 'restart 0 ']);
    expect(all({ sync: ['b', 'c', 'd'], numsync: 2, active: ['b', 'c', 'd'], numsyncConfirmed: 1, syncWanted: 2 })).toEqual(['quorum 2 b,c,d']);
    // Two confirmed: the quorum is the optimum |active| - numsync.
    expect(all({ sync: ['b', 'c', 'd'], numsync: 2, active: ['b', 'c', 'd'], numsyncConfirmed: 2, syncWanted: 2 })).toEqual(['quorum 1 b,c,d']);
  });

  it('steady state: nothing to do', () => {
    expect(all({ voters: ['b', 'c', 'd'], quorum: 1, sync: ['b', 'c', 'd'], numsync: 2, active: ['b', 'c', 'd'], numsyncConfirmed: 2, syncWanted: 2 })).toEqual([]);
  });

  it('a standby leaves: s_s_n shrinks first (the quorum still covers it), then the key lowers the quorum', () => {
    expect(all({ voters: ['b', 'c', 'd'], quorum: 1, sync: ['b', 'c', 'd'], numsync: 2, active: ['b', 'c'], numsyncConfirmed: 2, syncWanted: 2 }))
      .toEqual(['sync 2 b,c', 'quorum 0 b,c']);
  });

  it('a standby joins: the key raises the quorum first, then s_s_n widens', () => {
    expect(all({ voters: ['b', 'c'], quorum: 0, sync: ['b', 'c'], numsync: 2, active: ['b', 'c', 'd'], numsyncConfirmed: 2, syncWanted: 2 }))
      .toEqual(['quorum 1 b,c,d', 'sync 2 b,c,d']);
  });

  it('the last standby leaves: the key empties first, then s_s_n', () => {
    expect(all({ voters: ['b'], quorum: 0, sync: ['b'], numsync: 1, active: [], numsyncConfirmed: 1 })).toEqual(['quorum 0 ', 'sync 0 ']);
  });

  it('after a failover the former leader replaces the new one among the voters, quorum unchanged', () => {
    expect(all({ leader: 'a', leaderWanted: 'b', voters: ['b', 'c', 'd'], quorum: 1, sync: ['a', 'c', 'd'], numsync: 2, active: ['c', 'd'], syncWanted: 2 })[0])
      .toBe('quorum 1 a,c,d');
  });

  it('a key whose quorum is all its voters, then a failover: the key follows s_s_n under the new leader instead of failing every tick', () => {
    // Patroni keeps the old leader on this path and fails its assertion every loop.
    expect(all({ leader: 'a', leaderWanted: 'b', voters: ['b', 'c'], quorum: 2, sync: ['a', 'c'], numsync: 1, active: ['c'], syncWanted: 2 })[0])
      .toBe('quorum 1 a,c');
    expect(new QuorumStateResolver({ ...base, leader: 'a', leaderWanted: 'b', voters: ['b', 'c'], quorum: 2, sync: ['a', 'c'], numsync: 1, active: ['c'], syncWanted: 2 }).transitions()[0]?.leader).toBe('b');
  });

  it('lowering synchronous_node_count: the quorum rises first, then numsync drops', () => {
    expect(all({ voters: ['b', 'c', 'd'], quorum: 1, sync: ['b', 'c', 'd'], numsync: 2, active: ['b', 'c', 'd'], numsyncConfirmed: 2, syncWanted: 1 }))
      .toEqual(['quorum 2 b,c,d', 'sync 1 b,c,d']);
  });
});

// ---- The exhaustive check ----------------------------------------------------------------

/** An s_s_n era: commits acknowledged under it are on `numsync` members of `sync` (the worst ones), or on those that caught up since. */
interface Era { readonly numsync: number; readonly sync: readonly string[]; readonly caught: Set<string> }

interface World {
  /** The primary, and the leader the sync key names (they differ right after a failover). */
  leader: string; keyLeader: string;
  quorum: number; voters: string[]; numsync: number; sync: string[];
  active: Set<string>; wanted: number; eras: Era[];
  /** Standbys that caught up after the current s_s_n took effect (quorum.ts trackBase). */
  ready: Set<string>;
}

function fresh(): World {
  return { leader: 'a', keyLeader: 'a', quorum: 0, voters: [], numsync: 0, sync: [], active: new Set(), wanted: 1, eras: [{ numsync: 0, sync: [], caught: new Set() }], ready: new Set() };
}

/** Can a candidate gather quorum + 1 voters none of whom holds some acknowledged commit? */
function unsafe(w: World): string | null {
  for (const e of w.eras) {
    const real = e.sync.filter((n) => !n.startsWith('__'));
    if (e.numsync > real.length) continue; // commits never acknowledged under it
    const votersLacking = w.voters.filter((v) => !e.caught.has(v));
    // The acknowledging standbys, picked among those outside the voters first.
    const outside = real.filter((n) => !votersLacking.includes(n)).length;
    const inside = Math.max(0, e.numsync - outside);
    if (votersLacking.length - inside >= w.quorum + 1) {
      return `quorum ${w.quorum} of ${w.voters.join(',')} can miss commits acknowledged under ANY ${e.numsync} (${e.sync.join(',')}), caught up: ${[...e.caught].join(',')}`;
    }
  }
  return null;
}

function tick(w: World): Transition | null {
  const active = [...w.active];
  const t = nextTransition({
    leader: w.keyLeader, leaderWanted: w.leader, inferConfirmed: false, quorum: w.quorum, voters: w.voters, numsync: w.numsync, sync: w.sync,
    numsyncConfirmed: [...w.ready].filter((n) => w.active.has(n)).length, active, syncWanted: w.wanted,
  });
  if (t === null) return null;
  if (t.type === 'quorum') {
    w.keyLeader = t.leader;
    w.quorum = t.num;
    w.voters = [...t.names].sort();
  } else {
    w.numsync = t.num;
    w.sync = [...t.names].sort();
    w.eras.push({ numsync: t.num, sync: w.sync, caught: new Set() });
    w.ready = new Set();
  }
  return t;
}

function settle(w: World, trail: string[]): void {
  for (let i = 0; i < 30; i++) {
    let t: Transition | null;
    try {
      t = tick(w);
    } catch (e) {
      throw new Error(`${String(e)} after ${trail.join(' -> ')} (key ${w.keyLeader} ${w.quorum} of ${w.voters.join(',')}, s_s_n ANY ${w.numsync} (${w.sync.join(',')}), active ${[...w.active].join(',')}, ready ${[...w.ready].join(',')}, k ${w.wanted})`);
    }
    if (t === null) return;
    trail.push(`${t.type} ${t.num} (${[...t.names].sort().join(',')})`);
    const bad = unsafe(w);
    if (bad) throw new Error(`unsafe after ${trail.join(' -> ')}: ${bad}`);
  }
  throw new Error(`no steady state after ${trail.join(' -> ')}`);
}

type Ev = { readonly kind: 'add' | 'remove' | 'catchup' | 'failover' | 'manual'; readonly name: string } | { readonly kind: 'wanted'; readonly n: number } | { readonly kind: 'catchupAll' };

/**
 * The primary dies and voter `x`, the most advanced (so it holds every acknowledged commit),
 * promotes: with the votes of `quorum` other voters (all but the dead leader answer), or without
 * them (manual failover); s_s_n as quorumPrepromote sets it, the key unchanged until the new
 * leader's ticks. The former leader holds every commit it acknowledged.
 */
function failover(w: World, x: string, manual: boolean): void {
  if (!w.voters.includes(x) || x === w.leader) return;
  const members = [w.keyLeader, ...w.voters];
  const votes = members.filter((n) => n !== x && n !== w.leader).length;
  if (!manual && votes < w.quorum) return;
  for (const e of w.eras) e.caught.add(w.leader);
  const sync = members.filter((n) => n !== x);
  const numsync = Math.max(members.length - w.quorum - (members.includes(x) ? 1 : 0), sync.length > 0 ? 1 : 0);
  w.active.delete(x);
  w.active.delete(w.leader);
  w.leader = x;
  w.sync = sync.sort();
  w.numsync = numsync;
  w.eras.push({ numsync, sync: w.sync, caught: new Set() });
  w.ready = new Set();
}

function apply(w: World, ev: Ev): void {
  if (ev.kind === 'failover' || ev.kind === 'manual') failover(w, ev.name, ev.kind === 'manual');
  if (ev.kind === 'add' && ev.name !== w.leader) w.active.add(ev.name);
  if (ev.kind === 'remove') w.active.delete(ev.name);
  if (ev.kind === 'wanted') w.wanted = ev.n;
  const catchUp = (n: string) => {
    if (!w.active.has(n)) return;
    for (const e of w.eras) e.caught.add(n);
    if (w.sync.includes(n)) w.ready.add(n);
  };
  if (ev.kind === 'catchup') catchUp(ev.name);
  if (ev.kind === 'catchupAll') for (const n of w.active) catchUp(n);
}

const label = (ev: Ev): string => (ev.kind === 'wanted' ? `k=${ev.n}` : ev.kind === 'catchupAll' ? 'catchup*' : `${ev.kind} ${ev.name}`);

function run(events: readonly Ev[]): void {
  const w = fresh();
  const trail: string[] = [];
  for (const ev of events) {
    apply(w, ev);
    trail.push(`[${label(ev)}]`);
    settle(w, trail);
  }
  // Converged: once everyone keeps catching up, the key is the optimum Patroni aims at.
  for (let round = 0; round < 6; round++) {
    apply(w, { kind: 'catchupAll' });
    trail.push('[catchup*]');
    const before = trail.length;
    settle(w, trail);
    if (trail.length === before) break;
  }
  const n = w.active.size;
  if (n > 0) {
    expect(w.voters, trail.join(' -> ')).toEqual([...w.active].sort());
    expect(w.numsync + w.quorum, trail.join(' -> ')).toBe(n);
  }
}

function* sequences(pool: readonly Ev[], length: number): Generator<Ev[]> {
  if (length === 0) { yield []; return; }
  for (const head of pool) for (const rest of sequences(pool, length - 1)) yield [head, ...rest];
}

describe('quorum invariant over every add/remove/failover sequence (every intermediate state)', () => {
  // a leads at first; any of the four may fail over to a voter, the former leader may come back.
  const names = ['a', 'b', 'c', 'd'];
  const pool: Ev[] = [
    ...names.map((name) => ({ kind: 'add' as const, name })),
    ...names.map((name) => ({ kind: 'remove' as const, name })),
    ...names.map((name) => ({ kind: 'catchup' as const, name })),
    ...names.map((name) => ({ kind: 'failover' as const, name })),
    ...names.map((name) => ({ kind: 'manual' as const, name })),
    { kind: 'catchupAll' }, { kind: 'wanted', n: 1 }, { kind: 'wanted', n: 2 }, { kind: 'wanted', n: 3 },
  ];

  it('four members, every sequence of four events', () => {
    let count = 0;
    for (const seq of sequences(pool, 4)) {
      run(seq);
      count++;
    }
    expect(count).toBe(pool.length ** 4);
  });

  it('five members, 10000 seeded random sequences of twelve events', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const big: Ev[] = [
      ...five.flatMap((name) => [{ kind: 'add' as const, name }, { kind: 'remove' as const, name }, { kind: 'catchup' as const, name }, { kind: 'failover' as const, name }, { kind: 'manual' as const, name }]),
      { kind: 'catchupAll' }, { kind: 'wanted', n: 1 }, { kind: 'wanted', n: 2 }, { kind: 'wanted', n: 3 },
    ];
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    for (let i = 0; i < 10_000; i++) {
      run(Array.from({ length: 12 }, () => big[Math.floor(rnd() * big.length)] as Ev));
    }
  });
});
