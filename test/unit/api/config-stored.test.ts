// Issue 13: one unknown key in etcd's `config` must not drop the whole configuration (a paused
// cluster would leave pause). Unknown keys are kept and ignored with one warning; a value that
// cannot be decoded leaves the last valid one in force (LastValidConfig) and GET/PATCH /config work
// on what is stored, so an operator can repair it.
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeConfig, encodeConfig } from '../../../src/dcs/codec-config.js';
import { buildClusterView } from '../../../src/dcs/view.js';
import { LastValidConfig } from '../../../src/loop/config-memory.js';
import type { FakeCluster, TestApi } from './fixtures.js';
import { SCOPE, fakeCluster, primaryPg, snapshot, testApi, testConfig } from './fixtures.js';

const KEY = `/service/${SCOPE}/config`;
const FROM_THE_FUTURE = { ttl: 30, loop_wait: 10, retry_timeout: 10, pause: true, quorum_commit_mode: 'on', postgresql: { parameters: { work_mem: '8MB' }, future_knob: 1 } };

let open: TestApi[] = [];
afterEach(async () => {
  await Promise.all(open.map((a) => a.app.close()));
  open = [];
});

async function setup(stored: string): Promise<{ fc: FakeCluster; api: TestApi }> {
  const fc = await fakeCluster();
  await fc.store.backendFor('etcdctl').txn([], [{ op: 'put', key: KEY, value: stored }], []);
  const cluster = await fc.nodes.a.snapshot();
  const status = snapshot(fc.clock, { local: primaryPg(), cluster, holdsLeader: true, leaseValidUntilMs: fc.clock.monoMs() + 20_000 });
  const api = testApi({ config: testConfig(), clock: fc.clock, dcs: fc.nodes.a, status });
  open.push(api);
  return { fc, api };
}

const stored = (fc: FakeCluster): unknown => JSON.parse(fc.store.dump(KEY)[0]?.value ?? 'null');

describe('unknown keys in the stored config', () => {
  it('are kept and ignored; pause and the rest apply; one report names them all', () => {
    const d = decodeConfig(JSON.stringify(FROM_THE_FUTURE));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.pause).toBe(true);
    expect(d.value.postgresql.parameters).toEqual({ work_mem: '8MB' });
    expect(d.unknown).toEqual(['quorum_commit_mode', 'postgresql.future_knob']);
    // Written back unchanged: a newer agent's keys survive an older one's write.
    expect(JSON.parse(encodeConfig(d.value))).toMatchObject({ quorum_commit_mode: 'on', postgresql: { future_knob: 1 } });
    const view = buildClusterView(5, [{ key: 'config', value: JSON.stringify(FROM_THE_FUTURE), createRevision: 2, modRevision: 4, lease: '0' }]);
    expect(view.config?.value.pause).toBe(true);
    expect(view.invalid).toHaveLength(1);
    expect(view.invalid[0]).toMatchObject({ key: 'config', unknownKeys: ['quorum_commit_mode', 'postgresql.future_knob'] });
  });

  it('PATCH /config keeps them, and still refuses an unknown key the patch itself sets (a typo)', async () => {
    const { fc, api } = await setup(JSON.stringify(FROM_THE_FUTURE));
    expect((await api.app.inject({ url: '/config' })).json()).toMatchObject({ pause: true, quorum_commit_mode: 'on' });
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { loop_wait: 5 } });
    expect(res.statusCode).toBe(200);
    expect(stored(fc)).toMatchObject({ loop_wait: 5, pause: true, quorum_commit_mode: 'on', postgresql: { future_knob: 1 } });
    const typo = await api.app.inject({ method: 'PATCH', url: '/config', payload: { loop_wiat: 5 } });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error).toMatch(/loop_wiat: unknown key/);
  });
});

