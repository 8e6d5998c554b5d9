import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalActions } from '../../../src/loop/local-actions.js';
import type { FinishedJob, JobSpec, RunningJob } from '../../../src/core/decide-types.js';
import type { JobRunner } from '../../../src/loop/jobs.js';
import type { NodeStatus, StatusSnapshot } from '../../../src/obs/status.js';

function status(node: Partial<NodeStatus>, holdsLeader = false): StatusSnapshot {
  return {
    holdsLeader,
    cluster: null,
    node: { state: 'running', role: 'primary', dcs_last_seen: 0, patroni: { version: '4', scope: 's', name: 'n' }, ...node },
  } as unknown as StatusSnapshot;
}

function fakeJobs(): JobRunner & { started: JobSpec[] } {
  const started: JobSpec[] = [];
  let running: RunningJob | null = null;
  return {
    started,
    running: () => running,
    start(spec) {
      started.push(spec);
      running = { spec, startedMs: 0 };
      const done: FinishedJob = { spec, ok: true, finishedMs: 0 };
      running = null;
      return Promise.resolve(done);
    },
    takeFinished: () => null,
    stop: async () => undefined,
    abort: async () => undefined,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /restart with a schedule (Patroni schedule_future_restart)', () => {
  it('schedules, refuses a second one, runs at its time and checks the filters then', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const jobs = fakeJobs();
    let snap = status({ pending_restart: true, postmaster_start_time: 't0' });
    const ran: unknown[] = [];
    const local = createLocalActions({ jobs, getStatus: () => snap, wallNowMs: () => Date.now(), onScheduledRestart: (o) => ran.push(o) });
    expect(await local.restart({ scheduledAtMs: 1_005_000, role: 'replica' })).toEqual({ kind: 'scheduled' });
    expect(await local.restart({ scheduledAtMs: 1_009_000 })).toEqual({ kind: 'already_scheduled' });
    expect(local.scheduledRestart()?.atMs).toBe(1_005_000);
    await vi.advanceTimersByTimeAsync(4_900);
    expect(jobs.started).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    // The role filter does not match a primary: Patroni cancels it when it comes due.
    expect(ran).toEqual([{ kind: 'not_needed', reason: 'role does not match (primary)' }]);
    expect(jobs.started).toEqual([]);
    expect(local.scheduledRestart()).toBeNull();

    expect(await local.restart({ scheduledAtMs: 1_010_000, restartPending: true })).toEqual({ kind: 'scheduled' });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(jobs.started).toEqual([{ kind: 'restart', role: 'primary', leader: null }]);
    expect(ran[1]).toEqual({ kind: 'restarted' });
    snap = status({});
  });

  it('DELETE /restart cancels a scheduled restart', async () => {
    vi.useFakeTimers({ now: 0 });
    const jobs = fakeJobs();
    const local = createLocalActions({ jobs, getStatus: () => status({}), wallNowMs: () => Date.now() });
    expect(local.cancelScheduledRestart()).toBe(false);
    await local.restart({ scheduledAtMs: 5_000 });
    expect(local.cancelScheduledRestart()).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(jobs.started).toEqual([]);
  });

  it('skips a scheduled restart when PostgreSQL restarted in between', async () => {
    vi.useFakeTimers({ now: 0 });
    const jobs = fakeJobs();
    let snap = status({ postmaster_start_time: 'first' });
    const ran: unknown[] = [];
    const local = createLocalActions({ jobs, getStatus: () => snap, wallNowMs: () => Date.now(), onScheduledRestart: (o) => ran.push(o) });
    await local.restart({ scheduledAtMs: 5_000 });
    snap = status({ postmaster_start_time: 'second' });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(jobs.started).toEqual([]);
    expect(ran).toEqual([{ kind: 'cancelled', reason: 'postgres restart has already happened at second' }]);
  });
});

describe('POST /restart of a stopped PostgreSQL (pause: Patroni starts it)', () => {
  it('starts a stopped replica as a replica', async () => {
    const jobs = fakeJobs();
    const local = createLocalActions({ jobs, getStatus: () => status({ state: 'stopped', role: 'replica' }) });
    expect(await local.restart({})).toEqual({ kind: 'restarted' });
    expect(jobs.started).toEqual([{ kind: 'restart', role: 'replica', leader: null }]);
  });

  it('starts a stopped node as primary only while it holds the leader key', async () => {
    const jobs = fakeJobs();
    const notLeader = createLocalActions({ jobs, getStatus: () => status({ state: 'stopped', role: 'primary' }, false) });
    await notLeader.restart({});
    const leader = createLocalActions({ jobs, getStatus: () => status({ state: 'stopped', role: 'primary' }, true) });
    await leader.restart({});
    expect(jobs.started.map((s) => (s.kind === 'restart' ? s.role : s.kind))).toEqual(['replica', 'primary']);
  });

  it('refuses while PostgreSQL is starting', async () => {
    const jobs = fakeJobs();
    const local = createLocalActions({ jobs, getStatus: () => status({ state: 'starting' }) });
    expect(await local.restart({})).toEqual({ kind: 'failed', reason: 'postgresql is starting' });
  });
});
