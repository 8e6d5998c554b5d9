// Route matrix: every health endpoint x every scenario x {GET, HEAD, OPTIONS}, through inject().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePatroniStatus } from '../../../src/loop/peers.js';
import { pgStateWord } from '../../../src/core/requests.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import type { ScenarioName, TestApi } from './fixtures.js';
import {
  DYNAMIC, LEADER_OPTIME, MB, SCOPE, clusterView, primaryPg, replicaPg, scenario, snapshot, stoppedPg, testApi, testConfig,
} from './fixtures.js';

const PATHS = [
  '/', '/primary', '/read-write', '/leader', '/standby-leader', '/replica', '/read-only', '/sync', '/async',
  '/health', '/liveness', '/readiness',
] as const;
type HealthPath = (typeof PATHS)[number];
type Row = Readonly<Record<HealthPath, 200 | 503>>;

function row(codes: readonly (200 | 503)[]): Row {
  return Object.fromEntries(PATHS.map((p, i) => [p, codes[i]])) as unknown as Row;
}

//                                       /    prim  rw   lead  sl   repl  ro   sync async hlth live ready
const EXPECTED: Readonly<Record<ScenarioName, Row>> = {
  'leader':                  row([200, 200, 200, 200, 503, 503, 200, 503, 503, 200, 200, 200]),
  'replica streaming':       row([503, 503, 503, 503, 503, 200, 200, 503, 200, 200, 200, 200]),
  'replica not streaming':   row([503, 503, 503, 503, 503, 200, 200, 503, 200, 200, 200, 503]),
  'replica lagging':         row([503, 503, 503, 503, 503, 200, 200, 503, 200, 200, 200, 503]),
  'postgres stopped':        row([503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 200, 503]),
  'leader postgres stopped': row([503, 503, 503, 200, 503, 503, 503, 503, 503, 503, 200, 200]),
  'lease expired':           row([503, 503, 503, 503, 503, 503, 503, 503, 503, 200, 200, 503]),
  'paused':                  row([200, 200, 200, 200, 503, 503, 200, 503, 503, 200, 200, 503]),
};

/** What the GET body must show in each scenario (Patroni field names). */
const BODY: Readonly<Record<ScenarioName, Record<string, unknown>>> = {
  'leader': { state: 'running', role: 'primary', timeline: 2, xlog: { location: LEADER_OPTIME } },
  'replica streaming': { state: 'running', role: 'replica', replication_state: 'streaming' },
  'replica not streaming': { state: 'running', role: 'replica' },
  'replica lagging': { state: 'running', role: 'replica', replication_state: 'streaming' },
  'postgres stopped': { state: 'stopped', role: 'replica' },
  'leader postgres stopped': { state: 'stopped', role: 'primary' },
  'lease expired': { state: 'running', role: 'primary' },
  'paused': { state: 'running', role: 'primary', pause: true, cluster_unlocked: true },
};

const clock = new FakeClock();
const dcs = createFakeDcs({ scope: SCOPE, name: 'a', ttlSec: 30, clock });
let api: TestApi;

beforeAll(() => {
  api = testApi({ config: testConfig(), clock, dcs, status: scenario('leader', clock) });
});
afterAll(async () => {
  await api.app.close();
});

describe.each(Object.keys(EXPECTED) as ScenarioName[])('scenario: %s', (name) => {
  it.each(PATHS)('GET %s answers the documented code with the status body', async (path) => {
    api.status = scenario(name, clock);
    const res = await api.app.inject({ method: 'GET', url: path });
    expect(res.statusCode).toBe(EXPECTED[name][path]);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(body).toMatchObject(BODY[name]);
    expect(body.patroni).toEqual({ version: '0.1.0', scope: SCOPE, name: api.status.name });
    expect(typeof body.dcs_last_seen).toBe('number');
    expect(body.pg_ha_agent.last_decision.reason).toBe('no action: healthy');
  });

  it.each(PATHS)('HEAD and OPTIONS %s answer the same code without a body', async (path) => {
    api.status = scenario(name, clock);
    for (const method of ['HEAD', 'OPTIONS'] as const) {
      const res = await api.app.inject({ method, url: path });
      expect(res.statusCode, `${method} ${path}`).toBe(EXPECTED[name][path]);
      expect(res.body).toBe('');
    }
  });
});

