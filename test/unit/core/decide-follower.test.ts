// Another member holds the key: follow it (5.2, 5.3) and rejoin as a former primary (5.7, S4).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { FOLLOW_GRACE_MS } from '../../../src/core/decide-follower.js';
import {
  NOW_MS,
  action,
  cluster,
  dynamicConfig,
  finished,
  hostOf,
  input,
  jobOf,
  kinds,
  localPg,
  member,
  memory,
  ref,
  replicaInput,
} from './builders.js';

/** pg2 is the new leader on timeline 2; pg1 (self by default here) is a replica on timeline 1. */
const newLeaderPg2 = cluster({ leader: 'pg2', members: [member('pg1'), member('pg2', { role: 'primary', timeline: 2 }), member('pg3')] });

const notStreaming = (leader: string) => localPg.replica({
  leader,
  walReceiver: { status: 'waiting', senderHost: null, senderPort: null, receivedTimeline: null, slotName: null },
});

describe('decide: nostream follower (archive only)', () => {
  const archiveOnly = localPg.replica({ walReceiver: null, primaryConninfo: null, primarySlotName: null });

  it('has no upstream to repoint: no follow action, no rejoin while the timelines agree', () => {
    const d = decide(replicaInput({ tags: { nostream: true }, local: archiveOnly }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('replica of pg1 from the wal archive (nostream)');
    // The same replica without the tag is pointed at the leader.
    expect(kinds(decide(replicaInput({ local: archiveOnly })))).toEqual(['follow']);
  });

  it('the leader keeps no slot for a nostream member', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2', { tags: { nostream: true } }), member('pg3')] });
    expect(action(decide(input({ cluster: c })), 'createSlots').members).toEqual(['pg3']);
  });
});

describe('decide: follower', () => {
  it('does nothing while streaming from the leader', () => {
    const d = decide(replicaInput());
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('replica streaming from pg1');
    expect(d.memory.lastLeader).toBe('pg1');
  });

  it('follows a new leader by rewriting primary_conninfo (reload, no restart)', () => {
    const d = decide(replicaInput({ local: localPg.replica({ leader: 'pg3' }) }));
    expect(kinds(d)).toEqual(['follow']);
    expect(action(d, 'follow').leader).toEqual(ref('pg1'));
    expect(d.reason).toContain('following the new leader pg1');
    expect(d.memory).toMatchObject({ followLeader: 'pg1', followSinceMs: NOW_MS });
  });

  it('recognises the leader from the wal receiver when primary_conninfo is not readable', () => {
    const d = decide(replicaInput({ local: localPg.replica({ primaryConninfo: null }) }));
    expect(kinds(d)).toEqual([]);
  });

  it('re-points when the conninfo names the leader host but another port', () => {
    const local = localPg.replica({ primaryConninfo: `host=${hostOf('pg1')} port=5433`, walReceiver: null });
    expect(kinds(decide(replicaInput({ local })))).toEqual(['follow']);
  });

  it('does not mistake a host whose name only starts with the leader host', () => {
    const local = localPg.replica({ primaryConninfo: `host=${hostOf('pg1')}0 port=5432`, walReceiver: null });
    expect(kinds(decide(replicaInput({ local })))).toEqual(['follow']);
  });

  it('waits while the wal receiver is not streaming yet and remembers since when', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: notStreaming('pg2') }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('not streaming yet (wal receiver waiting)');
    expect(d.memory).toMatchObject({ followLeader: 'pg2', followSinceMs: NOW_MS });
  });

  it('rejoins through the fork check when not streaming past the grace and the leader timeline is newer', () => {
    const since = NOW_MS - FOLLOW_GRACE_MS - 1;
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: notStreaming('pg2'), memory: memory({ followLeader: 'pg2', followSinceMs: since }) }));
    expect(kinds(d)).toEqual(['startJob']);
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
    expect(d.reason).toContain('its timeline 2 is newer than ours 1');
    expect(d.memory.followSinceMs).toBeNull();
  });

  it('does not rejoin before the grace has passed', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: notStreaming('pg2'), memory: memory({ followLeader: 'pg2', followSinceMs: NOW_MS - 1_000 }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.memory.followSinceMs).toBe(NOW_MS - 1_000);
  });

  it('rejoins at once when the history key shows its wal is past where the cluster left its timeline', () => {
    const forked = cluster({ leader: 'pg2', members: newLeaderPg2.members, history: [{ timeline: 1, switchLsn: 4_000, reason: 'x', newLeader: 'pg2' }] });
    // Before pointing it at the new leader, and while its receiver waits: PostgreSQL will never follow.
    for (const local of [localPg.replica({ walReceiver: null }), notStreaming('pg2')]) {
      const d = decide(replicaInput({ cluster: forked, name: 'pg1', local }));
      expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
      expect(d.reason).toContain('own wal 5000 on timeline 1 is past 4000, where the cluster left it');
    }
    // At or before the switch point it can follow: it waits for its receiver as before.
    const prefix = cluster({ leader: 'pg2', members: newLeaderPg2.members, history: [{ timeline: 1, switchLsn: 5_000, reason: 'x', newLeader: 'pg2' }] });
    expect(kinds(decide(replicaInput({ cluster: prefix, name: 'pg1', local: notStreaming('pg2') })))).toEqual([]);
  });

  it('restarts the grace when the remembered follow was for another leader', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: notStreaming('pg2'), memory: memory({ followLeader: 'pg3', followSinceMs: NOW_MS - 60_000 }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.memory.followSinceMs).toBe(NOW_MS);
  });

  it('does not rejoin when the leader is on the same timeline (nothing to rewind)', () => {
    const d = decide(replicaInput({ local: notStreaming('pg1'), memory: memory({ followLeader: 'pg1', followSinceMs: NOW_MS - 60_000 }) }));
    expect(kinds(d)).toEqual([]);
  });

  it('does not rejoin in pause', () => {
    const d = decide(replicaInput({
      config: dynamicConfig({ pause: true }), cluster: newLeaderPg2, name: 'pg1', local: notStreaming('pg2'),
      memory: memory({ followLeader: 'pg2', followSinceMs: NOW_MS - 60_000 }),
    }));
    expect(kinds(d)).toEqual([]);
  });

  it('starts a stopped replica as a replica of the leader', () => {
    const d = decide(replicaInput({ local: localPg.down({ state: 'shut down in recovery' }) }));
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: ref('pg1') });
    expect(d.reason).toContain('starting postgresql as a replica of pg1');
  });

  it('starts a crashed replica (in archive recovery) as a replica too', () => {
    const d = decide(replicaInput({ local: localPg.down({ state: 'in archive recovery' }) }));
    expect(jobOf(d).kind).toBe('startReplica');
  });

  it('waits on an unresponsive postgresql', () => {
    const d = decide(replicaInput({ local: localPg.unresponsive({ control: null }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('unresponsive');
  });

  it('waits when the leader has no member key to connect to', () => {
    const d = decide(replicaInput({ cluster: cluster({ members: [member('pg2')] }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('waiting for leader pg1 to publish its member key');
  });

  it('waits when the leader member key has an unparseable conn_url', () => {
    const d = decide(replicaInput({ cluster: cluster({ members: [member('pg1', { connUrl: 'nonsense' }), member('pg2')] }) }));
    expect(kinds(d)).toEqual([]);
  });
});

describe('decide: rejoin of a former primary (5.7, S4)', () => {
  for (const state of ['in production', 'shut down', 'shutting down', 'in crash recovery'] as const) {
    it(`rejoins through the fork check when controldata says '${state}'`, () => {
      const d = decide(replicaInput({ local: localPg.down({ state }) }));
      expect(kinds(d)).toEqual(['startJob']);
      expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg1') });
      expect(d.reason).toContain('this node was a primary');
    });
  }

  it('remembers a failed rejoin and stays stopped', () => {
    const d = decide(replicaInput({
      local: localPg.down({ state: 'in production' }),
      memory: memory({ lastJob: finished({ kind: 'rejoin', leader: ref('pg1') }, false, 'pg_rewind: exit 1') }),
    }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('rejoining pg1 failed (pg_rewind: exit 1)');
    expect(d.memory.rejoinFailed).toEqual({ leader: 'pg1', error: 'pg_rewind: exit 1' });
    expect(d.memory.lastJob).toBeNull();
  });

  it('retries, after a backoff, when the rejoin failed for a transient reason (leader unreachable)', () => {
    const lastJob = { ...finished({ kind: 'rejoin', leader: ref('pg1') }, false, 'could not connect to the leader'), retryable: true };
    const d = decide(replicaInput({ local: localPg.down({ state: 'in production' }), memory: memory({ lastJob }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toMatch(/^backing off: job rejoin \(pg1\) failed 1 time in a row \(could not connect to the leader\); next try in 5 s; held back: rejoining pg1/);
    expect(d.memory.rejoinFailed).toBeNull();
    const later = decide(replicaInput({ local: localPg.down({ state: 'in production' }), memory: d.memory, nowMs: lastJob.finishedMs + 5_000 }));
    expect(jobOf(later)).toEqual({ kind: 'rejoin', leader: ref('pg1') });
  });

  it('gives up per policy after pg_rewind failed: stays stopped and names the setting', () => {
    const lastJob = { ...finished({ kind: 'rejoin', leader: ref('pg1') }, false, 'rejoin failed: pg_rewind from pg1 failed (exit 1)'), rewindFailed: true };
    const d = decide(replicaInput({ local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ lastJob }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('staying stopped: rejoining pg1 failed (rejoin failed: pg_rewind from pg1 failed (exit 1)) (remove_data_directory_on_rewind_failure is off); needs reinit or operator action');
    expect(d.memory.rejoinFailed).toEqual({ leader: 'pg1', error: 'rejoin failed: pg_rewind from pg1 failed (exit 1)', rewindFailed: true });
  });

  it('re-clones after pg_rewind failed when remove_data_directory_on_rewind_failure allows it (old data kept aside)', () => {
    const lastJob = { ...finished({ kind: 'rejoin', leader: ref('pg1') }, false, 'rejoin failed: pg_rewind from pg1 failed (exit 1)'), rewindFailed: true };
    const base = replicaInput({ local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ lastJob }) });
    const d = decide({ ...base, self: { ...base.self, recloneOnRewindFailure: true } });
    expect(jobOf(d)).toEqual({ kind: 'reinit', source: ref('pg1') });
    expect(d.reason).toBe('re-cloning from pg1: pg_rewind could not rejoin it (rejoin failed: pg_rewind from pg1 failed (exit 1)) and remove_data_directory_on_rewind_failure allows it; the diverged data directory is kept aside');
  });

  it('does not re-clone for a failure that is no rewind verdict (a start that failed after the rewind)', () => {
    const base = replicaInput({ local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ rejoinFailed: { leader: 'pg1', error: 'PostgreSQL did not start' } }) });
    const d = decide({ ...base, self: { ...base.self, recloneOnRewindFailure: true } });
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('staying stopped');
  });

  it('forgets the failed rejoin once the re-clone succeeded', () => {
    const d = decide(replicaInput({ memory: memory({ rejoinFailed: { leader: 'pg1', error: 'x', rewindFailed: true }, lastJob: finished({ kind: 'reinit', source: ref('pg1') }, true) }) }));
    expect(d.memory.rejoinFailed).toBeNull();
  });

  it('stays stopped on later ticks too', () => {
    const d = decide(replicaInput({ local: localPg.down({ state: 'in production' }), memory: memory({ rejoinFailed: { leader: 'pg1', error: 'x' } }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('staying stopped');
  });

  it('tries again when a different member leads now', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: localPg.down({ state: 'in production' }), memory: memory({ rejoinFailed: { leader: 'pg3', error: 'x' } }) }));
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
  });

  it('forgets an earlier failure after a successful rejoin', () => {
    const d = decide(replicaInput({ memory: memory({ rejoinFailed: { leader: 'pg1', error: 'x' }, lastJob: finished({ kind: 'rejoin', leader: ref('pg1') }, true) }) }));
    expect(d.memory.rejoinFailed).toBeNull();
  });
});
