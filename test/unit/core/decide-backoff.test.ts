// A repair job that keeps failing backs off (exponential, capped); a success of that job or a new
// leader starts afresh; a backoff never holds back anything but the job itself.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { FOLLOW_GRACE_MS } from '../../../src/core/decide-follower.js';
import type { Decision, FinishedJob, JobBackoff, JobSpec } from '../../../src/core/decide-types.js';
import { JOB_BACKOFF_BASE_MS, JOB_BACKOFF_CAP_MS, backoffDelayMs } from '../../../src/core/job-backoff.js';
import { NOW_MS, cluster, finished, input, jobOf, kinds, localPg, member, memory, ref, replicaInput } from './builders.js';

const rejoinPg2: JobSpec = { kind: 'rejoin', leader: ref('pg2') };
/** pg2 leads on timeline 2; pg1 (self) is a replica on timeline 1 that cannot stream from it. */
const newLeaderPg2 = cluster({ leader: 'pg2', members: [member('pg1'), member('pg2', { role: 'primary', timeline: 2 }), member('pg3')] });
const stuck = localPg.replica({
  leader: 'pg2',
  walReceiver: { status: 'waiting', senderHost: null, senderPort: null, receivedTimeline: null, slotName: null },
});
const failedRejoin = (finishedMs: number): FinishedJob => ({ ...finished(rejoinPg2, false, 'could not connect to pg2'), retryable: true, finishedMs });

function backoff(over: Partial<JobBackoff> = {}): JobBackoff {
  return { job: 'rejoin', target: 'pg2', leader: 'pg2', failures: 1, delayMs: JOB_BACKOFF_BASE_MS, notBeforeMs: NOW_MS + 3_000, error: 'could not connect to pg2', ...over };
}

/** The stuck replica after its grace ran out, at `nowMs`. */
function stuckReplica(over: { nowMs?: number; jobBackoff?: JobBackoff | null; lastJob?: FinishedJob | null } = {}): Decision {
  const nowMs = over.nowMs ?? NOW_MS;
  return decide(replicaInput({
    cluster: newLeaderPg2, name: 'pg1', local: stuck, nowMs,
    memory: memory({ followLeader: 'pg2', followSinceMs: nowMs - FOLLOW_GRACE_MS - 1, jobBackoff: over.jobBackoff ?? null, lastJob: over.lastJob ?? null }),
  }));
}

