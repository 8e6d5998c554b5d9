// GET /agent and POST /restart-agent (issue 21, docs/agent-restart.md).
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { scenario, testApi, testConfig } from './fixtures.js';

const clock = new FakeClock();
const dcs = createFakeDcs({ scope: 'demo', name: 'a', ttlSec: 30, clock });
const agentProcess = { pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', version: 'pg-ha-agent/test' };
const json = { 'content-type': 'application/json' };

describe('restart in place over the rest api', () => {
  const requests: { force: boolean }[] = [];
  let refuse = false;
  const api = testApi({
    config: testConfig(), clock, dcs, status: scenario('leader', clock), agentProcess,
    requestAgentRestart: (req) => {
      requests.push(req);
      return refuse ? { accepted: false, status: 409, reason: 'a clone job is running' } : { accepted: true };
    },
  });
  afterAll(() => api.app.close());

  it('GET /agent names the process that answers', async () => {
    const res = await api.app.inject({ url: '/agent' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ pid: 4242, started_at: '2026-01-01T00:00:00.000Z', version: 'pg-ha-agent/test' });
  });

  it('POST /restart-agent answers 202 before the agent exits', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/restart-agent', headers: json, payload: {} });
    expect(res.statusCode).toBe(202);
    expect(res.body).toContain('restarting the agent in place (pid 4242)');
    const forced = await api.app.inject({ method: 'POST', url: '/restart-agent', headers: json, payload: { force: true } });
    expect(forced.statusCode).toBe(202);
    expect(requests).toEqual([{ force: false }, { force: true }]);
  });

  it('needs a JSON body type, and rejects unknown fields', async () => {
    expect((await api.app.inject({ method: 'POST', url: '/restart-agent' })).statusCode).toBe(415);
    // A text body is refused before the route (the app's body parsers), either way never accepted.
    expect([400, 415]).toContain((await api.app.inject({ method: 'POST', url: '/restart-agent', headers: { 'content-type': 'text/plain' }, payload: 'x' })).statusCode);
    expect((await api.app.inject({ method: 'POST', url: '/restart-agent', headers: json, payload: { now: true } })).statusCode).toBe(400);
  });

  it('passes a refusal on (409 while a job runs)', async () => {
    refuse = true;
    const res = await api.app.inject({ method: 'POST', url: '/restart-agent', headers: json, payload: {} });
    refuse = false;
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: 'a clone job is running' });
  });
});

describe('restart in place behind authentication', () => {
  const api = testApi({
    config: testConfig('a', { authentication: { username: 'u', password: 'p' } }), clock, dcs, status: scenario('leader', clock), agentProcess,
    requestAgentRestart: () => ({ accepted: true }),
  });
  afterAll(() => api.app.close());

  it('POST /restart-agent needs credentials; GET /agent does not', async () => {
    expect((await api.app.inject({ method: 'POST', url: '/restart-agent', headers: json, payload: {} })).statusCode).toBe(401);
    const ok = await api.app.inject({ method: 'POST', url: '/restart-agent', headers: { ...json, authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }, payload: {} });
    expect(ok.statusCode).toBe(202);
    expect((await api.app.inject({ url: '/agent' })).statusCode).toBe(200);
  });
});
