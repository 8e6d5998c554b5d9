// agentctl restart-agent (issue 21): one member after the other, the leader last, each waited for
// until its new process (a new pid on GET /agent) answers healthy.
import { describe, expect, it } from 'vitest';
import { rollingOrder, runRestartAgent } from '../../../src/cli/cmd-restart-agent.js';
import { FakeWorld, errorAnswer, json, makeCtx, text } from './fakes.js';

/** Each member's agent: POST /restart-agent makes GET /agent answer a new pid after a short gap. */
function agents(w: FakeWorld, opts: { neverBack?: string } = {}): Map<string, number> {
  const pids = new Map([...w.members.keys()].map((n, i) => [n, 100 + i]));
  const gone = new Set<string>();
  w.handlers.push((req, member) => {
    const path = new URL(req.url).pathname;
    if (path === '/agent' && req.method === 'GET') {
      if (gone.has(member)) return errorAnswer(503, 'starting');
      return json(200, { pid: pids.get(member), started_at: '2026-01-01T00:00:00Z', version: 'pg-ha-agent/test' });
    }
    if (path === '/restart-agent' && req.method === 'POST') {
      gone.add(member);
      setImmediate(() => {
        if (opts.neverBack === member) return;
        pids.set(member, (pids.get(member) ?? 0) + 1000);
        gone.delete(member);
      });
      return text(202, 'restarting the agent in place');
    }
    if (path === '/health' && req.method === 'GET') return json(200, {});
    return undefined;
  });
  return pids;
}

describe('agentctl restart-agent', () => {
  it('orders replicas by name, then the leader', () => {
    const w = new FakeWorld(['c', 'a', 'b']);
    expect(rollingOrder(w.view(), ['a', 'b', 'c'])).toEqual(['b', 'c', 'a']);
    expect(rollingOrder(w.view(), ['a', 'a'])).toEqual(['a']);
  });

  it('--all restarts every member in place, the leader last, and waits for each new process', async () => {
    const w = new FakeWorld();
    const pids = agents(w);
    const ctx = makeCtx(w);
    expect(await runRestartAgent(ctx, { members: [], all: true, force: true })).toBe(0);
    expect(w.requests.map((r) => `${r.member} ${r.method} ${r.url}`)).toEqual(['b POST /restart-agent', 'c POST /restart-agent', 'a POST /restart-agent']);
    expect(w.requests[0]?.body).toEqual({});
    expect(ctx.io.stderr).toMatch(/\[1\/3\] b \(replica, pid 101\)[\s\S]*\[3\/3\] a \(leader, pid 100\)/);
    expect(ctx.io.stdout).toMatch(/a: agent restarted in place in [\d.]+ s \(pid 100 -> 1100\); leader key re-attached, no failover/);
    expect(ctx.io.stdout).toContain('restarted the agent in place on 3 members; no failover');
    expect(pids.get('c')).toBe(1102);
  });

  it('stops at the first member whose new process does not come back, leaving the rest untouched', async () => {
    const w = new FakeWorld();
    agents(w, { neverBack: 'b' });
    const ctx = makeCtx(w, { timeScale: 0.001 });
    await expect(runRestartAgent(ctx, { members: [], all: true, force: true })).rejects.toMatchObject({ kind: 'failed', message: expect.stringContaining('b: the new agent process did not answer /health 200') });
    expect(w.requests.map((r) => r.member)).toEqual(['b']);
  });

  it('reports a refusal (a job runs) and needs names or --all', async () => {
    const w = new FakeWorld();
    agents(w);
    w.handlers.unshift((req) => (new URL(req.url).pathname === '/restart-agent' ? errorAnswer(409, 'a clone job is running') : undefined));
    await expect(runRestartAgent(makeCtx(w), { members: ['c'], all: false, force: true })).rejects.toMatchObject({ message: 'c: restart in place refused: a clone job is running (HTTP 409)' });
    await expect(runRestartAgent(makeCtx(w), { members: [], all: false, force: true })).rejects.toMatchObject({ kind: 'usage' });
    await expect(runRestartAgent(makeCtx(w), { members: ['a'], all: true, force: true })).rejects.toMatchObject({ kind: 'usage' });
  });
});
