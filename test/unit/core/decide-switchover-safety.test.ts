// Issue 10: a switchover never drops a commit (the abort is decide()'s), and in pause a switchover
// completes or the old leader comes back; never a cluster without a primary (SPEC 5.6, 5.8).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import {
  WALL_NOW_MS, action, cluster, dynamicConfig, finished, input, jobOf, kinds, localPg, member, memory, peer, peers, raceInput, ref,
} from './builders.js';

const spec = { kind: 'switchover', candidate: ref('pg2'), failoverModRevision: 42 } as const;
const paused = dynamicConfig({ pause: true });
const unclean = 'postgresql did not stop cleanly: the fast shutdown did not finish within 8 s and was escalated to SIGQUIT/SIGKILL';

describe('decide: an aborted switchover (the job stopped short of releasing the key)', () => {
  const afterAbort = (over: Parameters<typeof input>[0] = {}) => input({
    local: localPg.down({ state: 'in production' }),
    cluster: cluster({ failover: { leader: 'pg1', member: 'pg2', modRevision: 42 } }),
    memory: memory({ lastJob: finished(spec, false, unclean) }),
    ...over,
  });

  it('keeps the key, clears the request and starts postgresql again as primary, saying why', () => {
    const d = decide(afterAbort());
    expect(kinds(d)).toEqual(['renewLeader', 'deleteFailover', 'startJob']);
    expect(action(d, 'deleteFailover').modRevision).toBe(42);
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
    expect(d.reason).toBe(`switchover to pg2 aborted: ${unclean}; keeping the leader key and starting postgresql again as primary on the same timeline`);
    expect(d.memory.switchoverAbort).toEqual({ candidate: 'pg2', reason: unclean, wallAtMs: WALL_NOW_MS, restart: true });
  });

  it('clears the request when the job failed while postgresql still runs (no retry loop)', () => {
    const d = decide(afterAbort({ local: localPg.primary(), memory: memory({ lastJob: finished(spec, false, 'CHECKPOINT timed out') }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'createSlots', 'deleteFailover']);
    expect(d.reason).toBe('switchover to pg2 aborted: CHECKPOINT timed out; clearing the request, postgresql still runs as primary');
    expect(d.memory.switchoverAbort?.restart).toBe(false);
  });

  it('does the same in pause: the operator asked for a handover, not for a cluster without a primary', () => {
    const d = decide(afterAbort({ config: paused }));
    expect(kinds(d)).toEqual(['renewLeader', 'deleteFailover', 'startJob']);
    expect(d.reason).toContain('switchover to pg2 aborted');
  });

  it('in pause, keeps starting it after a failed start instead of releasing the key', () => {
    const abort = { candidate: 'pg2', reason: unclean, wallAtMs: WALL_NOW_MS, restart: true };
    const d = decide(input({ config: paused, local: localPg.down({ state: 'in production' }), memory: memory({ switchoverAbort: abort, primaryDownSinceMs: 0 }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'startJob']);
  });

  it('once postgresql runs again, keeps the reason for the API but no longer restarts it in pause', () => {
    const abort = { candidate: 'pg2', reason: unclean, wallAtMs: WALL_NOW_MS, restart: true };
    const d = decide(input({ config: paused, memory: memory({ switchoverAbort: abort }) }));
    expect(d.memory.switchoverAbort).toEqual({ ...abort, restart: false });
    const later = decide(input({ config: paused, local: localPg.down({ state: 'in production' }), memory: d.memory }));
    expect(kinds(later)).toEqual(['renewLeader']);
    expect(later.reason).toBe('paused: postgresql is down, leaving it');
  });

  it('forgets the pending restart once another member holds the key', () => {
    const abort = { candidate: 'pg2', reason: unclean, wallAtMs: WALL_NOW_MS, restart: true };
    const d = decide(input({ local: localPg.down({ state: 'shut down' }), cluster: cluster({ leader: 'pg2' }), memory: memory({ switchoverAbort: abort }) }));
    expect(d.memory.switchoverAbort?.restart).toBe(false);
  });

  it('a completed switchover marks the handover, not an abort', () => {
    const d = decide(input({ name: 'pg1', local: localPg.down({ state: 'shut down' }), cluster: cluster({ leader: 'pg2' }), memory: memory({ lastJob: finished(spec, true) }) }));
    expect(d.memory.switchoverAbort).toBeNull();
    expect(d.memory.handedOver).toEqual({ to: 'pg2', unclaimed: false });
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
  });
});

describe('decide: switchover in pause', () => {
  const unlocked = (failover: { leader?: string; member?: string; scheduledAt?: string }) =>
    cluster({ leader: null, members: [member('pg1'), member('pg2')], failover });

  it('the requested candidate takes the key and promotes once the old leader reports it stopped', () => {
    const d = decide(raceInput({ config: paused, cluster: unlocked({ leader: 'pg1', member: 'pg2' }), peers: peers(peer('pg1', { role: 'primary', running: false })) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(d.reason).toContain('requested candidate');
  });

  it('the requested candidate waits while the old leader still reports a running primary', () => {
    const d = decide(raceInput({ config: paused, cluster: unlocked({ leader: 'pg1', member: 'pg2' }), peers: peers(peer('pg1', { role: 'primary' })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('paused: not taking the leader key as the requested candidate: the former leader pg1 still reports itself primary');
  });

  it('the requested candidate does not promote when the old leader does not answer (nothing fences it in pause)', () => {
    const d = decide(raceInput({ config: paused, cluster: unlocked({ leader: 'pg1', member: 'pg2' }), peers: peers(peer.unreachable('pg1')) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('the former leader pg1 does not answer, so it may still run as primary');
  });

  it('other members still take no action in pause', () => {
    const d = decide(raceInput({ name: 'pg3', config: paused, cluster: unlocked({ leader: 'pg1', member: 'pg2' }), peers: peers(peer('pg1', { running: false })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('paused: no leader key; no automatic failover');
  });

  it('a candidate holding the key while still in recovery promotes in pause when it was requested', () => {
    const c = cluster({ leader: 'pg2', failover: { member: 'pg2' } });
    const d = decide(input({ name: 'pg2', config: paused, local: localPg.replica(), cluster: c }));
    expect(kinds(d)).toContain('promote');
  });

  it('a key holder in recovery without a request still only holds the key in pause', () => {
    const d = decide(input({ name: 'pg2', config: paused, local: localPg.replica(), cluster: cluster({ leader: 'pg2' }) }));
    expect(kinds(d)).toEqual(['renewLeader']);
  });

  it('the old leader rejoins the candidate it handed over to, even in pause', () => {
    const d = decide(input({
      config: paused, local: localPg.down({ state: 'shut down' }), cluster: cluster({ leader: 'pg2' }), memory: memory({ handedOver: { to: 'pg2', unclaimed: false } }),
    }));
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
  });

  it('a stopped former primary that did not hand over stays stopped in pause', () => {
    const d = decide(input({ config: paused, local: localPg.down({ state: 'shut down' }), cluster: cluster({ leader: 'pg2' }) }));
    expect(kinds(d)).toEqual([]);
  });

  it('takes the key back when the candidate did not take it and is still a replica', () => {
    const d = decide(input({
      config: paused, local: localPg.down({ state: 'shut down' }), cluster: unlocked({ leader: 'pg1', member: 'pg2' }),
      memory: memory({ lastJob: { ...finished(spec, false, 'pg2 did not take the leader key within 10 s and is still a replica'), unclaimed: true } }),
    }));
    expect(kinds(d)).toEqual(['acquireLeader', 'deleteFailover', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
    expect(d.reason).toBe('paused: pg2 did not take the leader key after the switchover and is still a replica; taking the key back and starting postgresql again as primary on the same timeline');
    expect(d.memory.handedOver).toEqual({ to: 'pg2', unclaimed: false });
  });

  it('the handover is forgotten once postgresql runs again', () => {
    const d = decide(input({
      local: localPg.replica({ leader: 'pg2' }), cluster: cluster({ leader: 'pg2' }), memory: memory({ handedOver: { to: 'pg2', unclaimed: false } }),
    }));
    expect(d.memory.handedOver).toBeNull();
  });
});

describe('shutdownCheckpointEnd', () => {
  it('adds the record length, and a page header when the record crosses a page', async () => {
    const { shutdownCheckpointEnd } = await import('../../../src/core/lsn.js');
    expect(shutdownCheckpointEnd(0x3000028)).toBe(0x3000028 + 114);
    expect(shutdownCheckpointEnd(8192 - 16)).toBe(8192 - 16 + 114 + 24);
    expect(shutdownCheckpointEnd(8192 - 114)).toBe(8192);
  });
});
