// POST /restart and POST /reinitialize on the agent's side: the request is queued, the next tick's
// decide() answers it (test/unit/core/decide-requests.test.ts), and the API gets the outcome.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalActions } from '../../../src/loop/local-actions.js';
import { RequestQueue } from '../../../src/loop/request-queue.js';
import { answerRequests } from '../../../src/core/requests.js';
import type { DecideInput, FinishedJob, JobSpec } from '../../../src/core/decide-types.js';
import type { StatusSnapshot } from '../../../src/obs/status.js';
import { input, localPg } from '../core/builders.js';

/** A loop that ticks when woken: decide() answers with the node as `state()` says; jobs succeed at once. */
function fakeLoop(state: () => DecideInput) {
  const started: JobSpec[] = [];
  const queue: RequestQueue = new RequestQueue(() => queueMicrotask(() => {
    const requests = queue.take();
    const base = state();
    const d = answerRequests({ ...base, requests }, { actions: [], reason: 'healthy', memory: base.memory });
    const jobs = new Map<JobSpec, Promise<FinishedJob>>();
    for (const a of d.actions) {
      if (a.kind !== 'startJob') continue;
      started.push(a.job);
      jobs.set(a.job, Promise.resolve({ spec: a.job, ok: true, finishedMs: 0 }));
    }
    queue.settle(d.answers ?? [], jobs);
  }));
  return { queue, started };
}

const status = (postmasterStartTime: string): StatusSnapshot => ({ node: { postmaster_start_time: postmasterStartTime } }) as unknown as StatusSnapshot;

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /restart with a schedule (Patroni schedule_future_restart)', () => {
  it('schedules, refuses a second one, runs at its time and checks the filters then', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    let node = input({ local: localPg.primary({ pendingRestart: true }) });
    const loop = fakeLoop(() => node);
    const ran: unknown[] = [];
    const local = createLocalActions({ requests: loop.queue, getStatus: () => status(localPg.primary().postmasterStartTime), wallNowMs: () => Date.now(), onScheduledRestart: (o) => ran.push(o) });
    expect(await local.restart({ scheduledAtMs: 1_005_000, role: 'replica' })).toEqual({ kind: 'scheduled' });
    expect(await local.restart({ scheduledAtMs: 1_009_000 })).toEqual({ kind: 'already_scheduled' });
    expect(local.scheduledRestart()?.atMs).toBe(1_005_000);
    await vi.advanceTimersByTimeAsync(4_900);
    expect(loop.started).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    // The role filter does not match a primary: Patroni cancels it when it comes due.
    expect(ran).toEqual([{ kind: 'not_needed', reason: 'role does not match (primary)' }]);
    expect(loop.started).toEqual([]);
    expect(local.scheduledRestart()).toBeNull();

    expect(await local.restart({ scheduledAtMs: 1_010_000, restartPending: true })).toEqual({ kind: 'scheduled' });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(loop.started).toEqual([{ kind: 'restart', role: 'primary', leader: null }]);
    expect(ran[1]).toEqual({ kind: 'restarted' });
    node = input();
  });

  it('DELETE /restart cancels a scheduled restart', async () => {
    vi.useFakeTimers({ now: 0 });
    const loop = fakeLoop(() => input());
    const local = createLocalActions({ requests: loop.queue, getStatus: () => status('t'), wallNowMs: () => Date.now() });
    expect(local.cancelScheduledRestart()).toBe(false);
    await local.restart({ scheduledAtMs: 5_000 });
    expect(local.cancelScheduledRestart()).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(loop.started).toEqual([]);
  });

  it('skips a scheduled restart when PostgreSQL restarted in between', async () => {
    vi.useFakeTimers({ now: 0 });
    const loop = fakeLoop(() => input({ local: localPg.primary({ postmasterStartTime: 'second' }) }));
    const ran: unknown[] = [];
    const local = createLocalActions({ requests: loop.queue, getStatus: () => status('first'), wallNowMs: () => Date.now(), onScheduledRestart: (o) => ran.push(o) });
    await local.restart({ scheduledAtMs: 5_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(loop.started).toEqual([]);
    expect(ran).toEqual([{ kind: 'cancelled', reason: 'postgres restart has already happened at second' }]);
  });
});

describe('POST /restart and POST /reinitialize now', () => {
  it('a restart waits for its job and reports it; a refusal is a failure with the reason', async () => {
    const loop = fakeLoop(() => input());
    const local = createLocalActions({ requests: loop.queue, getStatus: () => status('t') });
    expect(await local.restart({})).toEqual({ kind: 'restarted' });
    const starting = fakeLoop(() => input({ local: localPg.unresponsive() }));
    const refused = createLocalActions({ requests: starting.queue, getStatus: () => status('t') });
    expect(await refused.restart({})).toEqual({ kind: 'failed', reason: 'postgresql is starting' });
  });

  it('a restart nobody answers fails within its timeout and is withdrawn', async () => {
    vi.useFakeTimers({ now: 0 });
    const queue = new RequestQueue(() => undefined);
    const local = createLocalActions({ requests: queue, getStatus: () => status('t') });
    const outcome = local.restart({ timeoutSec: 2 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await outcome).toEqual({ kind: 'failed', reason: 'restart did not finish within 2 s' });
    expect(queue.take()).toEqual([]);
  });

  it('reinitialize: started, or refused with decide()\'s reason', async () => {
    const replica = fakeLoop(() => input({ name: 'pg2', local: localPg.replica(), leaseLeftMs: -Infinity }));
    expect(await createLocalActions({ requests: replica.queue, getStatus: () => status('t') }).reinitialize({ force: false, fromLeader: false })).toEqual({ kind: 'started' });
    const leader = fakeLoop(() => input());
    expect(await createLocalActions({ requests: leader.queue, getStatus: () => status('t') }).reinitialize({ force: true, fromLeader: false }))
      .toEqual({ kind: 'refused', reason: 'I am the leader, can not reinitialize' });
  });

  it('the way out answers what is still queued', async () => {
    const queue = new RequestQueue(() => undefined);
    const local = createLocalActions({ requests: queue, getStatus: () => status('t') });
    const pending = local.reinitialize({ force: false, fromLeader: false });
    queue.closeAll('the agent is stopping');
    expect(await pending).toEqual({ kind: 'refused', reason: 'the agent is stopping' });
  });
});

describe('RequestQueue', () => {
  it('reports a decided job that did not start (a guard lost before it), and answers what the tick left out', () => {
    const queue = new RequestQueue(() => undefined);
    const a = queue.ask({ kind: 'restart' });
    const b = queue.ask({ kind: 'reinit', force: false });
    expect(queue.take().map((r) => r.id)).toEqual([a.id, b.id]);
    queue.settle([{ id: a.id, kind: 'started', job: { kind: 'restart', role: 'primary', leader: null } }], new Map());
    return Promise.all([
      expect(a.answer).resolves.toEqual({ kind: 'refused', reason: 'the restart job could not be started this tick; try again' }),
      expect(b.answer).resolves.toEqual({ kind: 'refused', reason: 'the agent did not get to this request; try again' }),
    ]);
  });
});
