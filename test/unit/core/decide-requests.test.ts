// Operator requests through decide() (issue 11): POST /restart and POST /reinitialize are queued
// by the API and answered by the next tick, with the job or a refusal whose reason the API returns.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import type { OperatorRequest } from '../../../src/core/requests.js';
import { input, kinds, localPg, ref, replicaInput, running, cluster, member, dynamicConfig } from './builders.js';

const restart = (over: Partial<Extract<OperatorRequest, { kind: 'restart' }>> = {}): OperatorRequest => ({ id: 1, kind: 'restart', ...over });
const reinit = (force = false, id = 1): OperatorRequest => ({ id, kind: 'reinit', force });

describe('POST /restart through decide()', () => {
  it('a healthy leader keeps its own actions first and restarts as primary', () => {
    const d = decide(input({ requests: [restart()] }));
    expect(kinds(d).slice(-1)).toEqual(['startJob']);
    expect(kinds(d)[0]).toBe('renewLeader');
    expect(d.answers).toEqual([{ id: 1, kind: 'started', job: { kind: 'restart', role: 'primary', leader: null } }]);
  });

  it('a healthy replica restarts as a replica of the leader', () => {
    const d = decide(replicaInput({ requests: [restart()] }));
    expect(d.answers).toEqual([{ id: 1, kind: 'started', job: { kind: 'restart', role: 'replica', leader: ref('pg1') } }]);
  });

  it('a stopped node starts as primary only while it holds the key (pause: Patroni starts it)', () => {
    const paused = dynamicConfig({ pause: true });
    const asReplica = decide(replicaInput({ config: paused, local: localPg.down(), requests: [restart()] }));
    expect(asReplica.answers?.[0]).toMatchObject({ kind: 'started', job: { kind: 'restart', role: 'replica' } });
    const asLeader = decide(input({ config: paused, local: localPg.down({ state: 'shut down' }), requests: [restart()] }));
    expect(asLeader.answers?.[0]).toMatchObject({ kind: 'started', job: { kind: 'restart', role: 'primary', leader: null } });
  });

  it('answers not_needed when a filter does not match, with Patroni\'s reasons', () => {
    expect(decide(input({ requests: [restart({ role: 'replica' })] })).answers?.[0]).toEqual({ id: 1, kind: 'not_needed', reason: 'role does not match (primary)' });
    expect(decide(input({ requests: [restart({ postgresVersion: '15.4' })] })).answers?.[0])
      .toEqual({ id: 1, kind: 'not_needed', reason: 'server version 150007 is not below 15.4' });
    expect(decide(input({ requests: [restart({ restartPending: true })] })).answers?.[0]).toEqual({ id: 1, kind: 'not_needed', reason: 'no restart pending' });
    const pending = decide(input({ local: localPg.primary({ pendingRestart: true }), requests: [restart({ restartPending: true, postgresVersion: '16.0' })] }));
    expect(pending.answers?.[0]?.kind).toBe('started');
    expect(kinds(decide(input({ requests: [restart({ role: 'replica' })] })))).not.toContain('startJob');
  });

  it('refuses while postgresql is starting or a job runs', () => {
    expect(decide(input({ local: localPg.unresponsive(), requests: [restart()] })).answers?.[0]).toEqual({ id: 1, kind: 'refused', reason: 'postgresql is starting' });
    const job = running({ kind: 'rejoin', leader: ref('pg1') });
    expect(decide(replicaInput({ job, requests: [restart()] })).answers?.[0]).toEqual({ id: 1, kind: 'refused', reason: 'rejoin already in progress' });
  });

  it('refuses when the tick decides its own move on postgresql (here: a leader without a valid lease is fenced)', () => {
    const d = decide(input({ leaseLeftMs: -1, requests: [restart()] }));
    expect(d.answers?.[0]?.kind).toBe('refused');
    expect(d.answers?.[0]).toMatchObject({ reason: expect.stringMatching(/^the agent is acting on its own this tick: /) });
    expect(kinds(d).filter((k) => k === 'startJob')).toEqual([]);
  });

  it('a scheduled restart is cancelled when postgresql restarted since it was scheduled', () => {
    const d = decide(input({ requests: [restart({ postmasterStartTime: '2024-05-01T10:00:00.000Z' })] }));
    expect(d.answers?.[0]).toEqual({ id: 1, kind: 'cancelled', reason: 'postgres restart has already happened at 2024-05-01T11:00:00.000Z' });
    expect(decide(input({ requests: [restart({ postmasterStartTime: '2024-05-01T11:00:00.000Z' })] })).answers?.[0]?.kind).toBe('started');
  });
});

describe('POST /reinitialize through decide()', () => {
  it('a replica re-clones from the leader', () => {
    const d = decide(replicaInput({ requests: [reinit()] }));
    expect(d.answers).toEqual([{ id: 1, kind: 'started', job: { kind: 'reinit', source: ref('pg1') } }]);
    expect(kinds(d).slice(-1)).toEqual(['startJob']);
  });

  it('the leader refuses, as Patroni does', () => {
    expect(decide(input({ requests: [reinit(true)] })).answers?.[0]).toEqual({ id: 1, kind: 'refused', reason: 'I am the leader, can not reinitialize' });
  });

  it('refuses without a leader', () => {
    const view = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    expect(decide(replicaInput({ cluster: view, leaseLeftMs: -Infinity, requests: [reinit()] })).answers?.[0])
      .toEqual({ id: 1, kind: 'refused', reason: 'Cluster has no leader, can not reinitialize' });
  });

  it('a running job refuses it unless forced; forced, the job is aborted first', () => {
    const job = running({ kind: 'clone', source: ref('pg1') });
    expect(decide(replicaInput({ job, requests: [reinit(false)] })).answers?.[0]).toEqual({ id: 1, kind: 'refused', reason: 'clone already in progress' });
    const forced = decide(replicaInput({ job, requests: [reinit(true)] }));
    expect(forced.answers?.[0]?.kind).toBe('started');
    expect(kinds(forced).slice(-2)).toEqual(['abortJob', 'startJob']);
  });

  it('only one request starts a job per tick; the next is told why', () => {
    const d = decide(replicaInput({ requests: [reinit(false, 1), restart({ id: 2 })] }));
    expect(d.answers?.map((a) => a.kind)).toEqual(['started', 'refused']);
    expect(d.answers?.[1]).toMatchObject({ reason: 'a reinit job was just started for an earlier request' });
    expect(kinds(d).filter((k) => k === 'startJob')).toHaveLength(1);
  });

  it('no request, no answers: the decision is unchanged', () => {
    expect(decide(input()).answers).toBeUndefined();
  });
});
