import { describe, expect, it } from 'vitest';
import { clusterPrefix, parseRelativeKey, relativeKey } from '../../../src/dcs/keys.js';
import { defaultLeaseMarginMs, LeaseTracker } from '../../../src/dcs/lease-tracker.js';
import type { LeaseState } from '../../../src/dcs/port.js';
import { buildClusterView, type KvRecord } from '../../../src/dcs/view.js';

const member = (name: string, role = 'replica'): string =>
  JSON.stringify({ conn_url: `postgres://${name}:5432/postgres`, api_url: `http://${name}:8008/patroni`, state: 'running', role });

let rev = 10;
const kv = (key: string, value: string, lease = '0'): KvRecord => ({ key, value, createRevision: ++rev, modRevision: ++rev, lease });

describe('key layout', () => {
  it('builds Patroni\'s prefix from namespace and scope', () => {
    expect(clusterPrefix('/service/', 'batman')).toBe('/service/batman/');
    expect(clusterPrefix('service', 'batman')).toBe('/service/batman/');
    expect(clusterPrefix('/a//b/', 'c')).toBe('/a/b/c/');
    expect(() => clusterPrefix('/service/', 'a/b')).toThrow(/scope/);
  });

  it('parses and renders every key kind', () => {
    for (const rel of ['leader', 'members/pg1', 'config', 'initialize', 'failover', 'sync', 'history', 'status', 'optime/leader']) {
      expect(relativeKey(parseRelativeKey(rel))).toBe(rel);
    }
    expect(parseRelativeKey('members/a/b')).toEqual({ kind: 'other', relative: 'members/a/b' });
    expect(parseRelativeKey('failsafe')).toEqual({ kind: 'other', relative: 'failsafe' });
  });
});

describe('buildClusterView', () => {
  it('reads every key, sorts members and keeps lease and revisions', () => {
    const view = buildClusterView(99, [
      kv('members/pg2', member('pg2'), '77'),
      kv('members/pg1', member('pg1', 'master'), '55'),
      kv('leader', 'pg1', '55'),
      kv('initialize', '7000000000000000001'),
      kv('config', '{"ttl":20,"loop_wait":5,"retry_timeout":5}'),
      kv('sync', '{"leader":"pg1","sync_standby":"pg2"}'),
      kv('failsafe', '{"pg1":"http://pg1:8008/patroni"}'),
    ]);
    expect(view.revision).toBe(99);
    expect(view.members.map((m) => [m.name, m.role, m.leaseId])).toEqual([['pg1', 'primary', '55'], ['pg2', 'replica', '77']]);
    expect(view.leader).toMatchObject({ name: 'pg1', leaseId: '55' });
    expect(view.leader?.createRevision).toBeGreaterThan(0);
    expect(view.config?.value.ttl).toBe(20);
    expect(view.sync?.value.syncStandby).toEqual(['pg2']);
    expect(view.initialize).toBe('7000000000000000001');
    expect(view.invalid).toEqual([]);
  });

  it('lists malformed values with their mod_revision instead of throwing', () => {
    const bad = kv('sync', '{oops');
    const view = buildClusterView(5, [bad, kv('members/x', '42'), kv('leader', '')]);
    expect(view.sync).toBeNull();
    expect(view.members).toEqual([]);
    expect(view.leader).toBeNull();
    expect(view.invalid.map((i) => i.key).sort()).toEqual(['leader', 'members/x', 'sync']);
    expect(view.invalid.find((i) => i.key === 'sync')?.modRevision).toBe(bad.modRevision);
  });

  it('falls back to the legacy optime/leader key when status is absent', () => {
    expect(buildClusterView(1, [kv('optime/leader', '1234')]).status).toEqual({ optime: 1234 });
    expect(buildClusterView(1, [kv('optime/leader', '1'), kv('status', '{"optime":2}')]).status?.optime).toBe(2);
  });
});

describe('LeaseTracker', () => {
  it('counts from the send time of the acknowledged keepalive, minus the margin', () => {
    const t = new LeaseTracker();
    t.granted('7', 10, 1_000);
    expect(t.state()).toEqual({ leaseId: '7', grantedTtlSec: 10, validUntilMs: 1_000 + 10_000 - 1_000 });
    t.acknowledged('7', 10, 5_000);
    expect(t.state().validUntilMs).toBe(14_000);
  });

  it('never moves backwards, ignores other leases, and drops to -Infinity when lost', () => {
    const t = new LeaseTracker(() => 500);
    const seen: LeaseState[] = [];
    t.subscribe((s) => seen.push(s));
    t.granted('7', 10, 1_000);
    t.acknowledged('7', 10, 3_000);
    t.acknowledged('7', 10, 2_000); // a late reply to an older keepalive
    t.acknowledged('8', 10, 9_000); // not our lease
    expect(t.state().validUntilMs).toBe(12_500);
    t.lost('8');
    expect(t.state().leaseId).toBe('7');
    t.lost('7');
    expect(t.state()).toEqual({ leaseId: null, grantedTtlSec: 0, validUntilMs: -Infinity });
    expect(seen.map((s) => s.validUntilMs)).toEqual([10_500, 12_500, -Infinity]);
  });

  it('default margin is max(1 s, 10 % of ttl)', () => {
    expect(defaultLeaseMarginMs(5)).toBe(1000);
    expect(defaultLeaseMarginMs(30)).toBe(3000);
  });
});
