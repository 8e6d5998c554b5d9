// Issue 22 through the REST API: a refused dynamic key is a 400 from PATCH and PUT /config that
// names it; the "off" values stay accepted; a refused key already in etcd's `config` (written by
// Patroni) stops nothing: PATCH still works, GET /patroni names the key.
import { afterEach, describe, expect, it } from 'vitest';
import { REFUSED_DYNAMIC, ACCEPTED_DYNAMIC, nested } from '../config/refused-samples.js';
import type { FakeCluster, TestApi } from './fixtures.js';
import { SCOPE, fakeCluster, primaryPg, snapshot, testApi, testConfig } from './fixtures.js';

let open: TestApi[] = [];
afterEach(async () => {
  await Promise.all(open.map((a) => a.app.close()));
  open = [];
});

async function setup(storedConfig?: Record<string, unknown>): Promise<{ fc: FakeCluster; api: TestApi }> {
  const fc = await fakeCluster();
  if (storedConfig) {
    await fc.store.backendFor('patroni').txn([], [{ op: 'put', key: `/service/${SCOPE}/config`, value: JSON.stringify(storedConfig) }], []);
  }
  const cluster = await fc.nodes.a.snapshot();
  const status = snapshot(fc.clock, { local: primaryPg(), cluster, holdsLeader: true, leaseValidUntilMs: fc.clock.monoMs() + 20_000 });
  const api = testApi({ config: testConfig(), clock: fc.clock, dcs: fc.nodes.a, status });
  open.push(api);
  return { fc, api };
}

describe('PATCH and PUT /config refuse what the agent does not do', () => {
  it.each(Object.entries(REFUSED_DYNAMIC))('PATCH %s -> 400 naming the key; etcd unchanged', async (path, value) => {
    const { fc, api } = await setup();
    const before = (await fc.nodes.b.snapshot()).config;
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: nested(path, value) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toContain(`${path}: not supported`);
    expect((await fc.nodes.b.snapshot()).config).toEqual(before);
  });

  it.each(Object.entries(REFUSED_DYNAMIC))('PUT %s -> 400 naming the key', async (path, value) => {
    const { api } = await setup();
    const res = await api.app.inject({ method: 'PUT', url: '/config', payload: { ttl: 30, ...nested(path, value) } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toContain(`${path}: not supported`);
  });

  it('the message says what the key would do and what to do instead', async () => {
    const { api } = await setup();
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { failsafe_mode: true } });
    expect(res.json().error).toBe('invalid configuration: failsafe_mode: not supported yet: failsafe_mode would keep the primary writable '
      + 'through an etcd outage while every member confirms it over the REST API; set failsafe_mode: false or remove the key '
      + '(without it the primary stops taking writes when it cannot renew its leader lease)');
  });

  it.each(Object.entries(ACCEPTED_DYNAMIC))('PATCH %s: %j -> 200 (the feature stays off)', async (path, value) => {
    const { api } = await setup();
    expect((await api.app.inject({ method: 'PATCH', url: '/config', payload: nested(path, value) })).statusCode).toBe(200);
  });
});

describe("a refused key in etcd's stored config", () => {
  const STORED = { ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 4096, failsafe_mode: true, slots: { dr_slot: { type: 'physical' } } };

  it('does not stop the cluster: the rest applies and GET /patroni names the key', async () => {
    const { api } = await setup(STORED);
    const config = (await api.app.inject({ url: '/config' })).json();
    expect(config).toMatchObject({ maximum_lag_on_failover: 4096, failsafe_mode: false });
    expect(config).not.toHaveProperty('slots');
    const body = (await api.app.inject({ url: '/patroni' })).json();
    expect(body.config_refused).toEqual([
      { key: 'failsafe_mode', reason: expect.stringMatching(/^failsafe_mode: not supported yet: .*; this key is ignored, the rest of the configuration applies$/) },
      { key: 'slots', reason: expect.stringMatching(/^slots: not supported yet: /) },
    ]);
  });

  it('does not block other changes (pause); the write leaves the refused keys out', async () => {
    const { fc, api } = await setup(STORED);
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { pause: true } });
    expect(res.statusCode).toBe(200);
    const after = await fc.nodes.b.snapshot();
    expect(after.config?.value).toMatchObject({ pause: true, maximum_lag_on_failover: 4096, failsafe_mode: false });
    expect(after.invalid).toEqual([]);
  });

  it('a healthy config has no config_refused field', async () => {
    const { api } = await setup();
    expect((await api.app.inject({ url: '/patroni' })).json()).not.toHaveProperty('config_refused');
  });
});
