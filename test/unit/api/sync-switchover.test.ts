import { describe, expect, it } from 'vitest';
import { failoverImpossible, type Request } from '../../../src/api/switchover.js';
import type { ClusterView, MemberView } from '../../../src/core/cluster.js';
import { DYNAMIC, clusterView, memberStatus } from './fixtures.js';

const view = (name: string): MemberView => ({ ...memberStatus(name), modRevision: 1, leaseId: '7' });

function syncCluster(leader: string | null, standbys: string[] | null): ClusterView {
  return clusterView(leader, {
    config: { value: { ...DYNAMIC, synchronous_mode: true }, modRevision: 5 },
    members: [view('a'), view('b'), view('c')],
    sync: standbys === null ? null : { value: { leader: 'a', syncStandby: standbys }, modRevision: 7 },
  });
}

const req = (action: Request['action'], leader: string | null, candidate: string | null): Request => ({ action, leader, candidate, scheduledAtMs: null });

describe('POST /switchover and /failover in quorum mode', () => {
  const quorumCluster = clusterView('a', {
    config: { value: { ...DYNAMIC, synchronous_mode: 'quorum' }, modRevision: 5 },
    members: [view('a'), view('b'), view('c')],
    sync: { value: { leader: 'a', syncStandby: ['b'], quorum: 0 }, modRevision: 7 },
  });

  it('refuses a candidate that is not a voter of the sync key (stricter than Patroni: only voters are promoted here)', () => {
    expect(failoverImpossible(quorumCluster, req('switchover', 'a', 'c'), false)).toBe('candidate name does not match with sync_standby');
    expect(failoverImpossible(quorumCluster, req('switchover', 'a', 'b'), false)).toBeNull();
  });
});

describe('POST /switchover and /failover in synchronous mode', () => {
  it("refuses a switchover to a member the sync key does not list, with Patroni's text", () => {
    expect(failoverImpossible(syncCluster('a', ['b']), req('switchover', 'a', 'c'), false)).toBe('candidate name does not match with sync_standby');
    expect(failoverImpossible(syncCluster('a', null), req('switchover', 'a', 'c'), false)).toBe('candidate name does not match with sync_standby');
    expect(failoverImpossible(syncCluster('a', ['b']), req('switchover', 'a', 'b'), false)).toBeNull();
  });

  it('refuses a failover to an asynchronous member too (the agents would never promote it)', () => {
    expect(failoverImpossible(syncCluster(null, ['b']), req('failover', null, 'c'), false)).toBe('candidate name does not match with sync_standby');
    expect(failoverImpossible(syncCluster(null, ['b']), req('failover', null, 'b'), false)).toBeNull();
    // The sync key's own leader may come back; without a key anyone may be chosen.
    expect(failoverImpossible(syncCluster(null, []), req('failover', null, 'a'), false)).toBeNull();
    expect(failoverImpossible(syncCluster(null, null), req('failover', null, 'c'), false)).toBeNull();
  });

  it('without a candidate, needs a synchronous standby', () => {
    expect(failoverImpossible(syncCluster('a', []), req('switchover', 'a', null), false)).toBe('switchover is not possible: can not find sync_standby');
  });
});
