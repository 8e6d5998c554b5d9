// Bad requests: each gets its documented status and a message naming what is wrong, no stack
// trace ever, and the API keeps answering health checks afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import type { FakeCluster, TestApi } from './fixtures.js';
import { fakeCluster, primaryPg, snapshot, testApi, testConfig } from './fixtures.js';

const AUTH = { username: 'admin', password: 's3cret-pass' };
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const GOOD = basic(AUTH.username, AUTH.password);

interface Case {
  readonly name: string;
  readonly req: InjectOptions;
  readonly status: number;
  readonly error: RegExp;
}

const auth = { authorization: GOOD };
// A string body is declared JSON as our clients declare it; objects get it from inject().
const post = (url: string, payload: InjectOptions['payload'] | undefined, headers: Record<string, string> = auth): InjectOptions =>
  (payload === undefined ? { method: 'POST', url, headers }
    : { method: 'POST', url, payload, headers: typeof payload === 'string' ? { 'content-type': 'application/json', ...headers } : headers });

const CASES: readonly Case[] = [
  { name: 'bad JSON', req: post('/switchover', '{"leader": "a",'), status: 400, error: /^request body is not valid JSON: / },
  { name: 'body is not an object', req: post('/switchover', '[1, 2]'), status: 400, error: /^request body must be a JSON object$/ },
  { name: 'no body where one is required', req: { method: 'POST', url: '/switchover', headers: auth }, status: 400,
    error: /^request body must be a JSON object$/ },
  { name: 'wrong type', req: post('/switchover', { leader: 5 }), status: 400, error: /^field 'leader' must be of type string or null$/ },
  { name: 'unknown field', req: post('/switchover', { leader: 'a', candidat: 'b' }), status: 400, error: /^unknown field 'candidat'$/ },
  { name: '__proto__ key', req: post('/switchover', '{"leader": "a", "__proto__": {"x": 1}}'), status: 400, error: /__proto__/ },
  { name: 'switchover without leader', req: post('/switchover', { candidate: 'b' }), status: 400,
    error: /^Switchover could be performed only from a specific leader$/ },
  { name: 'failover without candidate', req: post('/failover', {}), status: 400,
    error: /^Failover could be performed only to a specific candidate$/ },
  // Patroni checks the candidate before anything else (its behave suite sends {"foo": "bar"}).
  { name: 'failover with only an unknown field', req: post('/failover', { foo: 'bar' }), status: 400,
    error: /^Failover could be performed only to a specific candidate$/ },
  { name: 'switchover to the leader itself', req: post('/switchover', { leader: 'a', candidate: 'a' }), status: 400,
    error: /^Switchover target and source are the same$/ },
  { name: 'unknown member', req: post('/switchover', { leader: 'a', candidate: 'zz' }), status: 412, error: /^candidate does not exists$/ },
  { name: 'not the leader', req: post('/switchover', { leader: 'b', candidate: 'c' }), status: 412, error: /^leader name does not match$/ },
  { name: 'schedule in the past', req: post('/switchover', { leader: 'a', candidate: 'b', scheduled_at: '2025-12-31T23:00:00Z' }),
    status: 422, error: /^Cannot schedule switchover in the past$/ },
  { name: 'schedule without time zone', req: post('/switchover', { leader: 'a', scheduled_at: '2026-01-02T10:00:00' }),
    status: 422, error: /^Timezone information is mandatory for the scheduled switchover$/ },
  { name: 'unparsable schedule', req: post('/switchover', { leader: 'a', scheduled_at: 'tomorrow at noon' }), status: 422,
    error: /^Unable to parse scheduled timestamp.*'tomorrow at noon'/ },
  { name: 'impossible date', req: post('/switchover', { leader: 'a', scheduled_at: '2026-02-30T10:00:00Z' }), status: 422,
    error: /^Unable to parse scheduled timestamp/ },
  { name: 'oversized body', req: post('/switchover', JSON.stringify({ leader: 'x'.repeat(100_000) })), status: 413,
    error: /^request body is larger than 65536 bytes$/ },
  { name: 'bad lag unit', req: { method: 'GET', url: '/replica?lag=16XB' }, status: 400,
    error: /^query parameter lag must be a number of bytes or a size with a unit B, kB, MB, GB or TB \(e\.g\. 16MB\), got '16XB'$/ },
  { name: 'bad readiness mode', req: { method: 'GET', url: '/readiness?mode=fast' }, status: 400, error: /query parameter mode/ },
  { name: 'missing auth', req: post('/reload', undefined, {}), status: 401, error: /^no auth header received$/ },
  { name: 'wrong password', req: post('/reload', undefined, { authorization: basic('admin', 'guess') }), status: 401,
    error: /^not authenticated$/ },
  { name: 'wrong user', req: post('/reload', undefined, { authorization: basic('root', AUTH.password) }), status: 401,
    error: /^not authenticated$/ },
  { name: 'not basic auth', req: post('/reload', undefined, { authorization: 'Bearer abc' }), status: 401, error: /^not authenticated$/ },
  { name: 'negative restart timeout', req: post('/restart', { timeout: -5 }), status: 400,
    error: /^Timeout should be a positive number of seconds/ },
  { name: 'bad restart role', req: post('/restart', { role: 'leader' }), status: 400,
    error: /^field 'role' must be one of "primary", "master", "replica", "standby_leader"$/ },
  { name: 'bad postgres_version', req: post('/restart', { postgres_version: 'fifteen' }), status: 400,
    error: /^Invalid PostgreSQL version format/ },
  { name: 'reinitialize force not boolean', req: post('/reinitialize', { force: 'yes' }), status: 400,
    error: /^field 'force' must be of type boolean$/ },
  { name: 'config with a wrong type', req: { method: 'PATCH', url: '/config', payload: { ttl: 'abc' }, headers: auth },
    status: 400, error: /^invalid configuration: ttl: expected an integer, got a string \("abc"\)$/ },
  { name: 'config with an unknown key', req: { method: 'PATCH', url: '/config', payload: { ttl: 30, tll: 20 }, headers: auth },
    status: 400, error: /^invalid configuration: tll: unknown key/ },
  { name: 'config with a ttl below the minimum', req: { method: 'PATCH', url: '/config', payload: { ttl: 2 }, headers: auth },
    status: 400, error: /^invalid configuration: ttl: must be at least 4 seconds, got 2$/ },
  { name: 'empty config patch', req: { method: 'PATCH', url: '/config', payload: {}, headers: auth }, status: 400,
    error: /^request body must not be empty$/ },
  { name: 'unknown endpoint', req: { method: 'GET', url: '/nope' }, status: 404, error: /^no such endpoint: GET \/nope$/ },
];

