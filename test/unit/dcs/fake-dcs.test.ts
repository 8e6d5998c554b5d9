// Behaviour specific to the in-memory fake: fake-clock leases, partitions, no real timers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { FakeEtcdStore } from '../../support/fakes/fake-store.js';
import type { DcsChangeHint, LeaseState } from '../../../src/dcs/port.js';
import { memberStatus } from '../../contract/dcs-contract.js';

function setup(ttlSec = 10) {
  const clock = new FakeClock();
  const store = new FakeEtcdStore(clock);
  const node = (name: string) => createFakeDcs({ scope: 'sim', name, ttlSec, clock, store });
  return { clock, store, node };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('fake Dcs', () => {
  it('resolves every call without real timers (deterministic simulator)', async () => {
    vi.useFakeTimers(); // any setTimeout inside the fake would now hang this test
    const { node } = setup();
    const a = node('a');
    const ac = new AbortController();
    const changes = a.changes(ac.signal)[Symbol.asyncIterator]();
    expect((await changes.next()).value).toMatchObject({ resync: true });
    await a.touchMember(memberStatus('a'));
    expect((await changes.next()).value).toMatchObject({ keys: ['members/a'] });
    expect(await a.acquireLeader()).toBe(true);
    expect(await a.renewLeader()).toBe(true);
    expect((await a.snapshot()).leader?.name).toBe('a');
    ac.abort();
    expect((await changes.next()).done).toBe(true);
  });

  it('expires a lease exactly at its TTL on the fake clock', async () => {
    const { clock, store, node } = setup(10);
    const a = node('a');
    await a.touchMember(memberStatus('a'));
    expect(await a.acquireLeader()).toBe(true);
    const id = a.lease().leaseId ?? '';
    expect(store.leaseRemainingMs(id)).toBe(10_000);
    clock.advance(9_999);
    expect(store.dump('/service/sim/').map((kv) => kv.key)).toEqual(['/service/sim/leader', '/service/sim/members/a']);
    clock.advance(1);
    expect(store.dump('/service/sim/')).toEqual([]);
    expect(store.leaseRemainingMs(id)).toBeNull();
  });

  it('keepalives push the expiry and the local deadline forward; margin is counted in', async () => {
    const { clock, store, node } = setup(10);
    const a = node('a');
    const states: LeaseState[] = [];
    a.onLeaseDeadline((s) => states.push(s));
    await a.touchMember(memberStatus('a'));
    const t0 = clock.monoMs();
    expect(a.lease().validUntilMs).toBe(t0 + 10_000 - 1_000);
    clock.advance(4_000);
    expect(await a.acquireLeader()).toBe(true);
    expect(a.lease().validUntilMs).toBe(t0 + 4_000 + 9_000);
    expect(store.leaseRemainingMs(a.lease().leaseId ?? '')).toBe(10_000);
    expect(states.map((s) => s.validUntilMs)).toEqual([t0 + 9_000, t0 + 13_000]);
  });

  it('a partitioned node fails with unavailable, its deadline never moves, and it recovers after healing', async () => {
    const { clock, store, node } = setup(10);
    const [a, b] = [node('a'), node('b')];
    await a.touchMember(memberStatus('a'));
    expect(await a.acquireLeader()).toBe(true);
    const deadline = a.lease().validUntilMs;
    const ac = new AbortController();
    const bChanges = b.changes(ac.signal)[Symbol.asyncIterator]();
    await bChanges.next(); // initial resync

    store.partition('a', true);
    const aChanges = a.changes(ac.signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 12; i++) {
      clock.advance(1_000);
      await expect(a.renewLeader()).rejects.toMatchObject({ name: 'DcsError', code: 'unavailable', retryable: true });
      expect(a.lease().validUntilMs).toBe(deadline);
    }
    expect(clock.monoMs()).toBeGreaterThan(deadline);
    // The store expired a's lease: b saw the leader key go and takes over.
    expect((await bChanges.next()).value?.keys).toEqual(expect.arrayContaining(['leader', 'members/a']));
    expect(await b.acquireLeader()).toBe(true);

    const pending = aChanges.next();
    store.partition('a', false);
    expect((await pending).value).toMatchObject({ resync: true });
    expect(await a.renewLeader()).toBe(false);
    expect(a.lease().validUntilMs).toBeGreaterThan(clock.monoMs());
    await a.touchMember(memberStatus('a'));
    expect((await a.snapshot()).members.map((m) => m.name)).toEqual(['a']);
    ac.abort();
  });

  it('an outage of all of etcd fails every call and expires no lease; on return every lease has its full TTL again', async () => {
    const { clock, store, node } = setup(10);
    const a = node('a');
    expect(await a.acquireLeader()).toBe(true);
    const lease = a.lease().leaseId as string;
    store.outage(true);
    clock.advance(25_000);
    await expect(a.snapshot()).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    store.outage(false);
    expect(store.leaseRemainingMs(lease)).toBe(10_000);
    expect(await a.renewLeader()).toBe(true);
  });

  it('setTtl applies at the next grant', async () => {
    const { clock, store, node } = setup(10);
    const a = node('a');
    await a.touchMember(memberStatus('a'));
    a.setTtl(20);
    expect(a.lease().grantedTtlSec).toBe(10);
    expect(() => a.setTtl(1)).toThrow(/ttl/);
    clock.advance(10_000);
    await a.touchMember(memberStatus('a'));
    expect(a.lease().grantedTtlSec).toBe(20);
    expect(store.leaseRemainingMs(a.lease().leaseId ?? '')).toBe(20_000);
  });

  it('skips identical member puts (each put wakes every watcher) but repairs an external delete within a TTL', async () => {
    const { clock, store, node } = setup(10);
    const a = node('a');
    await a.touchMember(memberStatus('a'));
    const rev = store.revision;
    clock.advance(2_000);
    await a.touchMember(memberStatus('a'));
    expect(store.revision).toBe(rev);
    await a.touchMember(memberStatus('a', { xlogLocation: 5 }));
    expect(store.revision).toBe(rev + 1);
    await store.backendFor('x').txn([], [{ op: 'delete', key: '/service/sim/members/a' }], []);
    clock.advance(9_000);
    await a.touchMember(memberStatus('a', { xlogLocation: 5 }));
    expect((await a.snapshot()).members).toHaveLength(0);
    clock.advance(1_000);
    await a.touchMember(memberStatus('a', { xlogLocation: 5 }));
    expect((await a.snapshot()).members).toHaveLength(1);
  });

  it('coalesces a burst of changes into one hint', async () => {
    const { node } = setup();
    const [a, b] = [node('a'), node('b')];
    const ac = new AbortController();
    const it = a.changes(ac.signal)[Symbol.asyncIterator]();
    await it.next();
    await b.touchMember(memberStatus('b'));
    await b.acquireLeader();
    await b.setStatus({ optime: 1 });
    const hint = (await it.next()).value as DcsChangeHint;
    expect([...(hint.keys ?? [])].sort()).toEqual(['leader', 'members/b', 'status']);
    ac.abort();
  });

  it('rejects a store made with another clock', () => {
    const store = new FakeEtcdStore(new FakeClock());
    expect(() => createFakeDcs({ scope: 's', name: 'a', ttlSec: 10, clock: new FakeClock(), store })).toThrow(/another FakeClock/);
  });
});

describe('leadership: the lease the leader key is proven under', () => {
  it('is proven by acquire, ends at once when etcd revokes the lease, and comes back by a retake', async () => {
    const { store, node } = setup(10);
    const a = node('a');
    const causes: string[] = [];
    a.onLeadershipLost((c) => causes.push(c));
    expect(a.leadership()).toBeNull();
    expect(await a.acquireLeader()).toBe(true);
    const first = a.leadership();
    expect(first?.leaseId).toBe(a.lease().leaseId);
    store.revoke(first?.leaseId ?? '');
    // The keepalive of the next renewal learns it: listeners run before the renewal returns.
    expect(await a.renewLeader()).toBe(false);
    expect(causes).toEqual([`lease ${first?.leaseId ?? ''} is gone in etcd`]);
    expect(a.leadership()).toBeNull();
    // A fresh lease alone proves nothing: the key does not hang on it.
    expect(a.lease().leaseId).not.toBeNull();
    expect(a.leadership()).toBeNull();
    expect(await a.acquireLeader()).toBe(true);
    expect(a.leadership()?.leaseId).toBe(a.lease().leaseId);
  });

  it('checkLeadership ends it when the key was deleted or taken; a voluntary release is no loss', async () => {
    const { node } = setup(10);
    const a = node('a');
    const b = node('b');
    const causes: string[] = [];
    a.onLeadershipLost((c) => causes.push(c));
    expect(await a.acquireLeader()).toBe(true);
    expect(await a.checkLeadership()).toBe(true);
    await b.removeCluster();
    expect(await b.acquireLeader()).toBe(true);
    expect(await a.checkLeadership()).toBe(false);
    expect(causes).toEqual([`leader key now holds b under lease ${b.lease().leaseId ?? ''}`]);
    expect(await b.releaseLeader()).toBe(true);
    expect(await a.acquireLeader()).toBe(true);
    expect(await a.releaseLeader()).toBe(true);
    expect(a.leadership()).toBeNull();
    expect(causes).toHaveLength(1);
  });
});

describe('re-attach of a key left under a previous run\'s lease (issue 21)', () => {
  it('re-attaches only from the lease the previous run handed over', async () => {
    const { clock, store } = setup();
    const first = createFakeDcs({ scope: 'sim', name: 'a', ttlSec: 10, clock, store });
    expect(await first.acquireLeader()).toBe(true);
    const handed = first.lease().leaseId;
    const second = createFakeDcs({ scope: 'sim', name: 'a', ttlSec: 10, clock, store, reattachableLease: handed });
    expect(await second.renewLeader()).toBe(true);
    expect((await second.snapshot()).leader).toMatchObject({ name: 'a', leaseId: second.lease().leaseId });
    expect(second.leadership()).not.toBeNull();
  });

  it('refuses a key naming us under a lease it cannot prove was its own: the key is left to expire', async () => {
    const { clock, store } = setup();
    const first = createFakeDcs({ scope: 'sim', name: 'a', ttlSec: 10, clock, store });
    expect(await first.acquireLeader()).toBe(true);
    const lease = first.lease().leaseId;
    for (const reattachableLease of [null, 'some-other-lease']) {
      const second = createFakeDcs({ scope: 'sim', name: 'a', ttlSec: 10, clock, store, reattachableLease });
      await expect(second.renewLeader()).rejects.toThrow(/cannot prove was its own/);
      expect((await second.snapshot()).leader).toMatchObject({ name: 'a', leaseId: lease });
      expect(second.leadership()).toBeNull();
    }
  });
});

describe('leadership counts only as far as replicas can see (S2 across hosts)', () => {
  it('a keepalive that no visible write follows does not move the leadership deadline', async () => {
    const { clock, node } = setup(10);
    const a = node('a');
    await a.touchMember(memberStatus('a'));
    expect(await a.acquireLeader()).toBe(true);
    const proven = a.leadership()?.validUntilMs ?? -Infinity;
    clock.advance(3000);
    // The member touch with nothing new keeps the lease alive without a write a replica sees.
    await a.touchMember(memberStatus('a'));
    expect(a.lease().validUntilMs).toBe(proven + 3000);
    expect(a.leadership()?.validUntilMs).toBe(proven);
  });

  it('a renewal puts the member key before its keepalive: a replica sees it, and the deadline follows it', async () => {
    const { clock, node } = setup(10);
    const a = node('a');
    const b = node('b');
    await a.touchMember(memberStatus('a'));
    expect(await a.acquireLeader()).toBe(true);
    const before = (await b.snapshot()).members.find((m) => m.name === 'a')?.modRevision ?? 0;
    clock.advance(4000);
    const sentMs = clock.monoMs();
    expect(await a.renewLeader()).toBe(true);
    const after = (await b.snapshot()).members.find((m) => m.name === 'a')?.modRevision ?? 0;
    expect(after).toBeGreaterThan(before);
    // Never later than the heartbeat's send + TTL - margin: what a replica that saw it allows.
    expect(a.leadership()?.validUntilMs).toBeLessThanOrEqual(sentMs + 10_000 - 1000);
    expect(a.leadership()?.validUntilMs).toBeGreaterThan(sentMs + 10_000 - 1000 - 1);
  });
});