describe('job backoff', () => {
  it('doubles from 5 s up to a cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(backoffDelayMs)).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 160_000, 160_000]);
    expect(backoffDelayMs(50)).toBe(JOB_BACKOFF_CAP_MS);
  });

  it('records a failed rejoin and holds back the next one, saying why and when', () => {
    const d = stuckReplica({ lastJob: failedRejoin(NOW_MS - 1_000) });
    expect(kinds(d)).toEqual([]);
    expect(d.memory.jobBackoff).toMatchObject({ job: 'rejoin', target: 'pg2', leader: 'pg2', failures: 1, delayMs: 5_000, notBeforeMs: NOW_MS + 4_000 });
    expect(d.reason).toBe('backing off: job rejoin (pg2) failed 1 time in a row (could not connect to pg2); next try in 4 s; held back: '
      + `rejoining pg2 through the fork check: not streaming for ${FOLLOW_GRACE_MS + 1} ms and its timeline 2 is newer than ours 1`);
    // The grace clock is not restarted while waiting: the retry comes when the wait ends.
    expect(d.memory.followSinceMs).toBe(NOW_MS - FOLLOW_GRACE_MS - 1);
  });

  it('tries again once the wait is over', () => {
    const d = stuckReplica({ nowMs: NOW_MS + 5_000, jobBackoff: backoff({ notBeforeMs: NOW_MS + 5_000 }) });
    expect(jobOf(d)).toEqual(rejoinPg2);
    expect(d.memory.jobBackoff?.failures).toBe(1);
  });

  it('grows the wait with each failure in a row', () => {
    let b: JobBackoff | null = null;
    const waits: number[] = [];
    let now = NOW_MS;
    for (let i = 0; i < 5; i++) {
      const d = stuckReplica({ nowMs: now, jobBackoff: b, lastJob: failedRejoin(now) });
      b = d.memory.jobBackoff;
      waits.push((b?.notBeforeMs ?? 0) - now);
      expect(kinds(d)).toEqual([]);
      now = b?.notBeforeMs ?? now;
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 80_000]);
    expect(b?.failures).toBe(5);
  });

  it('starts afresh after the same job succeeds', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: localPg.replica({ leader: 'pg2' }), memory: memory({ jobBackoff: backoff(), lastJob: finished(rejoinPg2, true) }) }));
    expect(d.memory.jobBackoff).toBeNull();
  });

  it('keeps counting when another job succeeds in between (the replica restarted, the rejoin still fails)', () => {
    const d = stuckReplica({ jobBackoff: backoff({ failures: 3 }), lastJob: finished({ kind: 'startReplica', leader: ref('pg2') }, true) });
    expect(d.memory.jobBackoff?.failures).toBe(3);
    expect(kinds(d)).toEqual([]);
  });

  it('starts afresh when another member leads', () => {
    const pg3Leads = cluster({ leader: 'pg3', members: [member('pg1'), member('pg2'), member('pg3', { role: 'primary', timeline: 2 })] });
    const d = decide(replicaInput({
      cluster: pg3Leads, name: 'pg1', local: localPg.down({ state: 'in production' }),
      memory: memory({ jobBackoff: backoff({ failures: 4, notBeforeMs: NOW_MS + 60_000 }) }),
    }));
    expect(d.memory.jobBackoff).toBeNull();
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg3') });
  });

  it('backs off in a cluster without a leader too (the leader race start of a replica)', () => {
    const unlocked = cluster({ leader: null });
    const lastJob = finished({ kind: 'startReplica', leader: null }, false, 'PostgreSQL did not start');
    const d = decide(input({ name: 'pg2', cluster: unlocked, local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ lastJob, lastLeader: 'pg1' }) }));
    expect(d.memory.jobBackoff).toMatchObject({ job: 'startReplica', target: null, leader: null, failures: 1 });
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toMatch(/^backing off: job startReplica failed 1 time in a row \(PostgreSQL did not start\); next try in 5 s; held back: no leader: starting postgresql/);
  });

  it('keeps the backoff while etcd cannot be read (no leader change is known)', () => {
    const d = decide(input({ cluster: null, dcsError: 'timeout', local: localPg.replica(), memory: memory({ jobBackoff: backoff() }) }));
    expect(d.memory.jobBackoff).toEqual(backoff());
  });

  it('holds back only the job: the leader still renews its lease while its start is held back', () => {
    // startPrimary is not backed off at all (primary_start_timeout bounds it); a startReplica of
    // the key holder is, but the renewal goes ahead.
    const b = backoff({ job: 'startReplica', target: null, leader: 'pg1' });
    const d = decide(input({ local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ jobBackoff: b, primaryDownSinceMs: NOW_MS - 1_000 }) }));
    expect(kinds(d)).toEqual(['renewLeader']);
    expect(d.reason).toMatch(/^backing off: job startReplica failed 1 time in a row/);
    expect(d.memory.primaryDownSinceMs).toBe(NOW_MS - 1_000);
  });

  it('does not back off the leader restarting its own postgresql', () => {
    const failed = { ...finished({ kind: 'startPrimary' }, false, 'the previous postmaster has not been reaped yet'), retryable: true };
    const d = decide(input({ local: localPg.down({ state: 'in production' }), memory: memory({ lastJob: failed }) }));
    expect(d.memory.jobBackoff).toBeNull();
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
  });

  it('does not hold back a different job', () => {
    const d = decide(replicaInput({ cluster: newLeaderPg2, name: 'pg1', local: localPg.down({ state: 'shut down in recovery' }), memory: memory({ jobBackoff: backoff() }) }));
    expect(jobOf(d)).toEqual({ kind: 'startReplica', leader: ref('pg2') });
  });

  it('gives up per policy: a rejoin that failed for good leaves postgresql stopped, no retry', () => {
    const d = decide(replicaInput({
      cluster: newLeaderPg2, name: 'pg1', local: localPg.down({ state: 'shut down in recovery' }),
      memory: memory({ lastJob: finished(rejoinPg2, false, 'rejoin failed: pg_rewind from pg2 failed (exit 1)') }),
    }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('staying stopped: rejoining pg2 failed (rejoin failed: pg_rewind from pg2 failed (exit 1)); needs reinit or operator action');
  });
});
