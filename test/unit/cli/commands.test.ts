import { describe, expect, it } from 'vitest';
import { runEditConfig, parseSetting, type EditConfigOptions } from '../../../src/cli/cmd-config.js';
import { runReinit, runReload, runRestart } from '../../../src/cli/cmd-member.js';
import { runPause } from '../../../src/cli/cmd-pause.js';
import { runRemove } from '../../../src/cli/cmd-remove.js';
import { diffLines, mergePatch, renderDiff } from '../../../src/cli/diff.js';
import { FakeIo, FakeWorld, errorAnswer, makeCtx, text } from './fakes.js';

const EDIT: EditConfigOptions = { set: [], pg: [], force: true, readStdin: async () => '' };

describe('agentctl pause / resume', () => {
  it('PATCHes pause on the leader and waits until every member reports it', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => {
      if (req.method !== 'PATCH') return undefined;
      w.config = { ...w.config!, pause: true };
      // The members notice at their next tick: b and c now, a a little later.
      for (const n of ['b', 'c']) w.member(n).status = { ...w.member(n).status, pause: true };
      setImmediate(() => setImmediate(() => { w.member('a').status = { ...w.member('a').status, pause: true }; }));
      return text(200, '{}');
    });
    const ctx = makeCtx(w);
    expect(await runPause(ctx, true, { wait: true })).toBe(0);
    expect(w.requests).toEqual([{ method: 'PATCH', url: '/config', member: 'a', body: { pause: true } }]);
    expect(ctx.io.stderr).toContain('Waiting for a, b, c to report pause...');
    expect(ctx.io.stdout).toBe('Success: cluster management is paused\n');
  });

  it('refuses to pause a paused cluster and to resume a running one', async () => {
    const w = new FakeWorld();
    await expect(runPause(makeCtx(w), false, { wait: false })).rejects.toMatchObject({ kind: 'refused', message: 'cluster demo is not paused' });
    w.config = { ...w.config!, pause: true };
    await expect(runPause(makeCtx(w), true, { wait: false })).rejects.toMatchObject({ kind: 'refused', message: 'cluster demo is already paused' });
  });

  it('resumes with pause: null and names the members that do not report it in time', async () => {
    const w = new FakeWorld();
    w.config = { ...w.config!, pause: true };
    for (const m of w.members.values()) m.status = { ...m.status, pause: true };
    w.handlers.push((req) => {
      if (req.method !== 'PATCH') return undefined;
      w.config = { ...w.config!, pause: false };
      for (const n of ['a', 'b']) w.member(n).status = { ...w.member(n).status, pause: undefined };
      return text(200, '{}');
    });
    await expect(runPause(makeCtx(w), false, { wait: true })).rejects.toMatchObject({
      kind: 'failed', message: 'cluster management is resumed in etcd, but c did not report it in time',
    });
    expect(w.requests[0]?.body).toEqual({ pause: null });
  });

  it('goes on to the next member when the leader does not answer', async () => {
    const w = new FakeWorld();
    w.member('a').status = null;
    w.handlers.push((req, member) => (req.method === 'PATCH' && member === 'a' ? Promise.reject(new Error('boom')) : undefined));
    const ctx = makeCtx(w);
    expect(await runPause(ctx, true, { wait: false })).toBe(0);
    expect(w.requests.map((r) => r.member)).toEqual(['a', 'b']);
  });
});

