// Arming follows the postmaster and the proven lease, never the last observation (issue 10), and an
// early end of leadership is answered by a retake or a fence, never by a tick of deciding (issue 20).
import { describe, expect, it } from 'vitest';
import { fenceArming, onLeadershipLost, type ArmingInput } from '../../../src/core/fencing.js';

const base: ArmingInput = { paused: false, postmasterAlive: true, postmasterMayBeWritable: true, leadershipDeadlineMs: 5_000, handedOverDeadlineMs: null };

describe('fenceArming', () => {
  it('arms a writable postmaster at the deadline of the lease the key is proven under', () => {
    expect(fenceArming(base)).toMatchObject({ armed: true, deadlineMs: 5_000 });
  });

  it('arms a writable postmaster without a proven key at -Infinity: fence now', () => {
    const a = fenceArming({ ...base, leadershipDeadlineMs: null });
    expect(a).toMatchObject({ armed: true, deadlineMs: -Infinity });
    expect(a.reason).toBe('postgresql may accept writes but no leader key is proven ours');
  });

  it('a run that has not read etcd: waits for its first read, then fences unless the previous run saw pause (sim seed 945)', () => {
    const unproven = { ...base, leadershipDeadlineMs: null };
    expect(fenceArming({ ...unproven, etcd: 'pending' })).toMatchObject({ armed: false, reason: 'waiting for the first etcd read' });
    const failed = fenceArming({ ...unproven, etcd: 'unreadable' });
    expect(failed).toMatchObject({ armed: true, deadlineMs: -Infinity });
    expect(failed.reason).toContain('etcd has not been read since start');
    // The previous run's pause (its hand-over record) stands until etcd says otherwise.
    expect(fenceArming({ ...unproven, etcd: 'unreadable', paused: true }).armed).toBe(false);
    // A deadline handed over is kept, read or not.
    expect(fenceArming({ ...unproven, etcd: 'pending', handedOverDeadlineMs: 7_000 })).toMatchObject({ armed: true, deadlineMs: 7_000 });
    expect(fenceArming({ ...unproven, etcd: 'read' }).deadlineMs).toBe(-Infinity);
  });

  it('keeps a deadline handed over by the previous agent run until the key is re-attached', () => {
    expect(fenceArming({ ...base, leadershipDeadlineMs: null, handedOverDeadlineMs: 7_000 })).toMatchObject({ armed: true, deadlineMs: 7_000 });
    // Proven for ourselves: the new lease counts, whichever is later or earlier.
    expect(fenceArming({ ...base, leadershipDeadlineMs: 3_000, handedOverDeadlineMs: 7_000 })).toMatchObject({ armed: true, deadlineMs: 3_000 });
  });

  it('stays armed for a leader whose replica is being promoted (the guard outlives a dying agent)', () => {
    expect(fenceArming({ ...base, postmasterMayBeWritable: false })).toMatchObject({ armed: true, deadlineMs: 5_000 });
  });

  it('keeps a handed-over deadline armed for a PostgreSQL still in recovery: the previous run may have been promoting it (sim seed 514)', () => {
    const restarted = { ...base, postmasterMayBeWritable: false, leadershipDeadlineMs: null, handedOverDeadlineMs: 7_000 };
    expect(fenceArming(restarted)).toMatchObject({ armed: true, deadlineMs: 7_000 });
    expect(fenceArming({ ...restarted, postmasterAlive: false }).armed).toBe(false);
  });

  it('arms a leader while a job starts its PostgreSQL writable, before any postmaster exists (sim seed 66)', () => {
    const down = { ...base, postmasterAlive: false, postmasterMayBeWritable: false };
    expect(fenceArming({ ...down, startingWritable: true })).toMatchObject({ armed: true, deadlineMs: 5_000 });
    // Without a proven key the start job is not what decides: the postmaster does.
    expect(fenceArming({ ...down, startingWritable: true, leadershipDeadlineMs: null }).armed).toBe(false);
    expect(fenceArming({ ...down, startingWritable: true, paused: true }).armed).toBe(false);
  });

  it('disarms a replica that does not lead, a stopped postmaster and pause', () => {
    expect(fenceArming({ ...base, postmasterMayBeWritable: false, leadershipDeadlineMs: null }).armed).toBe(false);
    expect(fenceArming({ ...base, postmasterAlive: false, postmasterMayBeWritable: false }).armed).toBe(false);
    expect(fenceArming({ ...base, paused: true })).toMatchObject({ armed: false, reason: 'paused: the operator holds the fence (SPEC 5.8)' });
  });
});

describe('onLeadershipLost', () => {
  const lost = { cause: 'lease 7 is gone in etcd', paused: false, postmasterMayBeWritable: true } as const;

  it('takes the key back first, then fences if that did not succeed at once', () => {
    expect(onLeadershipLost({ ...lost, retake: 'not tried' })).toEqual({ kind: 'retake', reason: 'leadership lost (lease 7 is gone in etcd); taking the leader key back at once (create-if-absent)' });
    expect(onLeadershipLost({ ...lost, retake: 'failed' })).toEqual({ kind: 'fence', reason: 'leadership lost (lease 7 is gone in etcd) and the key could not be taken back at once: fencing' });
    expect(onLeadershipLost({ ...lost, retake: 'won' }).kind).toBe('none');
  });

  it('does nothing in pause or without a postmaster that may be writable', () => {
    expect(onLeadershipLost({ ...lost, paused: true, retake: 'not tried' }).kind).toBe('none');
    expect(onLeadershipLost({ ...lost, postmasterMayBeWritable: false, retake: 'failed' }).kind).toBe('none');
  });

  it('a read-only postgresql (a replica, or one started read-only to race) does not take the key back (seed 543)', () => {
    const r = onLeadershipLost({ ...lost, postmasterMayBeWritable: false, retake: 'not tried' });
    expect(r).toEqual({ kind: 'none', reason: 'leadership lost (lease 7 is gone in etcd); postgresql is not running writable and no job makes it so' });
  });

  it('answers as for a running postmaster while a job starts postgresql writable (it will accept writes in a moment)', () => {
    const starting = { ...lost, postmasterMayBeWritable: false, startingWritable: true };
    expect(onLeadershipLost({ ...starting, retake: 'not tried' }).kind).toBe('retake');
    expect(onLeadershipLost({ ...starting, retake: 'failed' })).toEqual({ kind: 'fence', reason: 'leadership lost (lease 7 is gone in etcd) and the key could not be taken back at once: fencing' });
    expect(onLeadershipLost({ ...starting, paused: true, retake: 'not tried' }).kind).toBe('none');
  });
});
