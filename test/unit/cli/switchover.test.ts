import { describe, expect, it } from 'vitest';
import { runFailover, runSwitchover, type SwitchoverOptions } from '../../../src/cli/cmd-switchover.js';
import { parseSchedule } from '../../../src/cli/schedule.js';
import { FakeWorld, errorAnswer, makeCtx, text, type FakeMember } from './fakes.js';

const SO: SwitchoverOptions = { force: true, wait: false, cancel: false };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setStatus(m: FakeMember, over: Record<string, unknown>, primary?: number | null): void {
  m.status = { ...(m.status ?? {}), ...over };
  if (primary !== undefined) m.primary = primary;
}

/** What the agents do for a switchover from `from` to `to`, step by step. */
async function agentsSwitch(w: FakeWorld, from: string, to: string): Promise<void> {
  w.failover = { leader: from, member: to };
  for (let i = 0; i < 3; i++) await tick();
  setStatus(w.member(from), { pg_ha_agent: { last_decision: { reason: `switchover to ${to}: member ${to} is healthy at wal 5000000` } } });
  for (let i = 0; i < 3; i++) await tick();
  setStatus(w.member(from), { state: 'stopped' }, 503);
  for (let i = 0; i < 3; i++) await tick();
  w.leader = null;
  for (let i = 0; i < 3; i++) await tick();
  w.leader = to;
  setStatus(w.member(to), { role: 'primary', timeline: 2 }, 200);
  w.failover = null;
  for (let i = 0; i < 3; i++) await tick();
  setStatus(w.member(from), { state: 'running', role: 'replica', replication_state: 'streaming', timeline: 2 });
}

