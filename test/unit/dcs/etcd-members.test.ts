import type { Etcd3 } from 'etcd3';
import { EtcdPermissionDeniedError, GRPCDeadlineExceededError, GRPCUnavailableError, GRPCUnknownError } from 'etcd3';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EtcdBackend } from '../../../src/dcs/etcd-backend.js';
import { EtcdMembers, type MemberClient } from '../../../src/dcs/etcd-members.js';

const log = pino({ level: 'silent' });
type Range = () => Promise<unknown>;
type Status = () => Promise<{ version: string; leader: string; header: { member_id: string } }>;

function fakeMember(endpoint: string, over: { range?: Range; status?: Status } = {}): MemberClient & { calls: number } {
  const m = {
    endpoint,
    calls: 0,
    client: {
      kv: {
        range: async () => {
          m.calls += 1;
          return (over.range ?? (async () => ({ header: { revision: '7' }, kvs: [] })))();
        },
      },
      maintenance: { status: over.status ?? (async () => ({ version: '3.5.23', leader: '1', header: { member_id: '2' } })) },
      close: () => undefined,
    } as unknown as Etcd3,
  };
  return m;
}

function membersOf(clients: MemberClient[], first = 0): EtcdMembers {
  vi.spyOn(Math, 'random').mockReturnValueOnce(first / clients.length);
  return new EtcdMembers(clients, log);
}

afterEach(() => vi.restoreAllMocks());