describe('agentctl edit-config', () => {
  it('shows the diff and PATCHes only what changed', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    expect(await runEditConfig(ctx, { ...EDIT, set: ['loop_wait=1', 'check_timeline=on'], pg: ['work_mem=8MB'] })).toBe(0);
    expect(w.requests[0]?.body).toEqual({ loop_wait: 1, check_timeline: true, postgresql: { parameters: { work_mem: '8MB' } } });
    expect(ctx.io.stdout).toContain('- loop_wait: 2\n+ loop_wait: 1');
    expect(ctx.io.stdout).toContain('+     work_mem: 8MB');
    expect(ctx.io.stderr).toContain('Configuration changed');
  });

  it('deletes a key set to null and merges an --apply file', async () => {
    const w = new FakeWorld();
    w.config = { ...w.config!, postgresql: { ...w.config!.postgresql, parameters: { work_mem: '4MB', max_connections: 100 } } };
    const ctx = makeCtx(w);
    await runEditConfig(ctx, { ...EDIT, pg: ['work_mem=null'], apply: '-', readStdin: async () => 'ttl: 20\nretry_timeout: 5\n' });
    expect(w.requests[0]?.body).toEqual({ ttl: 20, retry_timeout: 5, postgresql: { parameters: { work_mem: null } } });
  });

  it('refuses an invalid result and changes nothing', async () => {
    const w = new FakeWorld();
    await expect(runEditConfig(makeCtx(w), { ...EDIT, set: ['ttl=1'] })).rejects.toMatchObject({
      kind: 'refused', message: expect.stringMatching(/^the new configuration is invalid: ttl: /),
    });
    expect(w.requests).toEqual([]);
  });

  it.each([['failsafe_mode=true', 'failsafe_mode'], ['member_slots_ttl=600', 'member_slots_ttl'], ['slots.dr.type=physical', 'slots']])(
    'refuses a key the agent does not act on (%s) and changes nothing (issue 22)', async (setting, key) => {
      const w = new FakeWorld();
      await expect(runEditConfig(makeCtx(w), { ...EDIT, set: [setting] })).rejects.toMatchObject({
        kind: 'refused', message: expect.stringContaining(`${key}: not supported yet: `),
      });
      expect(w.requests).toEqual([]);
    });

  it('says when the timing is adjusted as Patroni does (issue 23)', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    expect(await runEditConfig(ctx, { ...EDIT, set: ['loop_wait=9'] })).toBe(0);
    expect(ctx.io.stderr).toContain('Warning: ttl: loop_wait + 2 * retry_timeout <= ttl is violated (9 + 2 * 4 > 10): loop_wait adjusted from 9 to 2');
  });

  it('accepts the "off" values of refused features (synchronous_mode=false, slots={})', async () => {
    const w = new FakeWorld();
    expect(await runEditConfig(makeCtx(w), { ...EDIT, set: ['synchronous_mode=false', 'failsafe_mode=false', 'slots={}', 'ttl=12'] })).toBe(0);
  });

  it('asks for confirmation; "n" or no stdin leaves the config alone', async () => {
    const w = new FakeWorld();
    await expect(runEditConfig(makeCtx(w, { io: new FakeIo(['n']) }), { ...EDIT, force: false, set: ['ttl=20'] }))
      .rejects.toMatchObject({ kind: 'refused', message: 'aborted: not confirmed' });
    await expect(runEditConfig(makeCtx(w), { ...EDIT, force: false, set: ['ttl=20'] }))
      .rejects.toMatchObject({ kind: 'refused', hint: 'answer the question in a terminal, or pass --force to skip it' });
    expect(w.requests).toEqual([]);
    const yes = makeCtx(w, { io: new FakeIo(['y']) });
    expect(await runEditConfig(yes, { ...EDIT, force: false, set: ['ttl=20'] })).toBe(0);
    expect(yes.io.questions).toEqual(['Apply these changes? [y/N]: ']);
    expect(w.config?.ttl).toBe(20);
  });

  it('says "Not changed" when nothing changes, and needs a terminal for the editor', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    expect(await runEditConfig(ctx, { ...EDIT, set: ['ttl=10'] })).toBe(0);
    expect(ctx.io.stderr).toBe('Not changed\n');
    await expect(runEditConfig(makeCtx(w), EDIT)).rejects.toMatchObject({ kind: 'usage' });
    const edited = makeCtx(w, { io: new FakeIo([], true), edit: async (t) => t.replace('ttl: 10', 'ttl: 30') });
    expect(await runEditConfig(edited, EDIT)).toBe(0);
    expect(w.requests.at(-1)?.body).toEqual({ ttl: 30 });
  });

  it('reports a concurrent change (409) with what to do', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => (req.method === 'PATCH' ? errorAnswer(409, 'the configuration changed concurrently; read it again and retry') : undefined));
    await expect(runEditConfig(makeCtx(w), { ...EDIT, set: ['ttl=20'] })).rejects.toMatchObject({ kind: 'failed', hint: 'run edit-config again' });
  });

  it('reads values as YAML', () => {
    expect(parseSetting('a.b=5')).toEqual({ path: ['a', 'b'], value: 5 });
    expect(parseSetting('x=8MB')).toEqual({ path: ['x'], value: '8MB' });
    expect(parseSetting('x=')).toEqual({ path: ['x'], value: null });
    expect(parseSetting('x=[a, b]')).toEqual({ path: ['x'], value: ['a', 'b'] });
    expect(() => parseSetting('novalue')).toThrow('--set/--pg needs key=value, got "novalue"');
  });
});

describe('diff and merge patch', () => {
  it('computes the RFC 7386 patch between two configs', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: 1, b: { c: 4 }, e: [1, 2], f: 'x' }))
      .toEqual({ b: { c: 4, d: null }, e: [1, 2], f: 'x' });
  });

  it('shows changed lines with context', () => {
    const d = renderDiff(diffLines(['a', 'b', 'c', 'd', 'e', 'f', 'g'], ['a', 'b', 'c', 'D', 'e', 'f', 'g']), 1);
    expect(d).toBe('  c\n- d\n+ D\n  e\n');
  });
});

