// This node holds the leader key: renew, promote a leftover replica, restart a crashed primary (5.5).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import {
  NOW_MS,
  action,
  cluster,
  dynamicConfig,
  finished,
  input,
  jobOf,
  kinds,
  localPg,
  memory,
  peer,
  peers,
  ref,
  running,
} from './builders.js';

describe('decide: leader', () => {
  it('renews the lease, publishes its status and keeps a slot per member', () => {
    const d = decide(input());
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'createSlots']);
    expect(action(d, 'createSlots').members).toEqual(['pg2', 'pg3']);
    expect(d.reason).toBe('leader: renewing the lease');
    expect(d.memory.lastLeader).toBe('pg1');
  });

  it('renews first: the renewal is the guard for everything after it', () => {
    expect(decide(input()).actions[0]).toEqual({ kind: 'renewLeader' });
  });

  it('seeds the config key when it is missing', () => {
    const d = decide(input({ cluster: cluster({ config: null }) }));
    expect(kinds(d)).toContain('seedConfig');
    expect(d.reason).toContain('seeding the dynamic configuration');
  });

  it('promotes when it holds the key but postgresql is still in recovery', () => {
    const d = decide(input({ local: localPg.replica({ receiveLsn: 5_100, replayLsn: 5_050, timeline: 3 }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'promote')).toMatchObject({ oldTimeline: 3, switchLsn: 5_100 });
    expect(d.reason).toContain('still in recovery');
  });

  it('before a late promotion, hands the key to a reachable member that has more wal', () => {
    const d = decide(input({ local: localPg.replica(), peers: peers(peer('pg2', { walPosition: 5_500 })) }));
    expect(kinds(d)).toEqual(['releaseLeader']);
    expect(d.reason).toContain('releasing the leader key instead of promoting: member pg2 is a better candidate');
  });

  it('keeps the key and promotes when a peer only wins a tie on failover_priority', () => {
    const d = decide(input({ local: localPg.replica(), peers: peers(peer('pg2', { walPosition: 5_000, failoverPriority: 9 })) }));
    expect(kinds(d)).toContain('promote');
  });

  it('does not promote while another member still runs as primary; keeps the key', () => {
    const d = decide(input({ local: localPg.replica(), peers: peers(peer('pg2', { role: 'primary' })) }));
    expect(kinds(d)).toEqual(['renewLeader']);
    expect(d.reason).toContain('member pg2 still reports itself primary');
  });

  it('the requested switchover candidate promotes even when a peer has more wal', () => {
    const d = decide(input({ local: localPg.replica(), cluster: cluster({ failover: { member: 'pg1' } }), peers: peers(peer('pg2', { walPosition: 5_500 })) }));
    expect(kinds(d)).toContain('promote');
  });

  it('in pause only renews while its postgresql is in recovery', () => {
    const d = decide(input({ config: dynamicConfig({ pause: true }), local: localPg.replica() }));
    expect(kinds(d)).toEqual(['renewLeader']);
  });

  it('clears the remembered crash time once postgresql runs as primary again', () => {
    const d = decide(input({ memory: memory({ primaryDownSinceMs: NOW_MS - 5_000 }) }));
    expect(d.memory.primaryDownSinceMs).toBeNull();
  });
});

