// Issue 23 through the REST API: PATCH /config as Patroni accepts it. Strings for numbers,
// the timing rule adjusted with a warning (not a 400), master_* names shown as sent.
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeCluster, TestApi } from './fixtures.js';
import { fakeCluster, primaryPg, snapshot, testApi, testConfig } from './fixtures.js';

let open: TestApi[] = [];
afterEach(async () => {
  await Promise.all(open.map((a) => a.app.close()));
  open = [];
});

async function setup(): Promise<{ fc: FakeCluster; api: TestApi }> {
  const fc = await fakeCluster();
  const status = snapshot(fc.clock, { local: primaryPg(), cluster: await fc.nodes.a.snapshot(), holdsLeader: true, leaseValidUntilMs: fc.clock.monoMs() + 20_000 });
  const api = testApi({ config: testConfig(), clock: fc.clock, dcs: fc.nodes.a, status });
  open.push(api);
  return { fc, api };
}

describe('PATCH /config as Patroni accepts it', () => {
  it('numbers and booleans given as strings', async () => {
    const { fc, api } = await setup();
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { ttl: '40', check_timeline: 'true' } });
    expect(res.statusCode).toBe(200);
    expect((await fc.nodes.b.snapshot()).config?.value).toMatchObject({ ttl: 40, check_timeline: true });
  });

  it('loop_wait + 2 * retry_timeout > ttl: 200, loop_wait adjusted, a warning in the log', async () => {
    const { fc, api } = await setup();
    const res = await api.app.inject({ method: 'PATCH', url: '/config', payload: { loop_wait: 25 } });
    expect(res.statusCode).toBe(200);
    expect((await fc.nodes.b.snapshot()).config?.value).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
    expect(api.lines.join('\n')).toContain('loop_wait adjusted from 25 to 10');
  });

  it('master_start_timeout: GET /config shows what was sent, and it is the timeout in effect', async () => {
    const { fc, api } = await setup();
    expect((await api.app.inject({ method: 'PATCH', url: '/config', payload: { master_start_timeout: 10 } })).statusCode).toBe(200);
    const stored = (await fc.nodes.b.snapshot()).config?.value;
    expect(stored).toMatchObject({ master_start_timeout: 10, primary_start_timeout: 10 });
    api.status = snapshot(fc.clock, { local: primaryPg(), cluster: await fc.nodes.a.snapshot() });
    expect((await api.app.inject({ url: '/config' })).json()).toMatchObject({ master_start_timeout: 10 });
  });
});
