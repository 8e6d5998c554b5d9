// Issue 13: secure by default. Without authentication only loopback and the allowlist may change the
// cluster; mutating requests must be declared JSON and come from the API's own origin; a reload
// applies new credentials; slow and idle clients cannot hold the server (on a real socket).
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RestApiConfig } from '../../../src/config/types.js';
import { buildAccessCheck, hostAddresses, openApiWarning } from '../../../src/api/access.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { waitFor } from '../../harness/wait.js';
import { scenario, testApi, testConfig } from './fixtures.js';

const clock = new FakeClock();
const dcs = createFakeDcs({ scope: 'demo', name: 'a', ttlSec: 30, clock });
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const JSON_TYPE = { 'content-type': 'application/json' };

describe('without restapi.authentication', () => {
  const api = testApi({ config: testConfig('a'), clock, dcs, status: scenario('leader', clock), requestReload: async () => undefined });
  const listed = testApi({ config: testConfig('a', { allowlist: ['10.1.0.0/16'] }), clock, dcs, status: scenario('leader', clock),
    requestReload: async () => undefined });
  afterAll(async () => {
    await api.app.close();
    await listed.app.close();
  });

  it.each(['10.0.0.5', '192.168.1.7', '::ffff:10.0.0.5', 'fd00::1'])('a mutating request from %s is refused (403, JSON)', async (remoteAddress) => {
    const res = await api.app.inject({ method: 'POST', url: '/reload', remoteAddress });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatch(/^Access is denied: without restapi\.authentication only this host and restapi\.allowlist/);
    const patch = await api.app.inject({ method: 'PATCH', url: '/config', remoteAddress, payload: { postgresql: { parameters: { archive_command: 'rm -rf ~' } } } });
    expect(patch.statusCode).toBe(403);
  });

  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('loopback (%s) may (agentctl on the node)', async (remoteAddress) => {
    expect((await api.app.inject({ method: 'POST', url: '/reload', remoteAddress })).statusCode).toBe(202);
  });

  it('health checks and reads stay open to everyone', async () => {
    for (const url of ['/primary', '/patroni', '/cluster', '/config', '/metrics']) {
      expect((await api.app.inject({ url, remoteAddress: '10.0.0.5' })).statusCode, url).toBe(200);
    }
    expect((await api.app.inject({ method: 'OPTIONS', url: '/', remoteAddress: '10.0.0.5' })).statusCode).toBe(200);
  });

  it('restapi.allowlist admits its networks besides loopback', async () => {
    expect((await listed.app.inject({ method: 'POST', url: '/reload', remoteAddress: '10.1.2.3' })).statusCode).toBe(202);
    expect((await listed.app.inject({ method: 'POST', url: '/reload', remoteAddress: '127.0.0.1' })).statusCode).toBe(202);
    expect((await listed.app.inject({ method: 'POST', url: '/reload', remoteAddress: '10.2.2.3' })).statusCode).toBe(403);
  });

  it("this host's own interface addresses count as this host (agentctl through the member's api_url)", () => {
    const check = buildAccessCheck(testConfig('a').restapi, ['192.0.2.10', 'fe80::1']);
    const ask = (ip: string) => check({ ip, authorization: undefined, tlsAuthorized: null });
    expect(ask('192.0.2.10')).toBeNull();
    expect(ask('::ffff:192.0.2.10')).toBeNull();
    expect(ask('192.0.2.11')?.status).toBe(403);
    expect(hostAddresses()).toContain('127.0.0.1');
  });

  it('the start-up warning says how to open the API; none with authentication', () => {
    const plain = testConfig('a').restapi;
    expect(openApiWarning(plain)).toMatch(/this host only \(loopback and its own addresses\); set restapi\.authentication .* restapi\.allowlist \(0\.0\.0\.0\/0 and ::\/0 open it/);
    expect(openApiWarning({ ...plain, allowlist: ['10.1.0.0/16'] })).toMatch(/its own addresses\) and restapi\.allowlist \(10\.1\.0\.0\/16\);/);
    expect(openApiWarning({ ...plain, authentication: { username: 'u', password: 'p' } })).toBeNull();
  });
});

