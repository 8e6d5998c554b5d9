// Admin routes over a fake etcd (test/support/fakes/fake-dcs.ts) holding three members: a (leader), b, c.
// The "agents" that act on a switchover intent are simulated in the test.
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dcs } from '../../../src/dcs/port.js';
import type { RestartRequest } from '../../../src/api/local-actions.js';
import type { FakeCluster, TestApi } from './fixtures.js';
import { DYNAMIC, LEADER_OPTIME, fakeCluster, primaryPg, snapshot, testApi, testConfig } from './fixtures.js';

let open: TestApi[] = [];
afterEach(async () => {
  await Promise.all(open.map((a) => a.app.close()));
  open = [];
});

async function setup(opts: Parameters<typeof fakeCluster>[0] & { paused?: boolean; dcs?: (fc: FakeCluster) => Dcs;
  extra?: Partial<Parameters<typeof testApi>[0]> } = {}): Promise<{ fc: FakeCluster; api: TestApi }> {
  const fc = await fakeCluster(opts);
  if (opts.paused) await fc.nodes.a.setConfig({ ...DYNAMIC, pause: true }, null);
  const cluster = await fc.nodes.a.snapshot();
  const status = snapshot(fc.clock, {
    local: primaryPg(), cluster, holdsLeader: true, leaseValidUntilMs: fc.clock.monoMs() + 20_000,
    ...(opts.paused ? { dynamic: { ...DYNAMIC, pause: true } } : {}),
  });
  const api = testApi({
    config: testConfig(), clock: fc.clock, dcs: opts.dcs ? opts.dcs(fc) : fc.nodes.a, status,
    options: { switchoverPollIntervalMs: 5 }, ...opts.extra,
  });
  open.push(api);
  return { fc, api };
}

/** Refresh the published snapshot's cluster view, as the next tick would. */
async function tick(fc: FakeCluster, api: TestApi): Promise<void> {
  api.status = snapshot(fc.clock, { local: primaryPg(), cluster: await fc.nodes.a.snapshot(), holdsLeader: true,
    leaseValidUntilMs: fc.clock.monoMs() + 20_000 });
}

async function untilFailoverKey(fc: FakeCluster): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await fc.nodes.b.snapshot()).failover) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the failover key');
    await delay(2);
  }
}

/** What the leader's and the candidate's loops would do with the intent. */
async function agentsSwitchTo(fc: FakeCluster, to: 'b' | 'c'): Promise<void> {
  await untilFailoverKey(fc);
  expect(await fc.nodes.a.releaseLeader()).toBe(true);
  expect(await fc.nodes[to].acquireLeader()).toBe(true);
  await fc.nodes[to].deleteFailover(null);
}

