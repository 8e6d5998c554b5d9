// The Dcs contract: one suite, run against the in-memory fake (test/unit/dcs/contract-fake.test.ts)
// and against real etcd (test/integration/dcs-contract.test.ts), so the fake stays honest.
import { afterAll, describe, expect, it } from 'vitest';
import { DcsError, type Dcs, type DcsChangeHint } from '../../src/dcs/port.js';
import { memberStatus } from '../support/member-status.js';

export { memberStatus };

export interface ContractCluster {
  readonly scope: string;
  /** A Dcs for member `name` of this cluster (a fresh client each call: a restarted agent). */
  node(name: string, opts?: { ttlSec?: number }): Dcs;
  /** Write a raw value (no codec) at a key relative to the cluster prefix. */
  putRaw(relative: string, value: string): Promise<void>;
}

export interface ContractEnv {
  /** A cluster under a scope no other test uses. */
  cluster(): ContractCluster;
  /** The monotonic clock the Dcs instances use. */
  monoMs(): number;
  /**
   * Wait until fn() holds: the fake moves its clock forward in steps, real etcd polls in real
   * time. `withinMs` is on that clock.
   */
  eventually(what: string, fn: () => Promise<boolean>, opts: { withinMs: number }): Promise<void>;
  /** Closes every Dcs made by node(). */
  close(): Promise<void>;
}

export const CONTRACT_TTL_SEC = 3;

async function nextHint(it: AsyncIterator<DcsChangeHint>): Promise<DcsChangeHint> {
  const r = await it.next();
  if (r.done === true) throw new Error('changes() ended');
  return r.value;
}

