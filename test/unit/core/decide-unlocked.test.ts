// No leader key: the leader race under every S2 rule (5.4).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import {
  formerLeaderLongGone,
  action,
  memory,
  NOW_MS,
  cluster,
  dynamicConfig,
  input,
  jobOf,
  kinds,
  localPg,
  member,
  peer,
  peers,
  raceInput,
} from './builders.js';

const unlocked3 = cluster({ leader: null, members: [member('pg1'), member('pg2'), member('pg3')] });

describe('decide: leader race', () => {
  it('the most advanced eligible replica takes the key and promotes', () => {
    const d = decide(raceInput());
    expect(kinds(d)).toEqual(['acquireLeader', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'promote')).toEqual({ kind: 'promote', oldTimeline: 1, switchLsn: 5_000, reason: 'automatic failover' });
    expect(action(d, 'createSlots').members).toEqual(['pg3']);
    expect(d.reason).toContain('taking the leader key: wal position 5000; best candidate');
  });

  it('acquires before it promotes: the acquire is the guard', () => {
    expect(decide(raceInput()).actions[0]).toMatchObject({ kind: 'acquireLeader', statusRev: 0, historyRev: 0 });
  });

  it('acquires only while no leader wrote its status, no promotion appended history and no member registered since the view it decided on', () => {
    const history = [{ timeline: 1, switchLsn: 100, reason: 'x', newLeader: 'pg1' }];
    const d = decide(raceInput({ local: localPg.replica({ timeline: 2 }), cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], statusModRevision: 4711, revision: 4800, history }), memory: formerLeaderLongGone('pg1', 1, 4711) }));
    // Nor while a member registered since (one it did not probe).
    expect(d.actions[0]).toEqual({ kind: 'acquireLeader', statusRev: 4711, historyRev: 60, viewRevision: 4800 });
  });

  it('promotes at the furthest of received and replayed positions, on its own timeline', () => {
    const d = decide(raceInput({ local: localPg.replica({ receiveLsn: 5_300, replayLsn: 5_200, timeline: 4 }) }));
    expect(action(d, 'promote')).toMatchObject({ oldTimeline: 4, switchLsn: 5_300 });
  });

  it('does not take the key when a reachable peer has received more wal', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 5_001 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is a better candidate (wal 5001 vs own 5000');
  });

  it('ignores an unreachable peer', () => {
    const d = decide(raceInput({ peers: peers(peer.unreachable('pg3', 'timeout')) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
    expect(d.reason).toContain('most advanced of 1 reachable members');
  });

  it('ignores a member it has no probe for', () => {
    const d = decide(raceInput({ peers: peers() }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('ignores a more advanced peer tagged nofailover', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 9_000, nofailover: true })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('waits up to ttl for a more advanced peer whose postgresql is stopped (its agent starts it to compete), then ranks it out', () => {
    const stopped = peers(peer('pg3', { walPosition: 9_000, running: false }));
    const d = decide(raceInput({ peers: stopped }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is stopped with more wal (9000 vs own 5000)');
    const later = decide(raceInput({ peers: stopped, memory: memory({ startingPeers: { pg3: NOW_MS - 10_000 } }) }));
    expect(kinds(later)[0]).toBe('acquireLeader');
  });

  it('ignores a peer in the synchronous mode that is not the sync standby', () => {
    const d = decide(raceInput({
      config: dynamicConfig({ synchronous_mode: true }),
      cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg2'] } }),
      peers: peers(peer('pg3', { walPosition: 9_000 })),
    }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('aborts while a peer still reports itself primary', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { role: 'primary', walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 still reports itself primary');
  });

  it('does not abort for a peer whose primary is stopped (once the wait for it to start is over)', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { role: 'primary', running: false, walPosition: 9_000 })), memory: memory({ startingPeers: { pg3: NOW_MS - 10_000 } }) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('refuses when lagging more than maximum_lag_on_failover behind the last leader optime', () => {
    const d = decide(raceInput({ cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000 + 1_048_577 } }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('lagging 1048577 bytes behind the last leader optime');
  });

  it('accepts a lag of exactly maximum_lag_on_failover', () => {
    const d = decide(raceInput({ cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000 + 1_048_576 } }) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('uses the configured maximum_lag_on_failover', () => {
    const d = decide(raceInput({
      config: dynamicConfig({ maximum_lag_on_failover: 100 }),
      cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_101 } }),
    }));
    expect(d.reason).toContain('maximum_lag_on_failover 100');
  });

  it('skips the lag rule when no optime was published', () => {
    const d = decide(raceInput({ cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')], status: null }) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('does not take the key when tagged nofailover', () => {
    const d = decide(raceInput({ tags: { nofailover: true } }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: tagged nofailover');
  });

  it('ties on wal: the peer with a higher failover_priority wins', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 5_000, failoverPriority: 2 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('priority 2');
  });

  it('ties on wal: our own higher failover_priority wins', () => {
    const d = decide(raceInput({ tags: { failover_priority: 3 }, peers: peers(peer('pg3', { walPosition: 5_000, failoverPriority: 2 })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('ties on wal and priority: the lower name wins (pg1 beats pg2)', () => {
    const c = cluster({ leader: null, members: [member('pg1'), member('pg2')] });
    const d = decide(raceInput({ cluster: c, peers: peers(peer('pg1', { walPosition: 5_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg1 is a better candidate');
  });

  it('ties on wal and priority: the lower name wins (pg2 beats pg3)', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 5_000 })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('a peer on a newer timeline beats more wal on an older one (the older branch is dead)', () => {
    const d = decide(raceInput({ local: localPg.replica({ timeline: 1, receiveLsn: 9_000, replayLsn: 9_000 }), peers: peers(peer('pg3', { walPosition: 5_000, timeline: 2 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: member pg3 is on timeline 2, newer than ours 1');
  });

  it('even an ineligible peer on a newer timeline stops us: our promotion would reuse its timeline number', () => {
    const d = decide(raceInput({ peers: peers(peer('pg3', { walPosition: 1_000, timeline: 2, nofailover: true })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is on timeline 2, newer than ours 1');
  });

  it('more wal on an older timeline does not beat us on a newer one', () => {
    const d = decide(raceInput({ local: localPg.replica({ timeline: 2, receiveLsn: 5_000, replayLsn: 5_000 }), peers: peers(peer('pg3', { walPosition: 9_000, timeline: 1 })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('does not promote from a timeline the cluster already promoted from (the new one would collide)', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], history: [{ timeline: 1, switchLsn: 4_000, reason: 'automatic failover', newLeader: 'pg9' }] });
    const d = decide(raceInput({ cluster: c, peers: peers() }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe("not promoting: timeline 1 is behind the cluster's: pg9 already promoted from timeline 1 at 4000; own wal 5000 is past the switch point 4000 of timeline 1");
  });

  it('ignores its own history entry for the timeline it is still on (that promotion never completed)', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], history: [{ timeline: 1, switchLsn: 5_000, reason: 'x', newLeader: 'pg2' }] });
    expect(kinds(decide(raceInput({ cluster: c })))[0]).toBe('acquireLeader');
  });

  it("ignores a member's history entry while that member still reports the old timeline", () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], history: [{ timeline: 1, switchLsn: 4_000, reason: 'x', newLeader: 'pg3' }] });
    expect(kinds(decide(raceInput({ cluster: c, peers: peers(peer('pg3', { walPosition: 4_000, timeline: 1 })) })))[0]).toBe('acquireLeader');
    const gone = decide(raceInput({ cluster: c, peers: peers(peer.unreachable('pg3')) }));
    expect(gone.reason).toContain("timeline 1 is behind the cluster's: pg3 already promoted");
  });

  it('promotes from the newest timeline the history knows', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], history: [{ timeline: 1, switchLsn: 4_000, reason: 'x', newLeader: 'pg9' }] });
    const d = decide(raceInput({ cluster: c, local: localPg.replica({ timeline: 2 }), peers: peers(), memory: formerLeaderLongGone('pg9', 1) }));
    expect(action(d, 'promote')).toMatchObject({ oldTimeline: 2 });
  });

  it('in synchronous mode only the sync standby may take the key', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg3'] } });
    const d = decide(raceInput({ config: dynamicConfig({ synchronous_mode: true }), cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: synchronous mode: not listed in the sync key (sync key: leader pg1, sync_standby pg3)');
  });

  it('in synchronous mode the sync standby takes the key', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg2'] } });
    expect(kinds(decide(raceInput({ config: dynamicConfig({ synchronous_mode: true }), cluster: c })))[0]).toBe('acquireLeader');
  });

  it('in synchronous mode with no sync standby recorded only the former leader may take the key (Patroni)', () => {
    const c = cluster({ leader: null, members: [member('pg1'), member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: [] } });
    const cfg = dynamicConfig({ synchronous_mode: true });
    const replica = decide(raceInput({ config: cfg, cluster: c }));
    expect(kinds(replica)).toEqual([]);
    expect(replica.reason).toBe('not promoting: synchronous mode: not listed in the sync key (sync key: leader pg1, sync_standby none)');
    const former = decide(raceInput({ name: 'pg1', config: cfg, cluster: c, local: localPg.replica({ receiveLsn: 6_000 }), peers: peers(peer('pg2'), peer('pg3')) }));
    expect(kinds(former)[0]).toBe('acquireLeader');
  });

  it('in synchronous mode without a sync key anyone eligible may race', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: null });
    expect(kinds(decide(raceInput({ config: dynamicConfig({ synchronous_mode: true }), cluster: c })))[0]).toBe('acquireLeader');
  });

  it('the sync key is ignored when synchronous mode is off', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg3'] } });
    expect(kinds(decide(raceInput({ cluster: c })))[0]).toBe('acquireLeader');
  });
});

describe('decide: no leader, postgresql not running', () => {
  it('starts a stopped replica read-only so its wal position can compete', () => {
    const d = decide(input({ name: 'pg2', local: localPg.down(), cluster: unlocked3 }));
    expect(kinds(d)).toEqual(['startJob']);
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
    expect(d.reason).toContain('(replica) read-only');
  });

  it('starts a stopped former primary read-only as well', () => {
    const d = decide(input({ local: localPg.down({ state: 'in production' }), cluster: unlocked3 }));
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
    expect(d.reason).toContain('(former primary)');
  });

  it('clears the fence of a fenced former primary and starts it read-only', () => {
    const d = decide(input({ fenced: true, local: localPg.down({ state: 'in production' }), cluster: unlocked3 }));
    expect(kinds(d)).toEqual(['clearFence', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
  });

  it('cannot race with an unresponsive postgresql', () => {
    const d = decide(input({ name: 'pg2', local: localPg.unresponsive(), cluster: unlocked3 }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('postgresql is unresponsive, cannot race');
  });
});