describe('decide: leader postgresql failure (5.5)', () => {
  it('starts a crashed primary in place and remembers when it went down', () => {
    const d = decide(input({ local: localPg.down({ state: 'in production' }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
    expect(d.reason).toContain('crash recovery in place, same timeline');
    expect(d.memory.primaryDownSinceMs).toBe(NOW_MS);
  });

  it('keeps the first down time while it retries a transient start failure within primary_start_timeout', () => {
    const since = NOW_MS - 200_000;
    const failed = { ...finished({ kind: 'startPrimary' }, false, 'the previous postmaster has not been reaped yet'), retryable: true };
    const d = decide(input({
      local: localPg.down({ state: 'in crash recovery' }),
      memory: memory({ primaryDownSinceMs: since, lastJob: failed }),
    }));
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
    expect(d.memory.primaryDownSinceMs).toBe(since);
  });

  it('gives the key up when postgresql refused to start as primary (Patroni post_recover)', () => {
    const failed = finished({ kind: 'startPrimary' }, false, 'PostgreSQL did not start (pg_ctl exit 1); server log:\nFATAL: unrecognized parameter');
    const d = decide(input({ local: localPg.down({ state: 'in crash recovery' }), memory: memory({ primaryDownSinceMs: NOW_MS - 5_000, lastJob: failed }) }));
    // The read-only start is registered before the release: a racing peer's probe sees it starting.
    expect(kinds(d)).toEqual(['startJob', 'releaseLeader']);
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
    expect(d.reason).toBe('releasing the leader key: postgresql failed to start as primary after a crash (PostgreSQL did not start (pg_ctl exit 1); server log:); starting it read-only so its wal position can compete, and a replica can take over');
    expect(d.memory.primaryDownSinceMs).toBeNull();
    expect(d.memory.lastJob).toBeNull();
  });

  it('a fenced primary that failed to start clears the fence first, then starts read-only and releases the key', () => {
    const failed = finished({ kind: 'startPrimary' }, false, 'postgresql is fenced');
    const d = decide(input({ fenced: true, local: localPg.down({ state: 'in production' }), memory: memory({ lastJob: failed }) }));
    expect(kinds(d)).toEqual(['clearFence', 'startJob', 'releaseLeader']);
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
  });

  it('keeps trying to start after a failed start in pause, and after an aborted switchover', () => {
    const failed = finished({ kind: 'startPrimary' }, false, 'pg_ctl: exit 1');
    const paused = decide(input({ config: dynamicConfig({ pause: true }), local: localPg.down({ state: 'in production' }), memory: memory({ lastJob: failed }) }));
    expect(kinds(paused)).not.toContain('releaseLeader');
    const abort = { candidate: 'pg2', reason: 'stop escalated to SIGKILL', wallAtMs: NOW_MS - 1_000, restart: true };
    const aborted = decide(input({ local: localPg.down({ state: 'in production' }), memory: memory({ lastJob: failed, switchoverAbort: abort }) }));
    expect(kinds(aborted)).not.toContain('releaseLeader');
    expect(jobOf(aborted)).toEqual({ kind: 'startPrimary' });
  });

  it('a failed start of a primary that runs again by now gives nothing up', () => {
    const running = decide(input({ memory: memory({ lastJob: finished({ kind: 'startPrimary' }, false, 'pg_ctl: exit 1') }) }));
    expect(kinds(running)).not.toContain('releaseLeader');
  });

  it('with primary_start_timeout 0 fails over at once when a replica can take over, else restarts in place', () => {
    const zero = dynamicConfig({ primary_start_timeout: 0 });
    const d = decide(input({ config: zero, local: localPg.down({ state: 'in production' }), peers: peers(peer('pg2'), peer('pg3', { nofailover: true })) }));
    expect(kinds(d)).toEqual(['releaseLeader']);
    expect(d.reason).toContain('primary_start_timeout is 0; pg2 can take over');
    const alone = decide(input({ config: zero, local: localPg.down({ state: 'in production' }), peers: peers(peer('pg2', { running: false }), peer.unreachable('pg3')) }));
    expect(jobOf(alone)).toEqual({ kind: 'startPrimary' });
  });

  it('after giving the key to a successor, its former primary waits a loop before starting read-only for the race', () => {
    const noLeader = cluster({ leader: null });
    const released = memory({ releasedForSuccessorMs: NOW_MS - 1_000 });
    const wait = decide(input({ cluster: noLeader, local: localPg.down({ state: 'in production' }), memory: released }));
    expect(kinds(wait)).toEqual([]);
    expect(wait.reason).toContain('waiting up to 2000 ms for it to lead before starting this former primary read-only');
    const later = decide(input({ cluster: noLeader, local: localPg.down({ state: 'in production' }), memory: released, nowMs: NOW_MS + 1_500 }));
    expect(jobOf(later)).toEqual({ kind: 'startReplica', leader: null });
    // Only a former primary waits: a replica's WAL did not diverge, it races at once.
    expect(jobOf(decide(input({ cluster: noLeader, local: localPg.down(), memory: released })))).toEqual({ kind: 'startReplica', leader: null });
  });

  it('records when it gave the key up for a successor', () => {
    const d = decide(input({ config: dynamicConfig({ primary_start_timeout: 0 }), local: localPg.down({ state: 'in production' }), peers: peers(peer('pg2')) }));
    expect(d.memory.releasedForSuccessorMs).toBe(NOW_MS);
  });

  it('releases the leader key when postgresql could not start within primary_start_timeout', () => {
    const d = decide(input({ local: localPg.down({ state: 'in production' }), memory: memory({ primaryDownSinceMs: NOW_MS - 301_000 }) }));
    expect(kinds(d)).toEqual(['releaseLeader']);
    expect(d.reason).toContain('primary_start_timeout (300 s)');
    expect(d.memory.primaryDownSinceMs).toBeNull();
  });

  it('honours a short primary_start_timeout', () => {
    const d = decide(input({
      config: dynamicConfig({ primary_start_timeout: 10 }),
      local: localPg.down({ state: 'in production' }),
      memory: memory({ primaryDownSinceMs: NOW_MS - 10_001 }),
    }));
    expect(kinds(d)).toEqual(['releaseLeader']);
  });

  it('starts a leader whose postgresql stopped while still a replica as a replica (it will promote next)', () => {
    const d = decide(input({ local: localPg.down({ state: 'shut down in recovery' }) }));
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: null });
  });

  it('waits on an unresponsive postgresql while renewing', () => {
    const d = decide(input({ local: localPg.unresponsive() }));
    expect(kinds(d)).toEqual(['renewLeader']);
    expect(d.reason).toContain('unresponsive (observation query timed out after 2000 ms)');
  });
});

describe('decide: while a job runs', () => {
  it('the leader still renews (and publishes while writable) during a job', () => {
    const d = decide(input({ job: running({ kind: 'switchover', candidate: ref('pg2'), failoverModRevision: 42 }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus']);
    expect(d.reason).toBe('job switchover running; renewing the leader lease');
  });

  it('the leader renews without publishing while its postgresql starts', () => {
    const d = decide(input({ local: localPg.down({ state: 'in production' }), job: running({ kind: 'startPrimary' }) }));
    expect(kinds(d)).toEqual(['renewLeader']);
  });

  it('a replica does nothing while its job runs', () => {
    const d = decide(input({ name: 'pg2', local: localPg.down(), job: running({ kind: 'rejoin', leader: ref('pg1') }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('job rejoin running');
  });
});