describe('EtcdMembers: which member a call goes to', () => {
  it('starts on one member and tries it first, then the others in list order', () => {
    const [a, b, c] = [fakeMember('a:1'), fakeMember('b:1'), fakeMember('c:1')];
    const ms = membersOf([a, b, c], 1);
    expect(ms.inUse()).toBe('b:1');
    expect(ms.order().map((m) => m.endpoint)).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('moves off a member that failed, and keeps it last until it answers again', () => {
    const [a, b, c] = [fakeMember('a:1'), fakeMember('b:1'), fakeMember('c:1')];
    const ms = membersOf([a, b, c], 0);
    ms.failed(a, new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'));
    expect(ms.inUse()).toBe('b:1');
    expect(ms.order().map((m) => m.endpoint)).toEqual(['b:1', 'c:1', 'a:1']);
    expect(ms.health().find((h) => h.endpoint === 'a:1')).toMatchObject({ up: false, errorsTotal: 1, lastError: '4 DEADLINE_EXCEEDED' });
    ms.succeeded(a);
    expect(ms.health().find((h) => h.endpoint === 'a:1')?.up).toBe(true);
    // Back up, but calls stay on the member that works.
    expect(ms.inUse()).toBe('b:1');
  });

  it('counts errors of an etcd leader change without moving (every member answers so then)', () => {
    const [a, b] = [fakeMember('a:1'), fakeMember('b:1')];
    const ms = membersOf([a, b], 0);
    ms.failed(a, new GRPCUnknownError('2 UNKNOWN: etcdserver: not a primary lessor'));
    expect(ms.inUse()).toBe('a:1');
    expect(ms.health()[0]).toMatchObject({ up: true, errorsTotal: 1 });
  });

  it('with every member down still tries them all, the one that failed longest ago first', () => {
    const [a, b, c] = [fakeMember('a:1'), fakeMember('b:1'), fakeMember('c:1')];
    let now = 0;
    vi.spyOn(Math, 'random').mockReturnValueOnce(0);
    const ms = new EtcdMembers([a, b, c], log, () => now);
    ms.failed(a, new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'));
    now = 10;
    ms.failed(b, new GRPCUnavailableError('14 UNAVAILABLE'));
    now = 20;
    ms.failed(c, new GRPCUnavailableError('14 UNAVAILABLE'));
    expect(ms.order().map((m) => m.endpoint)).toEqual(['a:1', 'b:1', 'c:1']);
    // a is frozen: its probe fails again, so it goes last.
    now = 30;
    ms.failed(a, new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'));
    expect(ms.order().map((m) => m.endpoint)).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('reads each version by Status and warns about a version with a lease-safety bug', async () => {
    const a = fakeMember('a:1', { status: async () => ({ version: '3.4.23', leader: '5', header: { member_id: '5' } }) });
    const b = fakeMember('b:1');
    const ms = membersOf([a, b], 0);
    const health = await ms.refresh();
    expect(health[0]).toMatchObject({ version: '3.4.23', raftLeader: true });
    expect(health[0]?.warning).toMatch(/etcd member a:1 runs etcd 3\.4\.23, which has known lease-safety bugs: old-leader-revokes-leases \(fixed in 3\.4\.31\)/);
    expect(health[1]).toMatchObject({ version: '3.5.23', raftLeader: false, warning: null });
  });

  it('brings a down member back only when its Status names a raft leader', async () => {
    let leader = '0';
    const a = fakeMember('a:1', { status: async () => ({ version: '3.5.23', leader, header: { member_id: '2' } }) });
    const ms = membersOf([a, fakeMember('b:1')], 0);
    ms.failed(a, new GRPCUnavailableError('14 UNAVAILABLE'));
    await ms.refresh();
    expect(ms.health()[0]?.up).toBe(false);
    leader = '1';
    await ms.refresh();
    expect(ms.health()[0]?.up).toBe(true);
  });

  it('marks a member down whose Status misses the deadline', async () => {
    const a = fakeMember('a:1', { status: () => Promise.reject(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED')) });
    const ms = membersOf([a, fakeMember('b:1')], 0);
    await ms.refresh();
    expect(ms.health()[0]).toMatchObject({ up: false, errorsTotal: 1 });
    expect(ms.inUse()).toBe('b:1');
  });
});

describe('EtcdBackend over members: a frozen member holds one attempt, once', () => {
  const timeouts = { callTimeoutMs: 1000, attemptTimeoutMs: 100 };

  function backendOf(clients: MemberClient[], ms: EtcdMembers): EtcdBackend {
    const watchClient = { close: () => undefined } as unknown as Etcd3;
    return new EtcdBackend({ members: ms, clients, watchClient, timeouts, log });
  }

  it('moves a call to the next member after the attempt deadline, and later calls skip the frozen one', async () => {
    const frozen = fakeMember('a:1', { range: () => new Promise(() => undefined) });
    const b = fakeMember('b:1');
    const ms = membersOf([frozen, b], 0);
    const backend = backendOf([frozen, b], ms);
    const t0 = performance.now();
    await expect(backend.range('/x', { serializable: false })).resolves.toMatchObject({ revision: 7 });
    const first = performance.now() - t0;
    expect(first).toBeGreaterThanOrEqual(100);
    expect(first).toBeLessThan(900);
    const t1 = performance.now();
    await backend.range('/x', { serializable: false });
    expect(performance.now() - t1).toBeLessThan(50);
    expect(frozen.calls).toBe(1);
    expect(ms.inUse()).toBe('b:1');
    expect(ms.health()[0]).toMatchObject({ up: false, errorsTotal: 1 });
    await backend.close();
  });

  it('does not hold an answer from etcd against the member (only failures move calls)', async () => {
    const a = fakeMember('a:1', { range: () => Promise.reject(new EtcdPermissionDeniedError('etcdserver: permission denied')) });
    const b = fakeMember('b:1');
    const ms = membersOf([a, b], 0);
    const backend = backendOf([a, b], ms);
    await expect(backend.range('/x', { serializable: false })).rejects.toMatchObject({ code: 'auth', retryable: false });
    expect(b.calls).toBe(0);
    expect(ms.health()[0]).toMatchObject({ up: true, errorsTotal: 0 });
    await backend.close();
  });

  it('fails with a DcsError after every attempt failed', async () => {
    const down = (e: string): MemberClient & { calls: number } =>
      fakeMember(e, { range: () => Promise.reject(new GRPCUnavailableError('14 UNAVAILABLE: connect refused')) });
    const clients = [down('a:1'), down('b:1'), down('c:1')];
    const ms = membersOf(clients, 0);
    const backend = backendOf(clients, ms);
    await expect(backend.range('/x', { serializable: false })).rejects.toMatchObject({ name: 'DcsError', code: 'unavailable', retryable: true });
    expect(clients.map((c) => c.calls)).toEqual([1, 1, 1]);
    expect(ms.health().map((h) => h.errorsTotal)).toEqual([1, 1, 1]);
    await backend.close();
  });
});
