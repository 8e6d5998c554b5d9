// GET /patroni answers with the WAL position read at request time (S2 d); health endpoints and
// a failing or slow query keep the tick's cached snapshot.
import { afterAll, describe, expect, it } from 'vitest';
import type { FreshWal } from '../../../src/api/fresh-wal.js';
import { overlayFreshWal } from '../../../src/api/fresh-wal.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { parsePatroniStatus } from '../../../src/loop/peers.js';
import { SCOPE, scenario, testApi, testConfig } from './fixtures.js';

const clock = new FakeClock();
const dcs = createFakeDcs({ scope: SCOPE, name: 'a', ttlSec: 30, clock });
let reading: () => Promise<FreshWal | null> = () => Promise.resolve(null);
const api = testApi({ config: testConfig(), clock, dcs, status: scenario('replica streaming', clock), readFreshWal: () => reading() });
afterAll(() => api.app.close());

describe('GET /patroni with a fresh wal position', () => {
  it('a replica reports the received and replayed positions read now', async () => {
    reading = () => Promise.resolve({ inRecovery: true, location: null, received: 987_654_321, replayed: 987_654_000 });
    const body = (await api.app.inject({ url: '/patroni' })).json();
    expect(body).toMatchObject({ role: 'replica', xlog: { received_location: 987_654_321, replayed_location: 987_654_000 }, pg_ha_agent: { xlog_fresh: true } });
  });

  it('the timeline is read with the position: a replica that switched to a newer timeline since the last tick reports it (seed 612 of set 5)', async () => {
    const cached = (await api.app.inject({ url: '/patroni' })).json() as { timeline: number };
    reading = () => Promise.resolve({ inRecovery: true, location: null, received: 987_654_321, replayed: 987_654_000, timeline: cached.timeline + 1 });
    const body = (await api.app.inject({ url: '/patroni' })).json();
    expect(body.timeline).toBe(cached.timeline + 1);
    expect(parsePatroniStatus('a', body)).toMatchObject({ timeline: cached.timeline + 1, walPosition: 987_654_321 });
    // An older one (pg_control lags on a replica whose receiver stopped) never lowers the tick's.
    reading = () => Promise.resolve({ inRecovery: true, location: null, received: 987_654_321, replayed: 987_654_000, timeline: cached.timeline - 1 });
    expect((await api.app.inject({ url: '/patroni' })).json().timeline).toBe(cached.timeline);
    // Not read (an older agent's reader): the tick's timeline stays.
    reading = () => Promise.resolve({ inRecovery: true, location: null, received: 987_654_321, replayed: 987_654_000 });
    expect((await api.app.inject({ url: '/patroni' })).json().timeline).toBe(cached.timeline);
  });

  it('a primary reports its current location (and its role as read now)', async () => {
    reading = () => Promise.resolve({ inRecovery: false, location: 123_456_789, received: null, replayed: null });
    const body = (await api.app.inject({ url: '/patroni' })).json();
    expect(body).toMatchObject({ role: 'primary', xlog: { location: 123_456_789 }, pg_ha_agent: { xlog_fresh: true } });
  });

  it('a server that answered now counts as running for a racing peer, though the last tick saw it stopped', async () => {
    api.status = scenario('leader postgres stopped', clock);
    try {
      reading = () => Promise.resolve({ inRecovery: false, location: 123_456_789, received: null, replayed: null });
      const fresh = (await api.app.inject({ url: '/patroni' })).json();
      expect(fresh).toMatchObject({ state: 'stopped', role: 'primary', pg_ha_agent: { xlog_fresh: true } });
      expect(parsePatroniStatus('a', fresh)).toMatchObject({ role: 'primary', running: true });
      reading = () => Promise.resolve(null);
      expect(parsePatroniStatus('a', (await api.app.inject({ url: '/patroni' })).json())).toMatchObject({ running: false });
    } finally {
      api.status = scenario('replica streaming', clock);
    }
  });

  it('falls back to the cached snapshot when the query fails', async () => {
    const cached = (await api.app.inject({ url: '/replica' })).json();
    reading = () => Promise.reject(new Error('connect ECONNREFUSED'));
    const body = (await api.app.inject({ url: '/patroni' })).json();
    expect(body.xlog).toEqual(cached.xlog);
    expect(body.pg_ha_agent.xlog_fresh).toBe(false);
  });

  it('health endpoints stay on the cached snapshot (SPEC 6)', async () => {
    reading = () => Promise.resolve({ inRecovery: false, location: 1, received: null, replayed: null });
    const res = await api.app.inject({ url: '/replica' });
    expect(res.statusCode).toBe(200);
    expect(res.json().role).toBe('replica');
  });

  it('overlay keeps every other field', () => {
    const out = overlayFreshWal({ state: 'running', timeline: 3, xlog: { received_location: 1, paused: false } }, { inRecovery: true, location: null, received: 5, replayed: 4 });
    expect(out).toMatchObject({ state: 'running', timeline: 3, xlog: { received_location: 5, replayed_location: 4, paused: false } });
  });
});
