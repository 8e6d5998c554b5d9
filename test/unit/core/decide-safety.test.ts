// S1: a writable primary runs only under this node's proven lease (fence, demote, etcd loss, pause).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { EMPTY_MEMORY, type DecideInput } from '../../../src/core/decide-types.js';
import {
  action,
  cluster,
  dynamicConfig,
  input,
  jobOf,
  kinds,
  localPg,
  member,
  peer,
  peers,
  raceInput,
  ref,
  running,
} from './builders.js';

const paused = dynamicConfig({ pause: true });

describe('decide: lease deadline (S1)', () => {
  it('fences the leader whose lease deadline has passed, then tries to renew', () => {
    const d = decide(input({ leaseLeftMs: -1 }));
    expect(kinds(d)).toEqual(['fence', 'renewLeader']);
    expect(action(d, 'fence').reason).toBe('lease deadline passed');
    expect(d.reason).toContain('can no longer prove its lease');
  });

  it('fences exactly at the deadline (valid means strictly before it)', () => {
    expect(kinds(decide(input({ leaseLeftMs: 0 })))).toEqual(['fence', 'renewLeader']);
  });

  it('fences a leader with a passed deadline even while a job runs', () => {
    const d = decide(input({ leaseLeftMs: -500, job: running({ kind: 'startPrimary' }) }));
    expect(kinds(d)).toEqual(['fence', 'renewLeader']);
  });

  it('demotes (fences) a primary when another member holds the leader key', () => {
    const d = decide(input({ cluster: cluster({ leader: 'pg2' }) }));
    expect(kinds(d)).toEqual(['fence']);
    expect(action(d, 'fence').reason).toContain('pg2 holds the leader key');
    expect(d.reason).toContain('demoting');
  });

  it('fences a primary without the leader key while a job runs', () => {
    const d = decide(input({ cluster: cluster({ leader: null }), job: running({ kind: 'startPrimary' }) }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain('without the leader key');
  });

  it('fences a primary without the leader key when a peer is more advanced', () => {
    const d = decide(input({ cluster: cluster({ leader: null }), peers: peers(peer('pg2', { walPosition: 6_000 })) }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain('may not take it');
    expect(d.reason).toContain('pg2 is a better candidate');
  });

  it('fences a primary without the leader key when it is tagged nofailover', () => {
    const d = decide(input({ tags: { nofailover: true }, cluster: cluster({ leader: null }) }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain('tagged nofailover');
  });

  it('fences a primary without the leader key whose timeline the cluster already left behind', () => {
    const c = cluster({ leader: null, history: [{ timeline: 1, switchLsn: 4_000, reason: 'automatic failover', newLeader: 'pg2' }] });
    const d = decide(input({ cluster: c }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain("timeline 1 is behind the cluster's");
  });

  it('lets a primary without the leader key take it when it is the best candidate (no promote needed)', () => {
    const d = decide(input({ cluster: cluster({ leader: null }), peers: peers(peer('pg2', { walPosition: 4_000 }), peer.unreachable('pg3')) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'createSlots', 'publishLeaderStatus']);
  });
});

describe('decide: etcd unreachable', () => {
  const noDcs = { cluster: null, dcsError: 'deadline exceeded' } as const;

  it('keeps the primary running until its lease deadline', () => {
    const d = decide(input({ ...noDcs, leaseLeftMs: 3_000 }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('etcd unreachable (deadline exceeded)');
    expect(d.reason).toContain('until its lease deadline in 3000 ms');
  });

  it('fences the primary once the deadline has passed', () => {
    const d = decide(input({ ...noDcs, leaseLeftMs: -10 }));
    expect(kinds(d)).toEqual(['fence']);
    expect(action(d, 'fence').reason).toContain('etcd is unreachable');
  });

  it('changes nothing on a replica', () => {
    const d = decide(input({ ...noDcs, name: 'pg2', local: localPg.replica(), leaseLeftMs: -5_000 }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('no change');
  });

  it('changes nothing when postgresql is down (no start without a cluster view)', () => {
    const d = decide(input({ ...noDcs, local: localPg.down({ state: 'in production' }) }));
    expect(kinds(d)).toEqual([]);
  });

  it('does not fence in pause even after the deadline', () => {
    const d = decide(input({ ...noDcs, config: paused, leaseLeftMs: -10_000 }));
    expect(kinds(d)).toEqual([]);
  });

  it('reports an unknown error when the loop gives none', () => {
    const d = decide(input({ cluster: null, dcsError: null, name: 'pg2', local: localPg.replica() }));
    expect(d.reason).toContain('unknown error');
  });
});

describe('decide: fenced nodes', () => {
  it('a fenced leader with a valid lease clears the fence and starts postgresql again', () => {
    const d = decide(input({ fenced: true, local: localPg.down({ state: 'in production' }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'clearFence', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'startPrimary' });
    expect(d.reason).toContain('after a fence, with the lease proven again');
  });

  it('a fenced former primary rejoins the new leader through the fork check', () => {
    const d = decide(input({ fenced: true, local: localPg.down({ state: 'in production' }), cluster: cluster({ leader: 'pg2' }) }));
    expect(kinds(d)).toEqual(['clearFence', 'startJob']);
    expect(jobOf(d)).toEqual({ kind: 'rejoin', leader: ref('pg2') });
    expect(d.reason).toContain('checking the fork point first (S4)');
  });

  it('a fenced node never counts itself eligible for the leader race', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const d = decide(input({ name: 'pg2', fenced: true, local: localPg.replica(), cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('not promoting: postgresql is fenced');
  });
});

describe('decide: pause (5.8)', () => {
  it('does not fence a paused leader whose deadline passed; it keeps renewing', () => {
    const d = decide(input({ config: paused, leaseLeftMs: -1 }));
    expect(kinds(d)).not.toContain('fence');
    expect(kinds(d)).toContain('renewLeader');
    expect(d.reason).toContain('paused');
  });

  it('does not demote a paused primary when another member holds the key', () => {
    const d = decide(input({ config: paused, cluster: cluster({ leader: 'pg2' }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('paused: postgresql runs as primary while pg2 holds the leader key');
  });

  it('a paused primary without the key takes it and does nothing else', () => {
    const d = decide(input({ config: paused, cluster: cluster({ leader: null }), peers: peers(peer('pg2', { walPosition: 9_000 })) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'publishLeaderStatus']);
    expect(d.reason).toContain('taking it for the running primary');
  });

  it('a paused replica does not race for a missing leader key', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const d = decide(input({ name: 'pg2', config: paused, local: localPg.replica(), cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('no automatic failover');
  });

  it('a paused leader does not restart its crashed postgresql', () => {
    const d = decide(input({ config: paused, local: localPg.down({ state: 'in production' }) }));
    expect(kinds(d)).toEqual(['renewLeader']);
    expect(d.reason).toContain('paused: postgresql is down');
  });

  it('a paused replica does not start its stopped postgresql', () => {
    const d = decide(input({ name: 'pg2', config: paused, local: localPg.down() }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('paused: postgresql is stopped');
  });
});

describe('decide: restarted agent (the key under the previous run\'s lease)', () => {
  const restarted = (over: Partial<DecideInput> = {}) =>
    input({ leaseId: 'lease-new', lease: { leaseId: 'lease-new', validUntilMs: -Infinity }, ...over });

  it('re-attaches the key before judging the lease, and does not fence', () => {
    const d = decide(restarted());
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus']);
    expect(d.reason).toMatch(/previous agent run/);
  });

  it('fences once it has been leader in this run and cannot prove the lease', () => {
    const d = decide(restarted({ memory: { ...EMPTY_MEMORY, lastLeader: 'pg1' } }));
    expect(kinds(d)).toContain('fence');
  });

  it('fences when the key is already under this run\'s lease but the deadline passed', () => {
    const d = decide(input({ leaseLeftMs: -1 }));
    expect(kinds(d)).toEqual(['fence', 'renewLeader']);
  });
});

// S1, seed 451 of simulator fault set 5: a writable primary whose key was gone stayed writable
// because the race held it back (a Patroni member claiming primary, taken for a former leader).
describe('a writable primary without the leader key', () => {
  it('is fenced when the race holds it back from taking the key', () => {
    const d = decide(raceInput({
      local: localPg.primary(),
      cluster: cluster({ leader: null, members: [member('pg2'), member('pg3', { role: 'primary' })] }),
      peers: peers(),
    }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toMatch(/^fencing: postgresql runs as primary without the leader key and cannot take it back now \(not promoting: former leader pg3 may still be writable/);
  });

  it('takes the key back when nothing holds it back, and is left alone in pause', () => {
    expect(kinds(decide(raceInput({ local: localPg.primary(), peers: peers() })))).toContain('acquireLeader');
    const paused = decide(raceInput({
      config: dynamicConfig({ pause: true }), local: localPg.primary(),
      cluster: cluster({ leader: null, members: [member('pg2'), member('pg3', { role: 'primary' })] }), peers: peers(),
    }));
    expect(kinds(paused)).not.toContain('fence');
  });
});
