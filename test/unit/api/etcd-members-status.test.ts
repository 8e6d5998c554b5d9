// The etcd client's per-member view in /metrics, GET /patroni and agentctl list.
import { describe, expect, it } from 'vitest';
import { renderStatusBody } from '../../../src/api/health.js';
import { runList } from '../../../src/cli/cmd-list.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import type { EtcdMemberHealth } from '../../../src/dcs/etcd-members.js';
import { versionWarning } from '../../../src/dcs/etcd-versions.js';
import { renderMetrics } from '../../../src/obs/metrics.js';
import { withEtcdMembers } from '../../../src/obs/status.js';
import { FakeWorld, makeCtx } from '../cli/fakes.js';
import { primaryPg, snapshot } from './fixtures.js';

function member(endpoint: string, over: Partial<EtcdMemberHealth> = {}): EtcdMemberHealth {
  const version = over.version === undefined ? '3.5.23' : over.version;
  return {
    endpoint, up: true, inUse: false, version, raftLeader: false, errorsTotal: 0, lastError: null,
    warning: version === null ? null : versionWarning(endpoint, version), ...over,
  };
}

const MEMBERS = [
  member('10.0.0.1:2379', { inUse: true, errorsTotal: 2, version: '3.4.23' }),
  member('10.0.0.2:2379', { up: false, errorsTotal: 7, version: null }),
  member('10.0.0.3:2379', { raftLeader: true }),
];

describe('etcd members in /metrics', () => {
  it('counts errors per member with an endpoint label, and flags versions with lease-safety bugs', () => {
    const clock = new FakeClock();
    const snap = withEtcdMembers(snapshot(clock, { local: primaryPg() }), MEMBERS);
    const text = renderMetrics(snap, clock.monoMs());
    const L = (e: string): string => `{scope="demo",name="a",endpoint="${e}"}`;
    expect(text).toContain('# TYPE pg_ha_agent_etcd_member_errors_total counter');
    expect(text).toContain(`pg_ha_agent_etcd_member_errors_total${L('10.0.0.1:2379')} 2\n`);
    expect(text).toContain(`pg_ha_agent_etcd_member_errors_total${L('10.0.0.2:2379')} 7\n`);
    expect(text).toContain(`pg_ha_agent_etcd_member_up${L('10.0.0.2:2379')} 0\n`);
    expect(text).toContain(`pg_ha_agent_etcd_member_in_use${L('10.0.0.1:2379')} 1\n`);
    expect(text).toContain('pg_ha_agent_etcd_member_lease_safety_warning{scope="demo",name="a",endpoint="10.0.0.1:2379",version="3.4.23"} 1\n');
    expect(text).toContain('pg_ha_agent_etcd_member_lease_safety_warning{scope="demo",name="a",endpoint="10.0.0.3:2379",version="3.5.23"} 0\n');
    // No version read yet: no sample rather than a guess.
    expect(text).not.toContain('lease_safety_warning{scope="demo",name="a",endpoint="10.0.0.2:2379"');
  });

  it('renders no etcd series when the snapshot has no member view (fake Dcs)', () => {
    const clock = new FakeClock();
    expect(renderMetrics(snapshot(clock, { local: primaryPg() }), clock.monoMs())).not.toContain('etcd_member');
  });
});

describe('etcd members in GET /patroni', () => {
  it('lists each member and the lease-safety warnings under pg_ha_agent.etcd', () => {
    const clock = new FakeClock();
    const body = renderStatusBody(withEtcdMembers(snapshot(clock, { local: primaryPg() }), MEMBERS), clock.monoMs());
    const etcd = (body['pg_ha_agent'] as Record<string, unknown>)['etcd'] as Record<string, unknown>;
    expect(etcd['members']).toEqual([
      { endpoint: '10.0.0.1:2379', up: true, in_use: true, version: '3.4.23', raft_leader: false, errors_total: 2 },
      { endpoint: '10.0.0.2:2379', up: false, in_use: false, version: null, raft_leader: false, errors_total: 7 },
      { endpoint: '10.0.0.3:2379', up: true, in_use: false, version: '3.5.23', raft_leader: true, errors_total: 0 },
    ]);
    expect(etcd['warnings']).toEqual([versionWarning('10.0.0.1:2379', '3.4.23')]);
  });
});

describe('etcd members in agentctl list', () => {
  it('adds a footer line per member with a lease-safety bug, and the same in JSON', async () => {
    const w = new FakeWorld();
    const reader = { ...w.reader(), refreshEtcdMembers: async () => MEMBERS };
    const ctx = makeCtx(w, { dcs: reader });
    await runList(ctx, { extended: false });
    expect(ctx.io.stdout.endsWith(` Warning: ${versionWarning('10.0.0.1:2379', '3.4.23') ?? ''}\n`)).toBe(true);
    const json = makeCtx(w, { dcs: reader, format: 'json' });
    await runList(json, { extended: false });
    expect((JSON.parse(json.io.stdout) as Record<string, unknown>)['etcd_warnings']).toEqual([versionWarning('10.0.0.1:2379', '3.4.23')]);
  });

  it('stays quiet when the members cannot be asked', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w, { dcs: { ...w.reader(), refreshEtcdMembers: () => Promise.reject(new Error('down')) } });
    await runList(ctx, { extended: false });
    expect(ctx.io.stdout).not.toContain('Warning');
  });
});