describe('a stored config that cannot be decoded', () => {
  it('GET /config shows it as stored; PATCH repairs it against the stored JSON', async () => {
    const { fc, api } = await setup(JSON.stringify({ ttl: 'long', pause: true, maximum_lag_on_failover: 4096 }));
    const got = await api.app.inject({ url: '/config' });
    expect(got.statusCode).toBe(200);
    expect(got.headers['x-config-invalid']).toBe('true');
    expect(got.json()).toEqual({ ttl: 'long', pause: true, maximum_lag_on_failover: 4096 });
    const unrelated = await api.app.inject({ method: 'PATCH', url: '/config', payload: { loop_wait: 5 } });
    expect(unrelated.statusCode).toBe(400);
    expect(unrelated.json().error).toMatch(/ttl: expected an integer/);
    const repair = await api.app.inject({ method: 'PATCH', url: '/config', payload: { ttl: 30 } });
    expect(repair.statusCode).toBe(200);
    const after = await fc.nodes.b.snapshot();
    expect(after.invalid).toEqual([]);
    expect(after.config?.value).toMatchObject({ ttl: 30, pause: true, maximum_lag_on_failover: 4096 });
  });

  it('not JSON at all: GET 502 and PATCH 409 say to replace it; PUT does', async () => {
    const { fc, api } = await setup('{"ttl": 30,');
    const got = await api.app.inject({ url: '/config' });
    expect(got.statusCode).toBe(502);
    expect(got.json().error).toMatch(/cannot be decoded: it is not JSON .*replace it with PUT \/config/);
    const patch = await api.app.inject({ method: 'PATCH', url: '/config', payload: { ttl: 30 } });
    expect(patch.statusCode).toBe(409);
    expect(patch.json().error).toMatch(/replace it with PUT \/config/);
    const put = await api.app.inject({ method: 'PUT', url: '/config', payload: { ttl: 30, pause: true } });
    expect(put.statusCode).toBe(200);
    expect((await fc.nodes.b.snapshot()).config?.value.pause).toBe(true);
  });
});

describe('values every node would fail to render', () => {
  it.each([
    ['a parameter value with a line break', { postgresql: { parameters: { archive_command: "true\nshared_preload_libraries = 'x'" } } }, /postgresql\.parameters\.archive_command: contains a line break or NUL/],
    ['a parameter name postgresql.conf cannot hold', { postgresql: { parameters: { 'a = b\n#': 1 } } }, /is not a valid PostgreSQL parameter name/],
    ['a pg_hba entry with a line break', { postgresql: { pg_hba: ['host all all 0.0.0.0/0 md5\nhost all all 0.0.0.0/0 trust'] } }, /postgresql\.pg_hba\[0\]: contains a line break/],
  ])('PATCH and PUT refuse %s (400 naming the key); etcd unchanged', async (_name, body, message) => {
    const { fc, api } = await setup(JSON.stringify({ ttl: 30 }));
    for (const method of ['PATCH', 'PUT'] as const) {
      const res = await api.app.inject({ method, url: '/config', payload: body });
      expect(res.statusCode, method).toBe(400);
      expect(res.json().error).toMatch(message);
    }
    expect(stored(fc)).toEqual({ ttl: 30 });
  });
});

describe('LastValidConfig (the loop)', () => {
  function capture() {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } }));
    return { log, lines };
  }
  const view = (value: string, modRevision: number) =>
    buildClusterView(modRevision + 1, [{ key: 'config', value, createRevision: 2, modRevision, lease: '0' }]);

  it('keeps the last valid config in force while the stored one cannot be decoded, and reports it once per version', () => {
    const { log, lines } = capture();
    const memory = new LastValidConfig(log);
    expect(memory.apply(view(JSON.stringify({ pause: true, ttl: 30 }), 3)).config?.value.pause).toBe(true);
    const broken = memory.apply(view(JSON.stringify({ pause: true, ttl: 'long' }), 7));
    expect(broken.config?.value.pause).toBe(true);
    expect(broken.config?.modRevision).toBe(3);
    memory.apply(view(JSON.stringify({ pause: true, ttl: 'long' }), 7));
    expect(lines.filter((l) => l.includes('the last valid one stays in force'))).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { err: { code: string; message: string }; level: number };
    expect(line.level).toBe(50);
    expect(line.err.code).toBe('CONFIG_UNDECODABLE');
    expect(line.err.message).toMatch(/ttl/);
    memory.apply(view('not json', 9));
    expect(lines).toHaveLength(2);
  });

  it('with no valid config seen yet, says bootstrap.dcs applies', () => {
    const { log, lines } = capture();
    const out = new LastValidConfig(log).apply(view('[]', 4));
    expect(out.config).toBeNull();
    expect(lines[0]).toMatch(/has seen no valid one; bootstrap\.dcs applies/);
  });
});