describe('agentctl switchover', () => {
  it('checks the candidate, sends POST /switchover to the leader and shows each phase', async () => {
    const w = new FakeWorld();
    w.handlers.push(async (req, member) => {
      if (req.method !== 'POST' || !req.url.endsWith('/switchover')) return undefined;
      expect(member).toBe('a');
      await agentsSwitch(w, 'a', 'b');
      return text(200, 'Successfully switched over to "b"');
    });
    const ctx = makeCtx(w);
    expect(await runSwitchover(ctx, { ...SO, candidate: 'b' })).toBe(0);
    expect(w.requests.find((r) => r.url === '/switchover')?.body).toEqual({ leader: 'a', candidate: 'b' });
    const err = ctx.io.stderr;
    expect(err).toContain('Candidate check: b: healthy, streaming, lag 0 bytes');
    for (const phase of ['request recorded in etcd', 'a: switchover job started', 'a: postgresql stopped', 'leader key released by a',
      'b took the leader key', 'b: promoted, running as primary on timeline 2', 'a: running as a replica, streaming from b']) {
      expect(err).toContain(phase);
    }
    expect(ctx.io.stdout).toContain('Successfully switched over to "b"');
    expect(ctx.io.stdout).toMatch(/Switched over from a to b: writes accepted again .* after the request\./);
    expect(ctx.io.stdout).toMatch(/Writes were unavailable for \d+ ms \(probed through the REST \/primary checks every 20 ms\)\./);
    expect(ctx.io.stdout).toContain('a streams from b.');
  });

  it('lets the leader pick the best candidate when none is named', async () => {
    const w = new FakeWorld();
    w.handlers.push(async (req) => {
      if (req.method !== 'POST') return undefined;
      await agentsSwitch(w, 'a', 'c');
      return text(200, 'Successfully switched over to "c"');
    });
    const ctx = makeCtx(w, { format: 'json' });
    expect(await runSwitchover(ctx, SO)).toBe(0);
    expect(w.requests[0]?.body).toEqual({ leader: 'a' });
    const summary = JSON.parse(ctx.io.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ action: 'switchover', from: 'a', to: 'c', old_leader_following: true, measured_on: 'rest' });
    expect(typeof summary['write_unavailable_ms']).toBe('number');
  });

  it('refuses an unknown candidate and lists the members', async () => {
    const w = new FakeWorld();
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'bb' })).rejects.toMatchObject({
      kind: 'refused', message: 'unknown member "bb" in cluster demo; did you mean "b"?', hint: 'members are: a, b, c (see agentctl list)',
    });
    expect(w.requests).toEqual([]);
  });

  it.each([
    ['not streaming', (w: FakeWorld) => setStatus(w.member('b'), { replication_state: undefined }), 'it is not streaming from the leader (replication_state none)'],
    ['lagging', (w: FakeWorld) => setStatus(w.member('b'), { xlog: { received_location: 1_000_000 } }), 'it lags 4000000 bytes behind the leader (maximum_lag_on_failover is 1048576)'],
    ['nofailover', (w: FakeWorld) => { w.member('b').view = { ...w.member('b').view, tags: { nofailover: true } }; }, 'tagged nofailover'],
    ['agent down', (w: FakeWorld) => { w.member('b').status = null; }, 'its agent does not answer on its REST API'],
  ])('refuses a candidate that is %s, naming why', async (_what, breakIt, reason) => {
    const w = new FakeWorld();
    breakIt(w);
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'refused', message: `candidate b is not eligible: ${reason}`,
    });
    expect(w.requests).toEqual([]);
  });

  it('refuses when no member can take over, with each member\'s reason', async () => {
    const w = new FakeWorld();
    setStatus(w.member('b'), { state: 'stopped' });
    w.member('c').view = { ...w.member('c').view, tags: { nofailover: true } };
    await expect(runSwitchover(makeCtx(w), SO)).rejects.toMatchObject({
      message: 'no member can take over: b: postgresql is stopped; c: tagged nofailover',
    });
  });

  it('refuses without a leader, naming the failover command', async () => {
    const w = new FakeWorld();
    w.leader = null;
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'refused', hint: 'agentctl failover --candidate <member> promotes a replica when there is no healthy leader',
    });
  });

  it('refuses a wrong --leader and a pending request', async () => {
    const w = new FakeWorld();
    await expect(runSwitchover(makeCtx(w), { ...SO, leader: 'b' })).rejects.toMatchObject({ message: 'b is not the leader of cluster demo (the leader is a)' });
    w.failover = { leader: 'a', member: 'c', scheduledAt: '2026-01-01T12:00:00Z' };
    await expect(runSwitchover(makeCtx(w), SO)).rejects.toMatchObject({
      message: 'a switchover is already scheduled at 2026-01-01T12:00:00Z', hint: 'cancel a scheduled switchover with agentctl switchover --cancel',
    });
  });

  it("reports the leader's refusal (412) as refused with its reason", async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => (req.method === 'POST' ? errorAnswer(412, 'switchover is not possible: no good candidates have been found') : undefined));
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'refused', message: 'switchover refused by a: switchover is not possible: no good candidates have been found',
    });
  });

  it('reports failed authentication with what to fix', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => (req.method === 'POST' ? errorAnswer(401, 'no auth header received') : undefined));
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'failed', message: 'member a refused the request: authentication failed (401)',
      hint: 'set restapi.authentication (username and password, as on the agents) in /etc/pg-ha-agent/node1.yml',
    });
  });

  it('asks before acting and stops when not confirmed', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    await expect(runSwitchover(ctx, { ...SO, force: false, candidate: 'b' })).rejects.toMatchObject({ message: 'no confirmation: stdin is closed' });
    expect(ctx.io.questions[0]).toBe('Are you sure you want to switchover cluster demo, demoting current leader a? [y/N]: ');
    expect(w.requests).toEqual([]);
  });

  it('schedules with scheduled_at and cancels with DELETE /switchover', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => {
      if (req.method === 'POST') return text(202, 'Switchover scheduled');
      if (req.method === 'DELETE') {
        w.failover = null;
        return text(200, 'scheduled switchover deleted');
      }
      return undefined;
    });
    const ctx = makeCtx(w);
    expect(await runSwitchover(ctx, { ...SO, candidate: 'b', scheduled: '2030-01-01T10:00:00+00:00' })).toBe(0);
    expect(w.requests[0]?.body).toEqual({ leader: 'a', candidate: 'b', scheduled_at: '2030-01-01T10:00:00.000Z' });
    expect(ctx.io.stdout).toBe('Switchover scheduled at 2030-01-01T10:00:00.000Z from a to b\n');
    w.failover = { leader: 'a', member: 'b', scheduledAt: '2030-01-01T10:00:00.000Z' };
    const c2 = makeCtx(w);
    expect(await runSwitchover(c2, { ...SO, cancel: true })).toBe(0);
    expect(c2.io.stdout).toBe('Scheduled switchover at 2030-01-01T10:00:00.000Z cancelled\n');
    await expect(runSwitchover(makeCtx(w), { ...SO, cancel: true })).rejects.toMatchObject({ kind: 'refused', message: 'no switchover is scheduled in cluster demo' });
  });

  it('--scheduled --wait shows the switchover when it happens', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => {
      if (req.method !== 'POST') return undefined;
      w.failover = { leader: 'a', member: 'b', scheduledAt: String((req.body as { scheduled_at: string }).scheduled_at) };
      setImmediate(() => { void agentsSwitch(w, 'a', 'b'); });
      return text(202, 'Switchover scheduled');
    });
    const ctx = makeCtx(w, { format: 'json' });
    expect(await runSwitchover(ctx, { ...SO, candidate: 'b', scheduled: '+3s', wait: true })).toBe(0);
    expect(ctx.io.stderr).toContain('Switchover scheduled at');
    expect(JSON.parse(ctx.io.stdout)).toMatchObject({ result: 'Switched over to "b"', from: 'a', to: 'b', old_leader_following: true });
  });

  it('keeps watching when the member answers "status unknown", and fails when the request vanishes', async () => {
    const w = new FakeWorld();
    w.handlers.push(async (req) => {
      if (req.method !== 'POST') return undefined;
      w.failover = { leader: 'a', member: 'b' };
      setImmediate(() => { void agentsSwitch(w, 'a', 'b'); });
      return errorAnswer(503, 'Switchover status unknown');
    });
    const ctx = makeCtx(w);
    expect(await runSwitchover(ctx, { ...SO, candidate: 'b' })).toBe(0);
    expect(ctx.io.stderr).toContain('a answered "Switchover status unknown"; still watching');
    const w2 = new FakeWorld();
    w2.handlers.push((req) => {
      if (req.method !== 'POST') return undefined;
      // The leader drops the request without switching over.
      w2.failover = { leader: 'a', member: 'b' };
      setImmediate(() => { w2.failover = null; });
      return errorAnswer(503, 'Switchover status unknown');
    });
    await expect(runSwitchover(makeCtx(w2), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'failed', message: 'the switchover did not happen: the request was cancelled, or dropped by the leader',
    });
  });

  it("fails with the leader's reason when it aborted the switchover (its member key says why)", async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => {
      if (req.method !== 'POST') return undefined;
      w.failover = { leader: 'a', member: 'b' };
      setImmediate(() => {
        w.failover = null;
        const a = w.member('a');
        a.view = { ...a.view, switchoverAborted: { to: 'b', reason: 'postgresql did not stop cleanly', at: new Date().toISOString() } };
      });
      return errorAnswer(503, 'Switchover status unknown');
    });
    await expect(runSwitchover(makeCtx(w), { ...SO, candidate: 'b' })).rejects.toMatchObject({
      kind: 'failed', message: 'the switchover did not happen: a aborted it and stays the leader: postgresql did not stop cleanly',
    });
  });

  it('reads --scheduled as ISO (with or without a zone), relative, or now', () => {
    const now = Date.UTC(2026, 0, 1, 10, 0, 0);
    expect(parseSchedule('2026-01-01T11:00:00Z', now)).toBe(Date.UTC(2026, 0, 1, 11, 0, 0));
    expect(parseSchedule('2026-01-01T13:00:00+02:00', now)).toBe(Date.UTC(2026, 0, 1, 11, 0, 0));
    expect(parseSchedule('2026-01-01T11:00:00', now)).toBe(new Date(2026, 0, 1, 11, 0, 0).getTime());
    expect(parseSchedule('+90s', now)).toBe(now + 90_000);
    expect(parseSchedule('+5m', now)).toBe(now + 300_000);
    expect(parseSchedule('now', now)).toBeNull();
    expect(() => parseSchedule('2025-01-01T10:00:00Z', now)).toThrow('--scheduled: 2025-01-01T10:00:00.000Z is in the past');
    expect(() => parseSchedule('tomorrow', now)).toThrow('--scheduled: cannot read "tomorrow" as a time');
  });
});