describe('GET /cluster, /history, /config', () => {
  it('renders the published cluster view with Patroni field names', async () => {
    const { api } = await setup();
    const body = (await api.app.inject({ url: '/cluster' })).json();
    expect(body.scope).toBe('demo');
    expect(body.members.map((m: { name: string }) => m.name)).toEqual(['a', 'b', 'c']);
    expect(body.members[0]).toMatchObject({ name: 'a', role: 'leader', state: 'running', host: '127.0.0.1', port: 5432,
      api_url: 'http://127.0.0.1:8008/patroni', timeline: 2 });
    expect(body.members[0].lag).toBeUndefined();
    expect(body.members[1]).toMatchObject({ name: 'b', role: 'replica', state: 'streaming', lag: 100, lsn: '0/4FFFF9C' });
    expect(body.pause).toBeUndefined();
    const history = (await api.app.inject({ url: '/history' })).json();
    expect(history).toEqual([[1, 0x3000000, 'no recovery target specified', '2026-01-01T00:00:00+00:00', 'a']]);
    const config = (await api.app.inject({ url: '/config' })).json();
    expect(config).toMatchObject({ ttl: 30, loop_wait: 10, maximum_lag_on_failover: 1048576 });
  });

  it('reads etcd once when no view was published yet, and says so when etcd is unreachable too', async () => {
    const { fc, api } = await setup();
    api.status = snapshot(fc.clock, { local: primaryPg(), cluster: null, dcsOk: false });
    expect((await api.app.inject({ url: '/cluster' })).json().members).toHaveLength(3);
    fc.store.partition('a', true);
    const res = await api.app.inject({ url: '/config' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toMatch(/etcd is not reachable/);
  });

  it('GET /config is 502 when etcd holds no configuration (as in Patroni)', async () => {
    const { fc, api } = await setup();
    api.status = snapshot(fc.clock, { local: primaryPg(), cluster: { ...(await fc.nodes.a.snapshot()), config: null } });
    expect((await api.app.inject({ url: '/config' })).statusCode).toBe(502);
  });
});

describe('PATCH and PUT /config', () => {
  it('merges, null deletes, and writes to etcd (patronictl pause/resume bodies)', async () => {
    const { fc, api } = await setup();
    // patronictl sends JSON without a Content-Type; its User-Agent admits it (cross-site.ts).
    const paused = await api.app.inject({ method: 'PATCH', url: '/config', payload: '{"pause": true}', headers: { 'user-agent': 'Patroni/4.0.4' } });
    expect(paused.statusCode).toBe(200);
    expect(paused.json().pause).toBe(true);
    expect((await fc.nodes.b.snapshot()).config?.value.pause).toBe(true);
    const resumed = await api.app.inject({ method: 'PATCH', url: '/config', payload: { pause: null } });
    expect(resumed.json().pause).toBe(false);
    expect((await fc.nodes.b.snapshot()).config?.value.pause).toBe(false);
    const params = await api.app.inject({ method: 'PATCH', url: '/config',
      payload: { postgresql: { parameters: { work_mem: '8MB', max_connections: null } } } });
    expect(params.statusCode).toBe(200);
    const stored = (await fc.nodes.b.snapshot()).config?.value.postgresql.parameters;
    expect(stored).toEqual({ work_mem: '8MB' });
  });

  it('answers 409 when the config changed between the read and the compare-and-swap', async () => {
    const { fc, api } = await setup({
      dcs: (c) => new Proxy(c.nodes.a, {
        get(target, prop, receiver) {
          if (prop !== 'setConfig') return Reflect.get(target, prop, receiver);
          return async (...args: Parameters<Dcs['setConfig']>) => {
            await c.nodes.b.setConfig({ ...DYNAMIC, ttl: 40 }, null); // another writer wins the race
            return target.setConfig(...args);
          };
        },
      }),
    });
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { loop_wait: 5 } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatch(/changed concurrently/);
    expect((await fc.nodes.b.snapshot()).config?.value).toMatchObject({ ttl: 40, loop_wait: 10 });
  });

  it('PUT replaces the whole configuration', async () => {
    const { fc, api } = await setup();
    const res = await api.app.inject({ method: 'PUT', url: '/config', payload: { ttl: 20, loop_wait: 5, retry_timeout: 5 } });
    expect(res.statusCode).toBe(200);
    expect((await fc.nodes.b.snapshot()).config?.value).toMatchObject({ ttl: 20, loop_wait: 5, retry_timeout: 5,
      maximum_lag_on_failover: 1048576 /* default again */ });
  });
});

describe('POST /switchover and /failover', () => {
  it('writes the intent and reports the new leader (patronictl body, no content type)', async () => {
    const { fc, api } = await setup();
    const agents = agentsSwitchTo(fc, 'b');
    const res = await api.app.inject({ method: 'POST', url: '/switchover', headers: { 'user-agent': 'Patroni/4.0.4' },
      payload: '{"leader": "a", "candidate": "b", "scheduled_at": null}' });
    await agents;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('Successfully switched over to "b"');
    expect((await fc.nodes.c.snapshot()).leader?.name).toBe('b');
  });

  it('without a candidate any healthy replica may win; another winner than asked is reported', async () => {
    const first = await setup();
    const agents = agentsSwitchTo(first.fc, 'c');
    const res = await first.api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a' } });
    await agents;
    expect(res.body).toBe('Successfully switched over to "c"');
    const second = await setup();
    const other = agentsSwitchTo(second.fc, 'c');
    const res2 = await second.api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
    await other;
    expect(res2.statusCode).toBe(200);
    expect(res2.body).toBe('Switched over to "c" instead of "b"');
  });

  it('503 "Switchover failed" when the leader drops the intent and stays leader', async () => {
    const { fc, api } = await setup();
    const agents = untilFailoverKey(fc).then(() => fc.nodes.a.deleteFailover(null));
    const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
    await agents;
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('Switchover failed');
  });

  it('503 with the reason when the leader aborted the switchover and stays leader', async () => {
    const { fc, api } = await setup();
    const agents = untilFailoverKey(fc).then(async () => {
      const view = (await fc.nodes.a.snapshot()).members.find((m) => m.name === 'a');
      if (!view) throw new Error('no member a');
      const { modRevision: _r, leaseId: _l, ...status } = view;
      await fc.nodes.a.deleteFailover(null);
      await delay(20);
      await fc.nodes.a.touchMember({ ...status, switchoverAborted: { to: 'b', reason: 'postgresql did not stop cleanly', at: new Date().toISOString() } });
    });
    const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
    await agents;
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('Switchover failed: the leader a aborted it and stays primary: postgresql did not stop cleanly');
  });

  it('503 "Switchover status unknown" when nothing happens within the bound', async () => {
    const { fc, api } = await setup({ extra: { options: { switchoverPollIntervalMs: 5, switchoverTimeoutMs: 500 } } });
    const timer = setInterval(() => fc.clock.advance(50), 5);
    try {
      const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('Switchover status unknown');
    } finally {
      clearInterval(timer);
    }
  });

  it('schedules (202), shows it in /cluster, refuses a second one (409), and cancels it', async () => {
    const { fc, api } = await setup();
    const res = await api.app.inject({ method: 'POST', url: '/switchover',
      payload: { leader: 'a', candidate: 'b', scheduled_at: '2026-01-01T02:00:00+01:00' } });
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe('Switchover scheduled');
    expect((await fc.nodes.b.snapshot()).failover?.value).toEqual({ leader: 'a', member: 'b', scheduledAt: '2026-01-01T01:00:00.000Z' });
    await tick(fc, api);
    expect((await api.app.inject({ url: '/cluster' })).json().scheduled_switchover)
      .toEqual({ at: '2026-01-01T01:00:00.000Z', from: 'a', to: 'b' });
    const again = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'c' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatch(/already pending/);
    const del = await api.app.inject({ method: 'DELETE', url: '/switchover' });
    expect(del.statusCode).toBe(200);
    expect(del.body).toBe('scheduled switchover deleted');
    expect((await fc.nodes.b.snapshot()).failover).toBeNull();
    const none = await api.app.inject({ method: 'DELETE', url: '/switchover' });
    expect(none.statusCode).toBe(404);
    expect(none.json().error).toBe('no switchover is scheduled');
  });

  it('412 with the reason when no member can take over', async () => {
    const { api } = await setup({ cTags: { nofailover: true }, bStatus: { state: 'stopped', replicationState: 'stopped' } });
    const named = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'c' } });
    expect(named.statusCode).toBe(412);
    expect(named.json().error).toBe('switchover is not possible: no good candidates have been found (c: tagged nofailover)');
    const any = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a' } });
    expect(any.statusCode).toBe(412);
    expect(any.json().error).toMatch(/no good candidates.*b: PostgreSQL is stopped; c: tagged nofailover/);
    const self = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'a' } });
    expect(self.statusCode).toBe(400);
    expect(self.json().error).toBe('Switchover target and source are the same');
    // patronictl (and Patroni's own tests) get Patroni's sentence alone, compared whole.
    const patroni = await api.app.inject({ method: 'POST', url: '/switchover', headers: { 'user-agent': 'Patroni/4.1.0 Python/3.11' },
      payload: { leader: 'a', candidate: 'c' } });
    expect(patroni.statusCode).toBe(412);
    expect(patroni.body).toBe('switchover is not possible: no good candidates have been found');
  });

  it('412 for a lagging candidate (maximum_lag_on_failover)', async () => {
    const { api } = await setup({ bStatus: { xlogLocation: LEADER_OPTIME - 8 * 1024 * 1024, receiveLsn: LEADER_OPTIME - 8 * 1024 * 1024,
      replayLsn: LEADER_OPTIME - 8 * 1024 * 1024 } });
    const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
    expect(res.statusCode).toBe(412);
    expect(res.json().error).toMatch(/b: it lags 8388608 bytes behind the leader/);
  });

  it('503 when etcd cannot be read', async () => {
    const { fc, api } = await setup();
    fc.store.partition('a', true);
    const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a', candidate: 'b' } });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('failed to read the cluster state from etcd');
  });

  it('POST /failover to a candidate when the leader is gone', async () => {
    const { fc, api } = await setup();
    await fc.nodes.a.releaseLeader();
    const agents = untilFailoverKey(fc).then(async () => {
      expect((await fc.nodes.b.snapshot()).failover?.value).toEqual({ member: 'b' });
      await fc.nodes.b.acquireLeader();
      await fc.nodes.b.deleteFailover(null);
    });
    const res = await api.app.inject({ method: 'POST', url: '/failover', payload: { candidate: 'b' } });
    await agents;
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('Successfully failed over to "b"');
  });

  it('in pause a switchover needs a candidate and cannot be scheduled', async () => {
    const { api } = await setup({ paused: true });
    const noCandidate = await api.app.inject({ method: 'POST', url: '/switchover', payload: { leader: 'a' } });
    expect(noCandidate.statusCode).toBe(400);
    expect(noCandidate.json().error).toBe('Switchover is possible only to a specific candidate in a paused state');
    const scheduled = await api.app.inject({ method: 'POST', url: '/switchover',
      payload: { leader: 'a', candidate: 'b', scheduled_at: '2026-01-02T00:00:00Z' } });
    expect(scheduled.statusCode).toBe(400);
    expect(scheduled.json().error).toBe("Can't schedule switchover in the paused state");
  });

  it('in pause a failover without a leader is refused up front (nothing would fence the old primary)', async () => {
    const { fc, api } = await setup({ paused: true });
    await fc.nodes.a.releaseLeader();
    const res = await api.app.inject({ method: 'POST', url: '/failover', payload: { candidate: 'b' } });
    expect(res.statusCode).toBe(412);
    expect(res.json().error).toMatch(/^failover is not possible in the paused state while the cluster has no leader: .*resume/);
    expect((await fc.nodes.a.snapshot()).failover).toBeNull();
  });
});