describe('health details', () => {
  it('the body carries the agent extension: term, lease left, last decision', async () => {
    api.status = scenario('leader', clock);
    const body = (await api.app.inject({ url: '/primary' })).json();
    expect(body.pg_ha_agent).toMatchObject({ holds_leader: true, leader_term: 42, last_decision: { actions: [] } });
    expect(body.pg_ha_agent.lease_seconds_left).toBeCloseTo(20, 1);
    expect(body.database_system_identifier).toBe('7300000000000000001');
    expect(body.replication).toEqual([{ application_name: 'b', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async' }]);
  });

  it('says when a repair job keeps failing and when it is tried again (pending_job_backoff)', async () => {
    const local = new FakeClock();
    const jobBackoff = { job: 'rejoin' as const, target: 'a', leader: 'a', failures: 3, delayMs: 20_000, notBeforeMs: local.monoMs() + 12_000, error: 'pg_rewind failed' };
    const app = testApi({ config: testConfig('b'), clock: local, dcs, status: snapshot(local, { local: replicaPg(false), jobBackoff }) });
    const body = (await app.app.inject({ url: '/patroni' })).json();
    expect(body.pg_ha_agent.pending_job_backoff).toEqual({ job: 'rejoin', target: 'a', failures: 3, delay_seconds: 20, retry_in_seconds: 12, last_error: 'pg_rewind failed' });
    local.advance(12_000);
    expect((await app.app.inject({ url: '/patroni' })).json().pg_ha_agent.pending_job_backoff.retry_in_seconds).toBe(0);
    await app.app.close();
    api.status = scenario('leader', clock);
    expect((await api.app.inject({ url: '/patroni' })).json().pg_ha_agent).not.toHaveProperty('pending_job_backoff');
  });

  it('a lease that expires after the last tick turns /primary to 503 without a new snapshot', async () => {
    const local = new FakeClock();
    const app = testApi({ config: testConfig(), clock: local, dcs, status: snapshot(local, {
      local: primaryPg(), holdsLeader: true, leaseValidUntilMs: local.monoMs() + 5_000 }) });
    expect((await app.app.inject({ method: 'OPTIONS', url: '/' })).statusCode).toBe(200);
    local.advance(5_000);
    expect((await app.app.inject({ method: 'OPTIONS', url: '/' })).statusCode).toBe(503);
    expect((await app.app.inject({ url: '/leader' })).json().pg_ha_agent.lease_seconds_left).toBe(0);
    await app.app.close();
  });

  it('a postmaster that died since the last tick is reported stopped at once (Patroni asks PostgreSQL)', async () => {
    let alive = true;
    const app = testApi({ config: testConfig(), clock, dcs, status: scenario('replica streaming', clock), postmasterAlive: () => alive });
    expect((await app.app.inject({ url: '/replica' })).statusCode).toBe(200);
    alive = false;
    const res = await app.app.inject({ url: '/replica' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ state: 'stopped', role: 'replica' });
    expect(res.json().replication_state).toBeUndefined();
    expect((await app.app.inject({ url: '/health' })).statusCode).toBe(503);
    expect((await app.app.inject({ url: '/patroni' })).json().state).toBe('stopped');
    app.status = scenario('leader', clock);
    expect((await app.app.inject({ method: 'OPTIONS', url: '/primary' })).statusCode).toBe(503);
    await app.app.close();
  });

  it('a start under way shows as state starting with pg_ha_agent.starting_as (a racing peer reads it as "may be writable soon")', async () => {
    let starting: 'primary' | 'replica' | null = 'primary';
    const app = testApi({ config: testConfig(), clock, dcs, status: scenario('leader postgres stopped', clock), startingAs: () => starting });
    const body = (await app.app.inject({ url: '/patroni' })).json();
    expect(body).toMatchObject({ state: 'starting', pg_ha_agent: { starting_as: 'primary' } });
    expect(parsePatroniStatus('a', body)).toMatchObject({ running: false, startingAs: 'primary' });
    expect((await app.app.inject({ url: '/primary' })).statusCode).toBe(503);
    starting = null;
    const after = (await app.app.inject({ url: '/patroni' })).json();
    expect(after.state).toBe('stopped');
    expect(after.pg_ha_agent.starting_as).toBeUndefined();
    await app.app.close();
  });

  it('a primary whose postgresql does not answer shows state starting, which a racing peer reads as "may still commit", not as stopped', async () => {
    const down = stoppedPg(false);
    const control = down.control ? { ...down.control, state: 'in production' as const } : null;
    const hung = snapshot(clock, {
      local: { ...down, kind: 'unresponsive', pid: 4242, detail: 'query timeout', control },
      pgState: pgStateWord({ ...down, kind: 'unresponsive', pid: 4242, detail: 'query timeout', control }, null),
      holdsLeader: true, leaseValidUntilMs: clock.monoMs() + 20_000,
    });
    const app = testApi({ config: testConfig(), clock, dcs, status: hung });
    const body = (await app.app.inject({ url: '/patroni' })).json();
    expect(body).toMatchObject({ state: 'starting', role: 'primary' });
    expect(body.pg_ha_agent.pg_unresponsive).toBe(true);
    expect(parsePatroniStatus('a', body)).toMatchObject({ role: 'primary', running: false, mayRun: true });
    // "starting" alone is no such sign: a switchover's old leader, stopped, runs its job (CI found
    // switchovers waiting for that leader's deadline when the word alone counted).
    const { pg_unresponsive: _u, ...agent } = body.pg_ha_agent as Record<string, unknown>;
    expect(parsePatroniStatus('a', { ...body, pg_ha_agent: agent })).not.toHaveProperty('mayRun');
    app.status = scenario('leader postgres stopped', clock);
    expect(parsePatroniStatus('a', (await app.app.inject({ url: '/patroni' })).json())).not.toHaveProperty('mayRun');
    await app.app.close();
  });

  it('a stopped postgresql shows the wal its data directory holds (pg_ha_agent.stopped_wal), which a racing peer reads', async () => {
    const app = testApi({ config: testConfig(), clock, dcs, status: scenario('leader postgres stopped', clock) });
    const body = (await app.app.inject({ url: '/patroni' })).json();
    expect(body.state).toBe('stopped');
    expect(body.pg_ha_agent.stopped_wal).toEqual({ lsn: expect.any(Number), timeline: expect.any(Number) });
    expect(parsePatroniStatus('a', body)).toMatchObject({ running: false, stoppedWal: body.pg_ha_agent.stopped_wal });
    app.status = scenario('leader', clock);
    expect((await app.app.inject({ url: '/patroni' })).json().pg_ha_agent.stopped_wal).toBeUndefined();
    await app.app.close();
  });

  it('?lag= accepts bytes and size units and compares with the leader optime', async () => {
    api.status = scenario('replica lagging', clock); // 64 MB behind
    const code = async (q: string): Promise<number> => (await api.app.inject({ url: `/replica?${q}` })).statusCode;
    expect(await code('lag=16MB')).toBe(503);
    expect(await code('lag=128MB')).toBe(200);
    expect(await code(`lag=${64 * MB - 1}`)).toBe(503);
    expect(await code(`lag=${64 * MB}`)).toBe(200);
    expect(await code('lag=1GB')).toBe(200);
    expect(await code('lag=65536kB')).toBe(200);
    expect((await api.app.inject({ url: '/async?lag=1MB' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/read-only?lag=1MB' })).statusCode).toBe(503);
  });

  it('?replication_state= filters on the replica state', async () => {
    api.status = scenario('replica not streaming', clock);
    expect((await api.app.inject({ url: '/replica?replication_state=streaming' })).statusCode).toBe(503);
    api.status = scenario('replica streaming', clock);
    expect((await api.app.inject({ url: '/replica?replication_state=streaming' })).statusCode).toBe(200);
  });

  it('?tag_<key>=<value> filters replicas; leadership checks ignore tags', async () => {
    const tags = { zone: 'east', nosync: false, sync_priority: 3 };
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true), tags });
    const code = async (url: string): Promise<number> => (await api.app.inject({ url })).statusCode;
    expect(await code('/replica?tag_zone=east')).toBe(200);
    expect(await code('/replica?tag_zone=west')).toBe(503);
    expect(await code('/replica?tag_rack=1')).toBe(503);
    expect(await code('/replica?tag_nosync=false&tag_sync_priority=3')).toBe(200);
    expect(await code('/health?tag_zone=west')).toBe(503);
    api.status = snapshot(clock, { local: primaryPg(), holdsLeader: true, leaseValidUntilMs: clock.monoMs() + 9_000, tags });
    expect(await code('/primary?tag_zone=west')).toBe(200);
    expect(await code('/read-only?tag_zone=west')).toBe(503);
  });

  it('noloadbalance takes a replica out of /replica and /read-only but not /health', async () => {
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true), tags: { noloadbalance: true } });
    expect((await api.app.inject({ url: '/replica' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/read-only' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/health' })).statusCode).toBe(200);
  });

  it('/sync and /async follow the sync key in synchronous mode', async () => {
    const dynamic = { ...DYNAMIC, synchronous_mode: true };
    const cluster = clusterView('a', { sync: { value: { leader: 'a', syncStandby: ['b'] }, modRevision: 7 } });
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true), dynamic, cluster });
    const res = await api.app.inject({ url: '/sync' });
    expect(res.statusCode).toBe(200);
    expect(res.json().sync_standby).toBe(true);
    expect((await api.app.inject({ url: '/async' })).statusCode).toBe(503);
    api.status = snapshot(clock, { name: 'c', local: replicaPg(true), dynamic, cluster });
    expect((await api.app.inject({ url: '/sync' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/async' })).statusCode).toBe(200);
  });

  it('/quorum and /read-only-quorum: no quorum standby outside quorum mode; the leader is read-only-quorum', async () => {
    const dynamic = { ...DYNAMIC, synchronous_mode: true };
    const cluster = clusterView('a', { sync: { value: { leader: 'a', syncStandby: ['b'] }, modRevision: 7 } });
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true), dynamic, cluster });
    expect((await api.app.inject({ url: '/quorum' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/read-only-quorum' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/read-only-sync' })).statusCode).toBe(200);
    api.status = snapshot(clock, { name: 'a', local: primaryPg(), dynamic, cluster, holdsLeader: true, leaseValidUntilMs: clock.monoMs() + 9_000 });
    expect((await api.app.inject({ url: '/read-only-quorum' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/quorum' })).statusCode).toBe(503);
  });

  it('quorum mode: a voter of the leader\'s key is a quorum standby (/quorum, /read-only-quorum), never /sync or /async', async () => {
    const dynamic = { ...DYNAMIC, synchronous_mode: 'quorum' as const };
    const cluster = clusterView('a', { sync: { value: { leader: 'a', syncStandby: ['b', 'c'], quorum: 1 }, modRevision: 7 } });
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true), dynamic, cluster });
    const res = await api.app.inject({ url: '/quorum' });
    expect(res.statusCode).toBe(200);
    expect(res.json().quorum_standby).toBe(true);
    expect(res.json().sync_standby).toBeUndefined();
    expect((await api.app.inject({ url: '/read-only-quorum' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/sync' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/async' })).statusCode).toBe(503);
    api.status = snapshot(clock, { name: 'd', local: replicaPg(true), dynamic, cluster });
    expect((await api.app.inject({ url: '/quorum' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/async' })).statusCode).toBe(200);
  });

  it('/liveness fails once the loop has not ticked for ttl, unless paused', async () => {
    api.status = snapshot(clock, { local: replicaPg(true), tickMonoMs: clock.monoMs() - 31_000 });
    expect((await api.app.inject({ url: '/liveness' })).statusCode).toBe(503);
    api.status = snapshot(clock, { local: replicaPg(true), tickMonoMs: clock.monoMs() - 29_000 });
    expect((await api.app.inject({ url: '/liveness' })).statusCode).toBe(200);
  });

  it('/readiness honours ?lag= and ?mode=write', async () => {
    api.status = scenario('replica lagging', clock);
    expect((await api.app.inject({ url: '/readiness?lag=128MB' })).statusCode).toBe(200);
    api.status = snapshot(clock, { name: 'b', local: replicaPg(true, 0, { replayLsn: LEADER_OPTIME - 2 * MB }) });
    expect((await api.app.inject({ url: '/readiness' })).statusCode).toBe(503);
    expect((await api.app.inject({ url: '/readiness?mode=write' })).statusCode).toBe(200);
  });

  it('trailing slashes and /master (Patroni 3) are accepted', async () => {
    api.status = scenario('leader', clock);
    expect((await api.app.inject({ url: '/primary/' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/master' })).statusCode).toBe(200);
  });

  it('GET /patroni is always 200, also with PostgreSQL stopped', async () => {
    for (const name of Object.keys(EXPECTED) as ScenarioName[]) {
      api.status = scenario(name, clock);
      const res = await api.app.inject({ url: '/patroni' });
      expect(res.statusCode, name).toBe(200);
      expect(res.json()).toMatchObject(BODY[name]);
    }
  });
});

describe('a health check while this node bootstraps the cluster as key holder', () => {
  const bootstrapping = () => snapshot(clock, {
    local: { kind: 'down', dataDir: 'empty', standbySignal: false, control: null }, holdsLeader: true, leaseValidUntilMs: clock.monoMs() + 20_000,
    pgState: 'initializing new cluster', pgRole: 'uninitialized',
  });

  it('waits for the bootstrap to end and answers from its outcome', async () => {
    api.status = bootstrapping();
    const done = setTimeout(() => { api.status = scenario('leader', clock); }, 300);
    const t0 = performance.now();
    const res = await api.app.inject({ url: '/' });
    clearTimeout(done);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ state: 'running', role: 'primary' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('answers 503 from the snapshot as it is once the bound is spent', async () => {
    const short = testApi({ config: testConfig(), clock, dcs, status: bootstrapping(), options: { bootstrapAnswerWaitMs: 300 } });
    try {
      const res = await short.app.inject({ url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ state: 'initializing new cluster' });
    } finally {
      await short.app.close();
    }
  });

  it('does not wait when another member bootstraps (this node holds no key)', async () => {
    api.status = snapshot(clock, { local: { kind: 'down', dataDir: 'empty', standbySignal: false, control: null }, pgState: 'creating replica' });
    const t0 = performance.now();
    expect((await api.app.inject({ url: '/' })).statusCode).toBe(503);
    expect(performance.now() - t0).toBeLessThan(250);
  });
});
