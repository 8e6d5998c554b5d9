// S2 building blocks, tested directly: own eligibility, ranking against peers, switchover candidates.
import { describe, expect, it } from 'vitest';
import { bestAmongPeers, bestCandidate, candidateHealthy, selfEligibility } from '../../../src/core/eligibility.js';
import { walPosition } from '../../../src/core/local-pg.js';
import { cluster, control, dynamicConfig, input, localPg, member, peer, peers, raceInput } from './builders.js';

describe('walPosition', () => {
  it('is the current lsn on a primary', () => {
    expect(walPosition(localPg.primary({ currentLsn: 777 }))).toBe(777);
  });

  it('is the furthest of received and replayed on a replica', () => {
    expect(walPosition(localPg.replica({ receiveLsn: 10, replayLsn: 12 }))).toBe(12);
    expect(walPosition(localPg.replica({ receiveLsn: null, replayLsn: 12 }))).toBe(12);
  });

  it('is the checkpoint from controldata when stopped, or unknown without it', () => {
    expect(walPosition(localPg.down({ control: control({ checkpointLsn: 99 }) }))).toBe(99);
    expect(walPosition(localPg.empty())).toBeNull();
  });
});

describe('selfEligibility', () => {
  it('accepts a running healthy replica and names its position', () => {
    expect(selfEligibility(raceInput())).toEqual({ ok: true, detail: 'wal position 5000' });
  });

  it('rejects a stopped or unresponsive postgresql', () => {
    expect(selfEligibility(raceInput({ local: localPg.down() }))).toEqual({ ok: false, reason: 'postgresql is down' });
    expect(selfEligibility(raceInput({ local: localPg.unresponsive() }))).toEqual({ ok: false, reason: 'postgresql is unresponsive' });
  });

  it('a fresh replica at position 0 is eligible only within the lag limit', () => {
    const v = selfEligibility(raceInput({ local: localPg.replica({ receiveLsn: null, replayLsn: null }) }));
    expect(v.ok).toBe(true); // position 0 is known (a fresh replica), it is just far behind
    const lagging = selfEligibility(raceInput({ local: localPg.replica({ receiveLsn: null, replayLsn: null }), config: dynamicConfig({ maximum_lag_on_failover: 10 }) }));
    expect(lagging).toMatchObject({ ok: false });
  });

  it('never applies the lag rule to a running primary', () => {
    const c = cluster({ leader: null, status: { optime: 1e12 } });
    expect(selfEligibility(input({ cluster: c })).ok).toBe(true);
  });
});

describe('bestAmongPeers', () => {
  it('counts the reachable members it compared against', () => {
    const v = bestAmongPeers(raceInput({ peers: peers(peer('pg3', { walPosition: 10 })) }));
    expect(v).toEqual({ ok: true, detail: 'most advanced of 2 reachable members at wal 5000' });
  });

  it('only looks at members listed in etcd, not stray probes', () => {
    const v = bestAmongPeers(raceInput({ peers: peers(peer('pg3', { walPosition: 10 }), peer('ghost', { walPosition: 1e9 })) }));
    expect(v.ok).toBe(true);
  });

  it('does not compare against itself', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const v = bestAmongPeers(raceInput({ cluster: c, peers: peers(peer('pg2', { walPosition: 1e9 })) }));
    expect(v.ok).toBe(true);
  });

  it('treats a peer with an unknown wal position as not eligible', () => {
    expect(bestAmongPeers(raceInput({ peers: peers(peer('pg3', { walPosition: null })) })).ok).toBe(true);
  });

  it('compares wal positions when a peer timeline is unknown', () => {
    expect(bestAmongPeers(raceInput({ peers: peers(peer('pg3', { walPosition: 5_001, timeline: null })) })).ok).toBe(false);
  });
});

describe('candidateHealthy and bestCandidate', () => {
  it('accepts a running streaming replica', () => {
    expect(candidateHealthy(input({ peers: peers(peer('pg2')) }), 'pg2')).toEqual({ ok: true, detail: 'member pg2 is healthy at wal 5000' });
  });

  it('rejects a member that reports itself primary', () => {
    expect(candidateHealthy(input({ peers: peers(peer('pg2', { role: 'primary' })) }), 'pg2')).toEqual({ ok: false, reason: 'member pg2 is not a replica' });
  });

  it('picks the most advanced, then the higher priority, then the lower name', () => {
    expect(bestCandidate(input({ peers: peers(peer('pg3', { walPosition: 6 }), peer('pg2', { walPosition: 5 })) }))).toBe('pg3');
    expect(bestCandidate(input({ peers: peers(peer('pg3', { failoverPriority: 2 }), peer('pg2')) }))).toBe('pg3');
    expect(bestCandidate(input({ peers: peers(peer('pg3'), peer('pg2')) }))).toBe('pg2');
  });

  it('returns null when nobody qualifies', () => {
    expect(bestCandidate(input({ peers: peers(peer('pg2', { nofailover: true }), peer.unreachable('pg3')) }))).toBeNull();
  });
});