export function dcsContract(label: string, makeEnv: () => Promise<ContractEnv>): void {
  describe(`Dcs contract: ${label}`, () => {
    let env: ContractEnv | undefined;
    const getEnv = async (): Promise<ContractEnv> => (env ??= await makeEnv());
    afterAll(async () => { await env?.close(); });

    it('reads an empty cluster', async () => {
      const c = (await getEnv()).cluster();
      const view = await c.node('a').snapshot();
      expect(view).toMatchObject({ initialize: null, config: null, leader: null, members: [], failover: null, sync: null, history: null, status: null, invalid: [] });
      expect(view.revision).toBeGreaterThan(0);
    });

    it('registers a member under its lease and proves the lease locally', async () => {
      const e = await getEnv();
      const a = e.cluster().node('a');
      await a.touchMember(memberStatus('a', { xlogLocation: 100, tags: { nofailover: true } }));
      const lease = a.lease();
      expect(lease.leaseId).not.toBeNull();
      expect(lease.grantedTtlSec).toBe(CONTRACT_TTL_SEC);
      expect(lease.validUntilMs).toBeGreaterThan(e.monoMs());
      expect(lease.validUntilMs).toBeLessThanOrEqual(e.monoMs() + CONTRACT_TTL_SEC * 1000);
      const [m] = (await a.snapshot()).members;
      expect(m).toMatchObject({ name: 'a', xlogLocation: 100, tags: { nofailover: true }, agent: 'pg-ha-agent/test', leaseId: lease.leaseId });
      await expect(a.touchMember(memberStatus('b'))).rejects.toMatchObject({ code: 'invalid' });
    });

    it('elects one leader; the leader key shares the member lease', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      expect(await a.acquireLeader()).toBe(true);
      expect(await b.acquireLeader()).toBe(false);
      expect(await a.acquireLeader()).toBe(true); // already ours under our lease
      const view = await b.snapshot();
      expect(view.leader?.name).toBe('a');
      expect(view.leader?.leaseId).toBe(a.lease().leaseId);
      expect(view.members.find((m) => m.name === 'a')?.leaseId).toBe(a.lease().leaseId);
      expect(await a.renewLeader()).toBe(true);
      expect(await b.renewLeader()).toBe(false);
      expect(await b.releaseLeader()).toBe(false);
      expect((await a.snapshot()).leader?.name).toBe('a');
      expect(await a.releaseLeader()).toBe(true);
      expect((await a.snapshot()).leader).toBeNull();
      expect(await a.renewLeader()).toBe(false);
      expect(await b.acquireLeader()).toBe(true);
    });

    it('a restarted agent re-attaches the leader key to its new lease', async () => {
      const c = (await getEnv()).cluster();
      const first = c.node('a');
      expect(await first.acquireLeader()).toBe(true);
      const oldLease = first.lease().leaseId;
      const second = c.node('a');
      expect(await second.renewLeader()).toBe(true);
      expect(second.lease().leaseId).not.toBe(oldLease);
      expect((await second.snapshot()).leader).toMatchObject({ name: 'a', leaseId: second.lease().leaseId });
    });

    it('expired lease: leader and member keys vanish, another takes over, the old holder re-registers', async () => {
      const e = await getEnv();
      const c = e.cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      expect(await a.acquireLeader()).toBe(true);
      await e.eventually('leader key of a to expire', async () => (await b.snapshot()).leader === null, { withinMs: (CONTRACT_TTL_SEC + 3) * 1000 });
      expect((await b.snapshot()).members).toEqual([]);
      expect(await b.acquireLeader()).toBe(true);
      await b.touchMember(memberStatus('b'));
      expect(await a.renewLeader()).toBe(false);
      await a.touchMember(memberStatus('a'));
      const view = await b.snapshot();
      expect(view.leader?.name).toBe('b');
      expect(view.members.map((m) => m.name)).toEqual(['a', 'b']);
    });

    it('creates initialize once', async () => {
      const c = (await getEnv()).cluster();
      expect(await c.node('a').initialize('7001')).toBe(true);
      expect(await c.node('b').initialize('7002')).toBe(false);
      expect((await c.node('b').snapshot()).initialize).toBe('7001');
      await expect(c.node('a').initialize('x1')).rejects.toBeInstanceOf(DcsError);
      await c.node('a').deleteInitialize();
      expect((await c.node('a').snapshot()).initialize).toBeNull();
    });

    it('writes config, failover and sync with compare on mod_revision', async () => {
      const a = (await getEnv()).cluster().node('a');
      const cfg = { ...(await import('../../src/config/dynamic.js')).DEFAULT_DYNAMIC_CONFIG, ttl: 20, loop_wait: 2, retry_timeout: 4 };
      expect(await a.setConfig(cfg, 0)).toBe(true);
      expect(await a.setConfig(cfg, 0)).toBe(false);
      const v1 = await a.snapshot();
      expect(v1.config?.value).toEqual(cfg);
      expect(await a.setConfig({ ...cfg, pause: true }, v1.config?.modRevision ?? -1)).toBe(true);
      expect(await a.setConfig({ ...cfg, ttl: 99 }, v1.config?.modRevision ?? -1)).toBe(false);
      expect((await a.snapshot()).config?.value.pause).toBe(true);

      expect(await a.setFailover({ leader: 'a', member: 'b', scheduledAt: '2026-01-01T00:00:00+00:00' }, 0)).toBe(true);
      const fo = (await a.snapshot()).failover;
      expect(fo?.value).toEqual({ leader: 'a', member: 'b', scheduledAt: '2026-01-01T00:00:00+00:00' });
      expect(await a.deleteFailover((fo?.modRevision ?? 0) + 1000)).toBe(false);
      expect(await a.deleteFailover(fo?.modRevision ?? -1)).toBe(true);
      expect((await a.snapshot()).failover).toBeNull();

      expect(await a.setSync({ leader: 'a', syncStandby: ['b'] }, null)).toBe(true);
      const sync = (await a.snapshot()).sync;
      expect(sync?.value).toEqual({ leader: 'a', syncStandby: ['b'] });
      expect(await a.deleteSync(sync?.modRevision ?? -1)).toBe(true);
    });

    it('sync key as synchronous mode writes it: create-if-absent, compare on mod_revision, empty standby list', async () => {
      const a = (await getEnv()).cluster().node('a');
      expect(await a.setSync({ leader: 'a', syncStandby: [] }, 0)).toBe(true);
      expect(await a.setSync({ leader: 'b', syncStandby: [] }, 0)).toBe(false);
      const first = (await a.snapshot()).sync;
      expect(first?.value).toEqual({ leader: 'a', syncStandby: [] });
      const rev = first?.modRevision ?? -1;
      expect(await a.setSync({ leader: 'a', syncStandby: ['b', 'c'] }, rev)).toBe(true);
      // A writer that read the key before that put loses its compare.
      expect(await a.setSync({ leader: 'a', syncStandby: [] }, rev)).toBe(false);
      expect(await a.deleteSync(rev)).toBe(false);
      const second = (await a.snapshot()).sync;
      expect(second?.value).toEqual({ leader: 'a', syncStandby: ['b', 'c'] });
      expect(await a.deleteSync(second?.modRevision ?? -1)).toBe(true);
      expect((await a.snapshot()).sync).toBeNull();
    });

    it('appends history and writes status', async () => {
      const a = (await getEnv()).cluster().node('a');
      await a.appendHistory({ timeline: 1, switchLsn: 100, reason: 'no recovery target specified', timestamp: '2026-01-01T00:00:00+00:00', newLeader: 'a' });
      await a.appendHistory({ timeline: 2, switchLsn: 200, reason: 'no recovery target specified', timestamp: '2026-01-02T00:00:00+00:00', newLeader: 'b' });
      await a.appendHistory({ timeline: 2, switchLsn: 250, reason: 'again', newLeader: 'b' });
      const h = (await a.snapshot()).history?.value ?? [];
      expect(h.map((e) => [e.timeline, e.switchLsn])).toEqual([[1, 100], [2, 250]]);
      await a.setStatus({ optime: 4242, slots: { b: 4000 }, retainSlots: ['a', 'b'] });
      // Every status put names its writer (src/core/former-leader.ts: a revoke cannot erase it).
      expect((await a.snapshot()).status).toEqual({ optime: 4242, slots: { b: 4000 }, retainSlots: ['a', 'b'], leader: 'a' });
    });

    it('the leader\'s heartbeat names it in the status key, keeping the optime, before its first status put too', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await b.touchMember(memberStatus('b'));
      expect(await b.acquireLeader()).toBe(true);
      await b.setStatus({ optime: 700 });
      expect(await b.releaseLeader(undefined, { lastLsn: 800 })).toBe(true);
      await a.touchMember(memberStatus('a'));
      expect(await a.acquireLeader()).toBe(true);
      expect(await a.renewLeader()).toBe(true);
      // b's stopped mark is gone, its optime kept, and a named.
      expect((await b.snapshot()).status).toEqual({ optime: 800, leader: 'a' });
    });

    it('a way out in pause marks the status key paused with our name, only while the leader key is ours', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      await b.touchMember(memberStatus('b'));
      expect(await a.acquireLeader()).toBe(true);
      await a.setStatus({ optime: 300 });
      expect(await b.markStatusPaused()).toBe(false);
      expect((await b.snapshot()).status).toEqual({ optime: 300, leader: 'a' });
      expect(await a.markStatusPaused()).toBe(true);
      expect((await b.snapshot()).status).toEqual({ optime: 300, leader: 'a', pause: true });
    });

    it('a release with the last LSN puts it into the status key in the same transaction, only while the key is ours', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      await b.touchMember(memberStatus('b'));
      expect(await a.acquireLeader()).toBe(true);
      await a.setStatus({ optime: 100, slots: { b: 90 }, retainSlots: [] });
      const before = (await b.snapshot()).statusModRevision ?? 0;
      expect(await b.releaseLeader(undefined, { lastLsn: 999 })).toBe(false);
      expect((await b.snapshot()).status?.optime).toBe(100);
      expect(await a.releaseLeader(undefined, { lastLsn: 4096 })).toBe(true);
      const after = await b.snapshot();
      expect(after.leader).toBeNull();
      // The clean release's mark, which a lease revoked early cannot leave (src/core/former-leader.ts).
      expect(after.status).toEqual({ optime: 4096, stopped: 'a' });
      expect(after.status?.leader).toBeUndefined();
      expect(after.statusModRevision ?? 0).toBeGreaterThan(before);
    });

    it('takes a free leader key only while the status key is still where the decision saw it', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      await b.touchMember(memberStatus('b'));
      expect(await b.acquireLeader(undefined, { statusRev: 0 })).toBe(true); // no status key yet
      await b.setStatus({ optime: 1, slots: {}, retainSlots: [] });
      expect(await b.releaseLeader()).toBe(true);
      const seen = (await a.snapshot()).statusModRevision ?? -1;
      // A leader active since that view (here: b's status put): a frozen tick must not act on it.
      await b.setStatus({ optime: 2, slots: {}, retainSlots: [] });
      expect(await a.acquireLeader(undefined, { statusRev: seen })).toBe(false);
      expect((await a.snapshot()).leader).toBeNull();
      const now = (await a.snapshot()).statusModRevision ?? -1;
      expect(await a.acquireLeader(undefined, { statusRev: now })).toBe(true);
    });

    it('takes a free leader key only while no promotion appended to the history since the view the decision rests on', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      await b.touchMember(memberStatus('b'));
      expect(await a.acquireLeader(undefined, { historyRev: 0 })).toBe(true); // no history key yet
      expect(await a.releaseLeader()).toBe(true);
      const seen = (await b.snapshot()).history?.modRevision ?? 0;
      // a took the key and appended its promotion's entry (no status put while it promotes); its key went.
      expect(await a.acquireLeader()).toBe(true);
      await a.appendHistory({ timeline: 1, switchLsn: 100, reason: 'promoted', newLeader: 'a' });
      expect(await a.releaseLeader()).toBe(true);
      expect(await b.acquireLeader(undefined, { historyRev: seen })).toBe(false);
      expect((await b.snapshot()).leader).toBeNull();
      const now = (await b.snapshot()).history?.modRevision ?? -1;
      expect(await b.acquireLeader(undefined, { historyRev: now })).toBe(true);
    });

    it('takes a free leader key only while no member registered since the view the decision rests on', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      await a.touchMember(memberStatus('a'));
      const view = await a.snapshot();
      // b registers after a's read (a member a never probed, which may hold more WAL).
      await b.touchMember(memberStatus('b'));
      expect(await a.acquireLeader(undefined, { viewRevision: view.revision })).toBe(false);
      expect((await a.snapshot()).leader).toBeNull();
      // A put to an existing member key is no registration: only a created key counts.
      const fresh = await a.snapshot();
      await b.touchMember(memberStatus('b'));
      await a.touchMember(memberStatus('a'));
      expect(await a.acquireLeader(undefined, { viewRevision: fresh.revision })).toBe(true);
    });

    it('reports a malformed value as invalid and lets a CAS overwrite it', async () => {
      const c = (await getEnv()).cluster();
      const a = c.node('a');
      await c.putRaw('sync', '{not json');
      await c.putRaw('members/ghost', '{"role":"replica"}');
      const view = await a.snapshot();
      expect(view.sync).toBeNull();
      expect(view.members).toEqual([]);
      const bad = view.invalid.find((i) => i.key === 'sync');
      expect(bad?.reason).toMatch(/not JSON/);
      expect(view.invalid.map((i) => i.key)).toContain('members/ghost');
      expect(await a.setSync({ leader: 'a', syncStandby: [] }, 0)).toBe(false);
      expect(await a.setSync({ leader: 'a', syncStandby: [] }, bad?.modRevision ?? -1)).toBe(true);
      expect((await a.snapshot()).sync?.value.leader).toBe('a');
    });

    it('wakes watchers on changes and stops when aborted', async () => {
      const c = (await getEnv()).cluster();
      const [a, b] = [c.node('a'), c.node('b')];
      const ac = new AbortController();
      const it = a.changes(ac.signal)[Symbol.asyncIterator]();
      // Every watch starts with a "re-read everything" hint: what changed before it attached is
      // unknown to the caller.
      expect(await nextHint(it)).toMatchObject({ resync: true });
      const next = nextHint(it);
      expect(await b.acquireLeader()).toBe(true);
      const hint = await next;
      expect(hint.keys).toContain('leader');
      expect(hint.revision).toBeGreaterThan(0);
      const pending = it.next();
      ac.abort();
      expect((await pending).done).toBe(true);
    });

    it('removes the whole cluster', async () => {
      const c = (await getEnv()).cluster();
      const a = c.node('a');
      await a.touchMember(memberStatus('a'));
      await a.initialize('1');
      await a.removeCluster();
      const view = await a.snapshot();
      expect(view.members).toEqual([]);
      expect(view.initialize).toBeNull();
    });

    it('refuses calls after close with a closed error, and ends its change feed', async () => {
      const a = (await getEnv()).cluster().node('a');
      const feed = a.changes(new AbortController().signal)[Symbol.asyncIterator]();
      expect(await nextHint(feed)).toMatchObject({ resync: true });
      const pending = feed.next();
      await a.close();
      expect((await pending).done).toBe(true);
      await expect(a.snapshot()).rejects.toMatchObject({ code: 'closed', retryable: false });
      await expect(a.acquireLeader()).rejects.toMatchObject({ code: 'closed' });
    });
  });
}