describe('local actions: restart, reinitialize, reload', () => {
  it('POST /restart hands a validated request to the agent and maps its outcome', async () => {
    const seen: RestartRequest[] = [];
    const outcomes = [{ kind: 'restarted' }, { kind: 'scheduled' }, { kind: 'already_scheduled' },
      { kind: 'failed', reason: 'postgres did not start within 30 s' }] as const;
    const { api } = await setup({ extra: { requestRestart: async (req) => {
      seen.push(req);
      return outcomes[seen.length - 1] ?? { kind: 'not_needed', reason: 'no pending restart' };
    } } });
    const now = await api.app.inject({ method: 'POST', url: '/restart', payload: { role: 'master', timeout: '30s', restart_pending: true } });
    expect([now.statusCode, now.body]).toEqual([200, 'restarted successfully']);
    expect(seen[0]).toEqual({ role: 'primary', timeoutSec: 30, restartPending: true });
    const later = await api.app.inject({ method: 'POST', url: '/restart', payload: { schedule: '2026-01-01T00:30:00Z', postgres_version: '15.9' } });
    expect([later.statusCode, later.body]).toEqual([202, 'Restart scheduled']);
    expect(seen[1]).toEqual({ scheduledAtMs: Date.UTC(2026, 0, 1, 0, 30), postgresVersion: '15.9' });
    expect((await api.app.inject({ method: 'POST', url: '/restart', payload: { schedule: '2026-01-01T00:40:00Z' } })).statusCode).toBe(409);
    const failed = await api.app.inject({ method: 'POST', url: '/restart' });
    expect(failed.statusCode).toBe(503);
    expect(failed.json().error).toBe('restart failed: postgres did not start within 30 s');
    expect(seen[3]).toEqual({});
    // Patroni tests restart_pending for its truth: its behave suite sends "True".
    await api.app.inject({ method: 'POST', url: '/restart', payload: { restart_pending: 'True' } });
    expect(seen[4]).toEqual({ restartPending: true });
  });

  it('DELETE /restart, /reinitialize and /reload use their callbacks', async () => {
    const calls: string[] = [];
    const { api } = await setup({ extra: {
      cancelScheduledRestart: async () => (calls.push('cancel'), calls.length === 1),
      requestReinitialize: async (req) => (calls.push(`reinit force=${req.force} fromLeader=${req.fromLeader}`),
        req.force ? { kind: 'started' } : { kind: 'refused', reason: 'I am the leader, can not reinitialize' }),
      requestReload: async () => void calls.push('reload'),
    } });
    expect((await api.app.inject({ method: 'DELETE', url: '/restart' })).body).toBe('scheduled restart deleted');
    expect((await api.app.inject({ method: 'DELETE', url: '/restart' })).statusCode).toBe(404);
    const refused = await api.app.inject({ method: 'POST', url: '/reinitialize' });
    expect([refused.statusCode, refused.json().error]).toEqual([503, 'I am the leader, can not reinitialize']);
    const started = await api.app.inject({ method: 'POST', url: '/reinitialize', payload: { force: true } });
    expect([started.statusCode, started.body]).toEqual([200, 'reinitialize started']);
    const reload = await api.app.inject({ method: 'POST', url: '/reload' });
    expect([reload.statusCode, reload.body]).toEqual([202, 'reload scheduled']);
    expect(calls).toEqual(['cancel', 'cancel', 'reinit force=false fromLeader=false', 'reinit force=true fromLeader=false', 'reload']);
  });

  it('without callbacks the actions answer 503 saying so', async () => {
    const { api } = await setup();
    for (const url of ['/restart', '/reinitialize', '/reload']) {
      const res = await api.app.inject({ method: 'POST', url });
      expect(res.statusCode, url).toBe(503);
      expect(res.json().error, url).toMatch(/is not available on this node/);
    }
  });

  it('an agent failure is a 500 without details or stack, and is logged', async () => {
    const { api } = await setup({ extra: { requestRestart: async () => {
      throw new Error('secret detail');
    } } });
    const res = await api.app.inject({ method: 'POST', url: '/restart' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal error; see the agent log' });
    expect(res.body).not.toMatch(/secret detail|\bat /);
    expect(api.lines.some((l) => l.includes('"msg":"request failed"') && l.includes('secret detail'))).toBe(true);
  });
});
