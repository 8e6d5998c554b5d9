// The published snapshot (src/obs/status.ts) and its Prometheus rendering (src/obs/metrics.ts).
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import {
  METRICS_CONTENT_TYPE, emptyCounters, escapeLabel, paddedSemver, recordFenceEvents, recordTick, renderMetrics,
} from '../../../src/obs/metrics.js';
import { isValidLeaderNow, leaseSecondsLeft, startingSnapshot } from '../../../src/obs/status.js';
import { renderStatusBody } from '../../../src/api/health.js';
import { parsePatroniStatus } from '../../../src/loop/peers.js';
import { DYNAMIC, LEADER_OPTIME, SCOPE, clusterView, primaryPg, replicaPg, scenario, snapshot, stoppedPg, testApi, testConfig } from './fixtures.js';

const PATRONI_METRICS = [
  'patroni_version', 'patroni_postgres_running', 'patroni_postmaster_start_time', 'patroni_primary', 'patroni_xlog_location',
  'patroni_standby_leader', 'patroni_replica', 'patroni_sync_standby', 'patroni_xlog_received_location',
  'patroni_xlog_replayed_location', 'patroni_xlog_replayed_timestamp', 'patroni_xlog_paused', 'patroni_postgres_server_version',
  'patroni_cluster_unlocked', 'patroni_failsafe_mode_is_active', 'patroni_postgres_timeline', 'patroni_dcs_last_seen',
  'patroni_pending_restart', 'patroni_is_paused',
];
const AGENT_METRICS = [
  'pg_ha_agent_lease_seconds_left', 'pg_ha_agent_leader_term', 'pg_ha_agent_fence_events_total', 'pg_ha_agent_ticks_total',
  'pg_ha_agent_tick_duration_seconds', 'pg_ha_agent_decisions_total',
];