describe('agentctl restart / reinit / reload', () => {
  it('restarts the named members and reports each answer', async () => {
    const w = new FakeWorld();
    w.handlers.push((req, member) => {
      if (req.method !== 'POST') return undefined;
      return member === 'b' ? text(200, 'restarted successfully') : errorAnswer(503, 'restart failed: timeout');
    });
    const ctx = makeCtx(w);
    expect(await runRestart(ctx, { members: ['b', 'c'], pending: true, force: true })).toBe(1);
    expect(w.requests.map((r) => [r.member, r.url, r.body])).toEqual([['b', '/restart', { restart_pending: true }], ['c', '/restart', { restart_pending: true }]]);
    expect(ctx.io.stdout).toBe('b: restarted successfully\n');
    expect(ctx.io.stderr).toContain('c: restart failed: restart failed: timeout (HTTP 503)');
  });

  it('treats "conditions not satisfied" as nothing to do', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => (req.method === 'POST' ? errorAnswer(503, 'restart conditions are not satisfied: no restart pending') : undefined));
    const ctx = makeCtx(w);
    expect(await runRestart(ctx, { members: ['b'], pending: true, force: true })).toBe(0);
    expect(ctx.io.stdout).toContain('b: not restarted: restart conditions are not satisfied');
  });

  it('refuses unknown members before touching any', async () => {
    const w = new FakeWorld();
    await expect(runRestart(makeCtx(w), { members: ['b', 'zz'], pending: false, force: true })).rejects.toMatchObject({ kind: 'refused', message: 'unknown member "zz" in cluster demo' });
    await expect(runReinit(makeCtx(w), { member: 'zz', force: true, fromLeader: false, wait: false })).rejects.toMatchObject({ kind: 'refused' });
    expect(w.requests).toEqual([]);
  });

  it('refuses to reinitialize the leader and sends force/from_leader for a replica', async () => {
    const w = new FakeWorld();
    await expect(runReinit(makeCtx(w), { member: 'a', force: true, fromLeader: false, wait: false })).rejects.toMatchObject({
      message: 'a is the leader; a leader cannot be reinitialized',
    });
    w.handlers.push((req) => (req.method === 'POST' ? text(200, 'reinitialize started') : undefined));
    const ctx = makeCtx(w);
    expect(await runReinit(ctx, { member: 'b', force: true, fromLeader: true, wait: false })).toBe(0);
    expect(w.requests[0]).toMatchObject({ member: 'b', url: '/reinitialize', body: { force: true, from_leader: true } });
  });

  it('reloads every member when none is named', async () => {
    const w = new FakeWorld();
    w.handlers.push((req) => (req.method === 'POST' ? text(202, 'reload scheduled') : undefined));
    const ctx = makeCtx(w);
    expect(await runReload(ctx, { members: [], force: true })).toBe(0);
    expect(w.requests.map((r) => r.member)).toEqual(['a', 'b', 'c']);
  });

  it('reports a member whose agent is down and goes on', async () => {
    const w = new FakeWorld();
    w.member('b').status = null;
    w.handlers.push((req, member) => (req.method === 'POST' && member !== 'b' ? text(202, 'reload scheduled') : undefined));
    const ctx = makeCtx(w);
    expect(await runReload(ctx, { members: ['b', 'c'], force: true })).toBe(1);
    expect(ctx.io.stderr).toContain('b: member b: connection to http://10.0.0.2:8008/reload refused (is the agent running?)');
    expect(ctx.io.stdout).toBe('c: reload scheduled\n');
  });
});

describe('agentctl remove', () => {
  it('needs the scope on the command line and typed again (and the leader\'s name)', async () => {
    const w = new FakeWorld();
    await expect(runRemove(makeCtx(w), { scope: 'other', force: false })).rejects.toMatchObject({ kind: 'usage' });
    await expect(runRemove(makeCtx(w, { io: new FakeIo(['demox']) }), { scope: 'demo', force: false }))
      .rejects.toMatchObject({ kind: 'refused', message: 'aborted: "demox" is not "demo"' });
    await expect(runRemove(makeCtx(w, { io: new FakeIo(['demo', 'b']) }), { scope: 'demo', force: false }))
      .rejects.toMatchObject({ message: 'aborted: "b" is not "a"' });
    expect(w.removed).toBe(false);
    const ok = makeCtx(w, { io: new FakeIo(['demo', 'a']) });
    expect(await runRemove(ok, { scope: 'demo', force: false })).toBe(0);
    expect(ok.io.stdout).toBe('Removed every key under /service/demo/\n');
    expect(w.removed).toBe(true);
  });

  it('does not ask with --force', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    expect(await runRemove(ctx, { scope: 'demo', force: true })).toBe(0);
    expect(ctx.io.questions).toEqual([]);
    expect(w.removed).toBe(true);
  });
});
