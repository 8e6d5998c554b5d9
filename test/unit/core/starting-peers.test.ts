// S2 (d) and a member still starting PostgreSQL (simulator seeds 692 and 36 of fault set 3): it
// answers with no final WAL position, and ranking it out promoted a member with less WAL than it
// (the former primary restarting read-only to compete), bounded by ttl.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { kinds, localPg, memory, NOW_MS, peer, peers, raceInput } from './builders.js';

const TTL_MS = 10_000; // dynamicConfig()'s ttl
const starting = (over = {}) => peer('pg3', { running: false, walPosition: null, timeline: null, streaming: false, startingAs: 'replica', ...over });

describe('the race and a member starting postgresql', () => {
  it('waits for a member that is starting, and remembers since when', () => {
    const d = decide(raceInput({ peers: peers(starting()) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is starting postgresql (as replica) and does not answer with its wal position yet; waiting up to 10000 ms');
    expect(d.memory.startingPeers).toEqual({ 'pg3/starting': NOW_MS });
  });

  it('a stale position from before the stop does not end the wait (only a running postgresql answers)', () => {
    const d = decide(raceInput({ peers: peers(starting({ role: 'primary', walPosition: 3_000, startingAs: 'primary' })) }));
    expect(d.reason).toContain('member pg3 is starting postgresql (as primary)');
  });

  it('stops waiting ttl after it was first seen starting (a long crash recovery does not hold failover back)', () => {
    const m = memory({ startingPeers: { 'pg3/starting': NOW_MS - TTL_MS } });
    const d = decide(raceInput({ peers: peers(starting()), memory: m }));
    expect(kinds(d)).toContain('acquireLeader');
    const still = decide(raceInput({ peers: peers(starting()), memory: memory({ startingPeers: { 'pg3/starting': NOW_MS - TTL_MS + 1 } }) }));
    expect(kinds(still)).toEqual([]);
  });

  it('once it answers, its position ranks as any other and the memory is dropped', () => {
    const up = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 9_000 })), memory: memory({ startingPeers: { pg3: NOW_MS - 1_000 } }) }));
    expect(up.reason).toContain('member pg3 is a better candidate');
    expect(up.memory.startingPeers).toEqual({});
  });

  it('a nofailover member or one not starting (stopped, no job) is not waited for', () => {
    expect(kinds(decide(raceInput({ peers: peers(starting({ nofailover: true })) })))).toContain('acquireLeader');
    const { startingAs: _s, ...stopped } = starting() as Extract<ReturnType<typeof starting>, { reachable: true }>;
    expect(kinds(decide(raceInput({ peers: peers(stopped) })))).toContain('acquireLeader');
  });

  // Seed 301 of set 5: the former primary of a switchover whose candidate froze waits a loop
  // before it starts read-only; stopped, it held more WAL than the member that took the key.
  const stopped = (over = {}) => peer('pg3', { role: 'primary', running: false, walPosition: null, timeline: null, streaming: false, stoppedWal: { lsn: 6_000, timeline: 1 }, ...over });

  it('waits for a member stopped with more wal than ours (its pg_control), bounded by ttl', () => {
    const d = decide(raceInput({ peers: peers(stopped()) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is stopped with more wal (6000 vs own 5000) and its agent answers; waiting up to 10000 ms for it to start and compete');
    expect(d.memory.startingPeers).toEqual({ pg3: NOW_MS });
    const later = decide(raceInput({ peers: peers(stopped()), memory: memory({ startingPeers: { pg3: NOW_MS - TTL_MS } }) }));
    expect(kinds(later)).toContain('acquireLeader');
  });

  it('a start begun after the stopped wait ran out is waited for on its own clock; the stopped clock is kept across starts (seed 57 of set 6)', () => {
    const stoppedLong = memory({ startingPeers: { pg3: NOW_MS - TTL_MS - 5_000 } });
    const d = decide(raceInput({ peers: peers(starting({ stoppedWal: { lsn: 6_000, timeline: 1 } })), memory: stoppedLong }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is starting postgresql (as replica)');
    expect(d.memory.startingPeers).toEqual({ pg3: NOW_MS - TTL_MS - 5_000, 'pg3/starting': NOW_MS });
    // Its start failed: stopped again, judged by the stopped clock, which ran out long ago.
    expect(kinds(decide(raceInput({ peers: peers(stopped()), memory: d.memory })))).toContain('acquireLeader');
  });

  it('a wait that ran out only after the probes were taken asks again instead of racing on them (seed 57 of set 6)', () => {
    const m = memory({ startingPeers: { pg3: NOW_MS - TTL_MS - 500 } });
    const stale = decide(raceInput({ peers: peers(stopped()), memory: m, peersProbedAtMs: NOW_MS - 2_000 }));
    expect(kinds(stale)).toEqual([]);
    expect(stale.reason).toContain('the wait for member pg3 ran out 500 ms after our probes were taken; asking again');
    const fresh = decide(raceInput({ peers: peers(stopped()), memory: m, peersProbedAtMs: NOW_MS - 100 }));
    expect(kinds(fresh)).toContain('acquireLeader');
  });

  it('a position its agent last saw it running with counts as well (a postmaster that stopped since its last tick)', () => {
    const { stoppedWal: _w, ...stale } = stopped({ walPosition: 6_000, timeline: 1 }) as Extract<ReturnType<typeof stopped>, { reachable: true }>;
    expect(decide(raceInput({ peers: peers(stale) })).reason).toContain('member pg3 is stopped with more wal (6000 vs own 5000)');
  });

  it('a member stopped with no more wal than ours, on an older timeline, or nofailover is not waited for', () => {
    expect(kinds(decide(raceInput({ peers: peers(stopped({ stoppedWal: { lsn: 5_000, timeline: 1 } })) })))).toContain('acquireLeader');
    expect(kinds(decide(raceInput({ local: localPg.replica({ timeline: 2 }), peers: peers(stopped()) })))).toContain('acquireLeader');
    expect(kinds(decide(raceInput({ peers: peers(stopped({ nofailover: true })) })))).toContain('acquireLeader');
  });

  it('a primary whose key vanished takes it back at once: it does not wait', () => {
    const d = decide(raceInput({ name: 'pg2', local: localPg.primary(), peers: peers(starting()) }));
    expect(kinds(d)).toContain('acquireLeader');
  });
});