/** name{labels} value -> value, for exact lookups. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, m[3] ?? '');
  }
  return out;
}

const L = '{scope="demo",name="a"}';

describe('GET /metrics', () => {
  it('serves Patroni names with scope and name labels, plus the agent metrics', async () => {
    const clock = new FakeClock();
    const dcs = createFakeDcs({ scope: SCOPE, name: 'a', ttlSec: 30, clock });
    let counters = recordTick(emptyCounters(), { durationMs: 3, actionKinds: ['renew_leader'] });
    counters = recordTick(counters, { durationMs: 700, actionKinds: ['renew_leader', 'update_member'] });
    counters = recordFenceEvents(counters);
    const api = testApi({ config: testConfig(), clock, dcs, status: snapshot(clock, { local: primaryPg(), holdsLeader: true,
      leaseValidUntilMs: clock.monoMs() + 12_500, counters }) });
    const res = await api.app.inject({ url: '/metrics' });
    await api.app.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(METRICS_CONTENT_TYPE);
    const s = samples(res.body);
    for (const name of [...PATRONI_METRICS, ...AGENT_METRICS]) {
      expect(res.body, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(s.get(`patroni_version${L}`)).toBe('000100');
    expect(s.get(`patroni_primary${L}`)).toBe('1');
    expect(s.get(`patroni_replica${L}`)).toBe('0');
    expect(s.get(`patroni_postgres_running${L}`)).toBe('1');
    expect(s.get(`patroni_xlog_location${L}`)).toBe(String(LEADER_OPTIME));
    expect(s.get(`patroni_postgres_server_version${L}`)).toBe('150004');
    expect(s.get(`patroni_postgres_timeline${L}`)).toBe('2');
    expect(s.get(`patroni_postmaster_start_time${L}`)).toBe(String(Date.UTC(2026, 0, 1) / 1000));
    expect(s.get(`patroni_dcs_last_seen${L}`)).toBe(String(clock.wallNowMs() / 1000));
    expect(s.get(`patroni_cluster_unlocked${L}`)).toBe('0');
    expect(s.get(`pg_ha_agent_lease_seconds_left${L}`)).toBe('12.5');
    expect(s.get(`pg_ha_agent_leader_term${L}`)).toBe('42');
    expect(s.get(`pg_ha_agent_fence_events_total${L}`)).toBe('1');
    expect(s.get(`pg_ha_agent_ticks_total${L}`)).toBe('2');
    expect(s.get('pg_ha_agent_decisions_total{scope="demo",name="a",kind="renew_leader"}')).toBe('2');
    expect(s.get('pg_ha_agent_decisions_total{scope="demo",name="a",kind="update_member"}')).toBe('1');
    expect(s.get('pg_ha_agent_tick_duration_seconds_bucket{scope="demo",name="a",le="0.005"}')).toBe('1');
    expect(s.get('pg_ha_agent_tick_duration_seconds_bucket{scope="demo",name="a",le="0.5"}')).toBe('1');
    expect(s.get('pg_ha_agent_tick_duration_seconds_bucket{scope="demo",name="a",le="1"}')).toBe('2');
    expect(s.get('pg_ha_agent_tick_duration_seconds_bucket{scope="demo",name="a",le="+Inf"}')).toBe('2');
    expect(s.get(`pg_ha_agent_tick_duration_seconds_count${L}`)).toBe('2');
    expect(Number(s.get(`pg_ha_agent_tick_duration_seconds_sum${L}`))).toBeCloseTo(0.703, 6);
  });

  it('reports a replica, and a lease that lapsed since the last tick as 0', () => {
    const clock = new FakeClock();
    const rep = renderMetrics(snapshot(clock, { local: replicaPg(true, 4096) }), clock.monoMs());
    const s = samples(rep);
    expect(s.get(`patroni_replica${L}`)).toBe('1');
    expect(s.get(`patroni_xlog_replayed_location${L}`)).toBe(String(LEADER_OPTIME - 4096));
    expect(s.get(`patroni_xlog_replayed_timestamp${L}`)).toBe(String(Date.UTC(2026, 0, 1, 0, 0, 30) / 1000));
    expect(s.get(`patroni_postgres_streaming${L}`)).toBe('1');
    const expired = scenario('lease expired', clock);
    const e = samples(renderMetrics(expired, clock.monoMs()));
    expect(e.get(`pg_ha_agent_lease_seconds_left${L}`)).toBe('0');
    expect(e.get(`pg_ha_agent_holds_leader${L}`)).toBe('0');
  });

  it('escapes label values and pads versions like Patroni', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(paddedSemver('3.0.2')).toBe('030002');
    expect(paddedSemver('0.1.0-beta.1')).toBe('000100');
  });
});

describe('status snapshot', () => {
  it('is frozen and derives Patroni fields from LocalPg and the cluster view', () => {
    const clock = new FakeClock();
    const snap = snapshot(clock, { local: replicaPg(true, 10, { pendingRestart: true }), tags: { nofailover: true, zone: 'b', x: undefined } });
    expect(Object.isFrozen(snap)).toBe(true);
    expect(Object.isFrozen(snap.node)).toBe(true);
    expect(snap.node).toMatchObject({
      state: 'running', role: 'replica', server_version: 150004, timeline: 2, replication_state: 'streaming',
      xlog: { received_location: LEADER_OPTIME - 10, replayed_location: LEADER_OPTIME - 10, paused: false },
      pending_restart: true, tags: { nofailover: true, zone: 'b' }, database_system_identifier: '7300000000000000001',
    });
    expect(snap.node.cluster_unlocked).toBeUndefined();
    // As Patroni's: false boolean tags are not shown (its suite compares the object whole).
    const quiet = snapshot(clock, { local: replicaPg(true, 10), tags: { clonefrom: false, noloadbalance: false, nostream: false, new_tag: 'new_value' } });
    expect(quiet.node.tags).toEqual({ new_tag: 'new_value' });
    expect(snap.leaderOptime).toBe(LEADER_OPTIME);
    expect(snap.leaderTerm).toBe(42);
  });

  it('marks the cluster unlocked without a leader key or when etcd was not read this tick', () => {
    const clock = new FakeClock();
    expect(snapshot(clock, { local: primaryPg(), cluster: clusterView(null) }).node.cluster_unlocked).toBe(true);
    expect(snapshot(clock, { local: primaryPg(), dcsOk: false }).node.cluster_unlocked).toBe(true);
  });

  it('derives the role of a stopped PostgreSQL from pg_controldata', () => {
    const clock = new FakeClock();
    expect(snapshot(clock, { local: stoppedPg(true) }).node).toMatchObject({ state: 'stopped', role: 'replica' });
    expect(snapshot(clock, { local: stoppedPg(false) }).node).toMatchObject({ state: 'stopped', role: 'primary' });
    expect(snapshot(clock, { local: { kind: 'down', dataDir: 'empty', control: null, standbySignal: false } }).node.role)
      .toBe('uninitialized');
    expect(snapshot(clock, { local: stoppedPg(false), pgState: 'starting', pgRole: 'replica' }).node)
      .toMatchObject({ state: 'starting', role: 'replica' });
  });

  it('leader validity is a function of the clock at request time', () => {
    const clock = new FakeClock();
    const snap = snapshot(clock, { local: primaryPg(), holdsLeader: true, leaseValidUntilMs: clock.monoMs() + 1000 });
    expect(isValidLeaderNow(snap, clock.monoMs() + 999)).toBe(true);
    expect(isValidLeaderNow(snap, clock.monoMs() + 1000)).toBe(false);
    expect(leaseSecondsLeft(snap, clock.monoMs() + 250)).toBeCloseTo(0.75, 6);
    expect(isValidLeaderNow({ ...snap, holdsLeader: false }, clock.monoMs())).toBe(false);
  });

  it('the starting snapshot answers every leadership check with "no"', () => {
    const snap = startingSnapshot({ name: 'a', scope: SCOPE, agentVersion: '0.1.0', dynamic: DYNAMIC, tags: {}, nowMonoMs: 5 });
    expect(snap.node).toMatchObject({ state: 'starting', cluster_unlocked: true, dcs_last_seen: 0 });
    expect(isValidLeaderNow(snap, 5)).toBe(false);
    expect(snap.counters.ticksTotal).toBe(0);
    // Nor does it vouch for PostgreSQL: to a peer it may still run (sim seed 867 of set 6).
    expect(parsePatroniStatus('a', renderStatusBody(snap, 5))).toMatchObject({ reachable: true, running: false, mayRun: true });
  });
});