describe('cross-site requests', () => {
  const api = testApi({ config: testConfig('a'), clock, dcs, status: scenario('leader', clock), requestReload: async () => undefined });
  afterAll(() => api.app.close());
  const switchover = '{"leader": "a", "candidate": "zz"}';

  it.each([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
  ])('a body sent as %s is refused (415) before it is parsed', async (_name, type) => {
    const res = await api.app.inject({ method: 'POST', url: '/switchover', payload: switchover, headers: { 'content-type': type } });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toMatch(/^Content-Type must be application\/json/);
  });

  it('a body without a Content-Type is refused (415) unless patronictl sends it', async () => {
    const bare = await api.app.inject({ method: 'POST', url: '/switchover', payload: switchover });
    expect(bare.statusCode).toBe(415);
    expect(bare.json().error).toBe('Content-Type must be application/json for a request with a body');
    const ctl = await api.app.inject({ method: 'POST', url: '/switchover', payload: switchover, headers: { 'user-agent': 'Patroni/4.0.4' } });
    expect(ctl.statusCode).toBe(412); // got past the check: the unknown candidate is the answer
  });

  it('declared JSON and bodiless requests pass', async () => {
    expect((await api.app.inject({ method: 'POST', url: '/switchover', payload: switchover, headers: JSON_TYPE })).statusCode).toBe(412);
    expect((await api.app.inject({ method: 'POST', url: '/switchover', payload: switchover,
      headers: { 'content-type': 'application/json; charset=utf-8' } })).statusCode).toBe(412);
    expect((await api.app.inject({ method: 'POST', url: '/reload' })).statusCode).toBe(202);
  });

  it.each([
    ['another site', { origin: 'http://evil.example' }],
    ['another port of the host', { origin: 'http://127.0.0.1:9999', host: '127.0.0.1:8008' }],
    ['an opaque origin', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  ])('a request from %s is refused (403)', async (_name, headers) => {
    const res = await api.app.inject({ method: 'POST', url: '/reload', headers: { host: '127.0.0.1:8008', ...headers } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatch(/cross-site|another site/);
    const patch = await api.app.inject({ method: 'PATCH', url: '/config', payload: { pause: true }, headers: { host: '127.0.0.1:8008', ...headers } });
    expect(patch.statusCode).toBe(403);
    expect((await dcs.snapshot()).config?.value.pause ?? false).toBe(false);
  });

  it('the API\'s own origin passes (a page it would serve itself)', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/reload',
      headers: { host: '127.0.0.1:8008', origin: 'http://127.0.0.1:8008', 'sec-fetch-site': 'same-origin' } });
    expect(res.statusCode).toBe(202);
  });

  it('health GETs ignore Origin (a dashboard may poll them)', async () => {
    expect((await api.app.inject({ url: '/primary', headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } })).statusCode).toBe(200);
  });
});

describe('reload of restapi access settings', () => {
  it('a new password applies at once and the old one stops working; removing the allowlist entry closes it', async () => {
    let restapi: RestApiConfig = testConfig('a', { authentication: { username: 'u', password: 'old' } }).restapi;
    const api = testApi({ config: testConfig('a'), restapi: () => restapi, clock, dcs, status: scenario('leader', clock),
      requestReload: async () => undefined });
    try {
      const reload = (auth: string, remoteAddress = '10.0.0.5') =>
        api.app.inject({ method: 'POST', url: '/reload', remoteAddress, headers: { authorization: auth } });
      expect((await reload(basic('u', 'old'))).statusCode).toBe(202);
      restapi = { ...restapi, authentication: { username: 'u', password: 'new' } };
      expect((await reload(basic('u', 'old'))).statusCode).toBe(401);
      expect((await reload(basic('u', 'new'))).statusCode).toBe(202);
      restapi = { ...restapi, allowlist: ['10.9.0.0/16'] };
      expect((await reload(basic('u', 'new'))).statusCode).toBe(403);
      expect(api.lines.some((l) => l.includes('rest api access settings reloaded'))).toBe(true);
    } finally {
      await api.app.close();
    }
  });
});

