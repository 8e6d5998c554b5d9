// The failover key (5.6): the leader runs or clears it; without a leader the candidate takes over.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import {
  formerLeaderLongGone,
  WALL_NOW_MS,
  action,
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
  ref,
  type ClusterOverrides,
  type InputOverrides,
} from './builders.js';

const healthy = peers(peer('pg2', { walPosition: 5_000 }), peer('pg3', { walPosition: 4_900 }));
const iso = (ms: number) => new Date(ms).toISOString();

function leaderWith(failover: NonNullable<ClusterOverrides['failover']>, over: InputOverrides = {}) {
  return input({ cluster: cluster({ failover }), peers: healthy, ...over });
}

describe('decide: switchover on the leader', () => {
  it('starts the switchover job to the named healthy candidate', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg3', modRevision: 77 }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'createSlots', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'switchover', candidate: ref('pg3'), failoverModRevision: 77 });
    expect(d.reason).toContain('switchover to pg3: member pg3 is healthy at wal 4900');
  });

  it('picks the most advanced healthy replica when no candidate is named, and names it for the others', () => {
    const d = decide(leaderWith({ leader: 'pg1', modRevision: 31 }));
    expect(jobOf(d)).toEqual({ kind: 'switchover', candidate: ref('pg2'), failoverModRevision: 31, announce: { leader: 'pg1', member: 'pg2' } });
  });

  it('breaks a wal tie on failover_priority when picking the candidate', () => {
    const d = decide(leaderWith({ leader: 'pg1' }, { peers: peers(peer('pg2'), peer('pg3', { failoverPriority: 5 })) }));
    expect(jobOf(d)).toMatchObject({ candidate: ref('pg3') });
  });

  it('waits for a switchover scheduled in the future, still renewing', () => {
    const at = iso(WALL_NOW_MS + 60_000);
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2', scheduledAt: at }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'createSlots']);
    expect(d.reason).toBe(`switchover scheduled at ${at}`);
  });

  it('runs a scheduled switchover once it is due', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2', scheduledAt: iso(WALL_NOW_MS - 1) }));
    expect(jobOf(d)).toMatchObject({ kind: 'switchover', candidate: ref('pg2') });
  });

  it('clears a request with an unparseable scheduled_at', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2', scheduledAt: 'tomorrow-ish', modRevision: 9 }));
    expect(action(d, 'deleteFailover')).toEqual({ kind: 'deleteFailover', modRevision: 9 });
    expect(d.reason).toContain('scheduled_at tomorrow-ish is not a valid time');
  });

  it('clears the request when the named candidate is unreachable', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2' }, { peers: peers(peer.unreachable('pg2', 'ECONNREFUSED')) }));
    expect(kinds(d)).toContain('deleteFailover');
    expect(kinds(d)).not.toContain('startJob');
    expect(d.reason).toContain('member pg2 is unreachable (ECONNREFUSED)');
  });

  it('clears the request when the candidate is tagged nofailover', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2' }, { peers: peers(peer('pg2', { nofailover: true })) }));
    expect(d.reason).toContain('member pg2 is tagged nofailover');
  });

  it('clears the request when the candidate postgresql is not running', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg2' }, { peers: peers(peer('pg2', { running: false })) }));
    expect(d.reason).toContain('member pg2 is not running');
  });

  it('clears the request when the candidate was not probed', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg9' }));
    expect(d.reason).toContain('member pg9 was not probed');
  });

  it('clears the request when the candidate is not the sync standby in synchronous mode', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg3' }, {
      config: dynamicConfig({ synchronous_mode: true }),
      cluster: cluster({ failover: { leader: 'pg1', member: 'pg3' }, sync: { leader: 'pg1', syncStandby: ['pg2'] } }),
    }));
    expect(d.reason).toBe('clearing the switchover request: member pg3 is not a synchronous standby (sync key: leader pg1, sync_standby pg2)');
  });

  it('clears the request when it names another member as the leader', () => {
    const d = decide(leaderWith({ leader: 'pg3', member: 'pg2' }));
    expect(kinds(d)).toContain('deleteFailover');
    expect(d.reason).toContain('it names pg3 as leader but this node holds the key');
  });

  it('clears a request naming this node as both leader and candidate, and says why', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg1' }));
    expect(d.reason).toContain('this node is already the leader');
    expect(d.memory.switchoverAbort).toMatchObject({ reason: 'this node is already the leader' });
  });

  it('the candidate that took the key clears the request it carried out, reporting no abort', () => {
    for (const fo of [{ leader: 'pg2', member: 'pg1', modRevision: 12 }, { member: 'pg1', modRevision: 12 }]) {
      const d = decide(leaderWith(fo));
      expect(action(d, 'deleteFailover')).toEqual({ kind: 'deleteFailover', modRevision: 12 });
      expect(kinds(d)).not.toContain('startJob');
      expect(d.reason).toContain('the requested candidate, leads now');
      expect(d.memory.switchoverAbort).toBeNull();
    }
  });

  it('clears the request when no replica is healthy', () => {
    const d = decide(leaderWith({ leader: 'pg1' }, { peers: peers(peer('pg2', { running: false }), peer.unreachable('pg3')) }));
    expect(d.reason).toContain('no healthy candidate (member pg2 is not running; member pg3 is unreachable');
    // Published like an abort (member key switchover_aborted), so the API that wrote it says why.
    expect(d.memory.switchoverAbort).toMatchObject({ candidate: 'any', restart: false, reason: expect.stringContaining('member pg2 is not running') });
  });

  it('clears the request when the candidate answered but has no member key', () => {
    const d = decide(leaderWith({ leader: 'pg1', member: 'pg4' }, { peers: peers(peer('pg4')) }));
    expect(d.reason).toContain('member pg4 is unknown');
  });
});