let fc: FakeCluster;
let api: TestApi;

beforeAll(async () => {
  fc = await fakeCluster();
  const status = snapshot(fc.clock, { local: primaryPg(), cluster: await fc.nodes.a.snapshot(), holdsLeader: true,
    leaseValidUntilMs: fc.clock.monoMs() + 3_600_000 });
  api = testApi({ config: testConfig('a', { authentication: AUTH }), clock: fc.clock, dcs: fc.nodes.a, status,
    requestRestart: async () => ({ kind: 'restarted' }), requestReload: async () => undefined });
});
afterAll(async () => {
  await api.app.close();
});

describe('malformed and refused requests', () => {
  it.each(CASES)('$name -> $status', async ({ req, status, error }) => {
    const res = await api.app.inject(req);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(error);
    expect(res.body).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
    if (status === 401) expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
  });

  it('there are at least 15 of them and nothing was written to etcd', async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
    const view = await fc.nodes.b.snapshot();
    expect(view.failover).toBeNull();
    expect(view.config?.value.ttl).toBe(30);
  });

  it('the agent keeps serving afterwards', async () => {
    await Promise.all(CASES.map((c) => api.app.inject(c.req)));
    expect((await api.app.inject({ method: 'OPTIONS', url: '/' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/patroni' })).statusCode).toBe(200);
    const ok = await api.app.inject({ method: 'POST', url: '/reload', headers: auth });
    expect([ok.statusCode, ok.body]).toEqual([202, 'reload scheduled']);
  });

  it('patronictl (User-Agent Patroni/...) gets the bare Patroni sentence as text, as from Patroni', async () => {
    const ua = { 'user-agent': 'Patroni/3.0.2 Python/3.11.2 Linux' };
    const res = await api.app.inject(post('/switchover', '{"leader": "a", "candidate": "zz", "scheduled_at": null}', { ...auth, ...ua }));
    expect(res.statusCode).toBe(412);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('candidate does not exists');
    const denied = await api.app.inject(post('/reload', undefined, ua));
    expect([denied.statusCode, denied.body]).toEqual([401, 'no auth header received']);
  });

  it('passwords never reach the log, right or wrong', async () => {
    await api.app.inject(post('/reload', undefined, { authorization: basic('admin', 'wrong-guess-77') }));
    await api.app.inject(post('/reload', undefined));
    const log = api.lines.join('');
    expect(log).toMatch(/request denied/);
    expect(log).not.toMatch(/s3cret-pass|wrong-guess-77/);
    expect(log).not.toContain(Buffer.from('admin:wrong-guess-77').toString('base64'));
    expect(log).not.toContain(GOOD.slice(6));
  });
});