describe('slow and idle clients (real socket)', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });

  async function listening(limits: { headersTimeoutMs?: number; requestTimeoutMs?: number; keepAliveTimeoutMs?: number; maxConnections?: number }) {
    const api = testApi({ config: testConfig('a'), clock, dcs, status: scenario('leader', clock), options: { connectionLimits: limits } });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    return { api, port: (api.app.server.address() as AddressInfo).port };
  }

  /** A client socket; its `closed` turns true once the server has hung up on it. */
  function open(port: number, first?: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        if (first !== undefined) s.write(first);
        resolve(s);
      });
      s.on('error', () => undefined);
      s.once('error', reject);
      // Flowing, so the server's hang-up is seen ('close' waits for unread data to be consumed).
      s.resume();
      sockets.push(s);
    });
  }

  it('a client that never finishes its headers is disconnected at the headers timeout', async () => {
    const { api, port } = await listening({ headersTimeoutMs: 400, requestTimeoutMs: 800 });
    try {
      const t0 = performance.now();
      const slow = await open(port, 'GET /primary HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      await waitFor('the half-sent request to be cut off', () => slow.closed === true, { timeoutMs: 5_000, intervalMs: 20 });
      expect(performance.now() - t0).toBeLessThan(3_000);
    } finally {
      await api.app.close();
    }
  });

  it('past the connection cap the oldest idle socket is closed and /primary still answers at once', async () => {
    const { api, port } = await listening({ maxConnections: 20 });
    try {
      const idle: Socket[] = [];
      for (let i = 0; i < 60; i++) idle.push(await open(port));
      await waitFor('the oldest idle sockets to be closed', () => idle.filter((s) => s.closed === true).length >= 40, { timeoutMs: 5_000, intervalMs: 20 });
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/primary`, { signal: AbortSignal.timeout(2_000) });
      expect(res.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1_000);
      // The newest sockets are the ones kept.
      expect(idle.slice(-10).every((s) => s.closed !== true)).toBe(true);
      expect(api.lines.some((l) => l.includes('rest api connection limit reached'))).toBe(true);
    } finally {
      await api.app.close();
    }
  });

  it('the request timeout bounds receiving a request, not a handler that takes longer (a watched switchover)', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    const api = testApi({ config: testConfig('a'), clock, dcs, status: scenario('leader', clock),
      options: { connectionLimits: { headersTimeoutMs: 200, requestTimeoutMs: 300 } }, requestReload: () => held });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (api.app.server.address() as AddressInfo).port;
    try {
      const answer = fetch(`http://127.0.0.1:${port}/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      await waitFor('the reload to be in flight', () => api.lines.some((l) => l.includes('reload requested')), { timeoutMs: 5_000, intervalMs: 10 });
      const t0 = performance.now();
      // Well past both timeouts and several of Node's checks (every 100 ms here).
      await waitFor('1 s to pass', () => performance.now() - t0 > 1_000, { timeoutMs: 5_000, intervalMs: 50 });
      release();
      expect((await answer).status).toBe(202);
    } finally {
      release();
      await api.app.close();
    }
  });

  it('a connection with a request in flight is not the one closed', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    const api = testApi({ config: testConfig('a'), clock, dcs, status: scenario('leader', clock), options: { connectionLimits: { maxConnections: 3 } },
      requestReload: () => held });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (api.app.server.address() as AddressInfo).port;
    try {
      const busy = await open(port, 'POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
      let answer = '';
      busy.on('data', (d: Buffer) => { answer += d.toString(); });

      await waitFor('the reload to be in flight', () => api.lines.some((l) => l.includes('reload requested')), { timeoutMs: 5_000, intervalMs: 10 });
      const others: Socket[] = [];
      for (let i = 0; i < 5; i++) others.push(await open(port));
      await waitFor('idle sockets to be closed', () => others.filter((s) => s.closed === true).length >= 3, { timeoutMs: 5_000, intervalMs: 20 });
      expect(busy.closed).not.toBe(true);
      release();
      await waitFor('the held request to be answered', () => answer.includes('202'), { timeoutMs: 5_000, intervalMs: 20 });
    } finally {
      release();
      await api.app.close();
    }
  });
});