describe('agentctl failover', () => {
  it('refuses while the leader is healthy, pointing at switchover', async () => {
    const w = new FakeWorld();
    await expect(runFailover(makeCtx(w), { candidate: 'c', force: false })).rejects.toMatchObject({
      kind: 'refused', message: 'cluster demo has a healthy leader (a)',
      hint: 'use agentctl switchover --candidate c for a planned switchover, or failover --force',
    });
  });

  it('promotes the named candidate through its own API when the leader is gone', async () => {
    const w = new FakeWorld();
    w.member('a').status = null;
    w.member('a').primary = null;
    w.handlers.push(async (req, member) => {
      if (req.method !== 'POST') return undefined;
      expect(member).toBe('c');
      w.failover = { member: 'c' };
      for (let i = 0; i < 3; i++) await tick();
      w.leader = null;
      for (let i = 0; i < 3; i++) await tick();
      w.leader = 'c';
      w.failover = null;
      setStatus(w.member('c'), { role: 'primary', timeline: 2 }, 200);
      return text(200, 'Successfully failed over to "c"');
    });
    const ctx = makeCtx(w);
    expect(await runFailover(ctx, { candidate: 'c', force: true })).toBe(0);
    expect(w.requests[0]?.body).toEqual({ candidate: 'c' });
    expect(ctx.io.stderr).toContain('Failover of cluster demo to c: the leader a does not answer as a primary');
    expect(ctx.io.stderr).toContain('leader key of a expired or released');
    expect(ctx.io.stdout).toMatch(/Failed over from a to c: writes accepted again/);
  });

  it('refuses an ineligible or unknown candidate', async () => {
    const w = new FakeWorld();
    w.member('a').status = null;
    w.member('a').primary = null;
    w.member('c').view = { ...w.member('c').view, tags: { nofailover: true } };
    await expect(runFailover(makeCtx(w), { candidate: 'c', force: true })).rejects.toMatchObject({ message: 'candidate c is not eligible: tagged nofailover' });
    await expect(runFailover(makeCtx(w), { candidate: 'x', force: true })).rejects.toMatchObject({ message: 'unknown member "x" in cluster demo' });
  });
});