describe('decide: failover key without a leader', () => {
  const unlocked = (failover: { leader?: string; member?: string }) => cluster({ leader: null, members: [member('pg2'), member('pg3')], failover });

  it('the requested candidate takes the key even when a peer is more advanced', () => {
    const d = decide(raceInput({ cluster: unlocked({ leader: 'pg1', member: 'pg2' }), peers: peers(peer('pg3', { walPosition: 6_000 })) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'promote').reason).toBe('manual failover/switchover');
    expect(d.reason).toContain('requested candidate');
  });

  it('the requested candidate still aborts while a peer reports itself primary', () => {
    const d = decide(raceInput({ cluster: unlocked({ member: 'pg2' }), peers: peers(peer('pg3', { role: 'primary' })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 still reports itself primary');
  });

  it('the requested candidate still refuses while a member runs on a newer timeline', () => {
    const d = decide(raceInput({ cluster: unlocked({ member: 'pg2' }), peers: peers(peer('pg3', { timeline: 2 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('member pg3 is on timeline 2, newer than ours 1');
  });

  it('the requested candidate still refuses when tagged nofailover', () => {
    const d = decide(raceInput({ tags: { nofailover: true }, cluster: unlocked({ member: 'pg2' }) }));
    expect(kinds(d)).toEqual([]);
  });

  it('other members defer to a reachable requested candidate', () => {
    const d = decide(raceInput({ name: 'pg3', cluster: unlocked({ member: 'pg2' }), peers: peers(peer('pg2', { walPosition: 100 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: pg2 was requested as the new leader');
  });

  it('other members race normally when the requested candidate is unreachable', () => {
    const d = decide(raceInput({ name: 'pg3', cluster: unlocked({ member: 'pg2' }), peers: peers(peer.unreachable('pg2')) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
    expect(d.reason).toContain('best candidate');
  });

  it('other members race normally when the requested candidate may not take over (nofailover)', () => {
    const d = decide(raceInput({ name: 'pg3', cluster: unlocked({ member: 'pg2' }), peers: peers(peer('pg2', { nofailover: true, walPosition: 9_000 })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('other members race normally when the requested candidate lags too far to take over', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], failover: { member: 'pg2' }, status: { optime: 5_000 } });
    const d = decide(raceInput({
      name: 'pg3', cluster: c, config: dynamicConfig({ maximum_lag_on_failover: 100 }),
      peers: peers(peer('pg2', { walPosition: 4_000 })),
    }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('other members race normally when the requested candidate is on a timeline the cluster left behind', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], failover: { member: 'pg2' }, history: [{ timeline: 1, switchLsn: 4_000, reason: 'x', newLeader: 'pg1' }] });
    const d = decide(raceInput({ name: 'pg3', cluster: c, local: localPg.replica({ timeline: 2 }), peers: peers(peer('pg2', { timeline: 1 })), memory: formerLeaderLongGone('pg1', 1) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('a failover request without a candidate lets the best member take over', () => {
    const d = decide(raceInput({ cluster: unlocked({ leader: 'pg1' }), local: localPg.replica() }));
    expect(kinds(d)[0]).toBe('acquireLeader');
    expect(action(d, 'promote').reason).toBe('automatic failover');
  });
});
