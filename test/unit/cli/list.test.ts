import { describe, expect, it } from 'vitest';
import { runList, runTopology, serviceInfo } from '../../../src/cli/cmd-list.js';
import { clusterView } from '../api/fixtures.js';
import { runHistory, runShowConfig } from '../../../src/cli/cmd-config.js';
import { renderTable, terminalSafe } from '../../../src/cli/render.js';
import { FakeWorld, makeCtx } from './fakes.js';

describe('tables', () => {
  it('draws patronictl-style boxes with the title in the top border and numbers on the right', () => {
    expect(renderTable({ title: 'Cluster: x (1)', columns: ['Member', 'TL'], rows: [['a', '2'], ['bb', '10']], right: ['TL'] })).toBe([
      '+ Cluster: x (1) -+',
      '| Member |     TL |',
      '+--------+--------+',
      '| a      |      2 |',
      '| bb     |     10 |',
      '+--------+--------+',
      '',
    ].join('\n'));
  });

  it('drops control characters from etcd values (an escape sequence in a member name) (issue 13)', () => {
    const out = renderTable({ title: 'Cluster: \u001b]0;owned\u0007x', columns: ['Member'], rows: [['evil\u001b[2J\u001b[31mname\u009b\r']] });
    // eslint-disable-next-line no-control-regex -- looking for control characters is the test
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(out).toContain('| evil[2J[31mname ');
    expect(terminalSafe('a\tb\nc\u0000')).toBe('a\tb\nc');
  });

  it('separates rows when a cell has several lines (tags)', () => {
    const out = renderTable({ columns: ['M', 'Tags'], rows: [['a', 'x: 1\ny: 2'], ['b', '']] });
    expect(out).toContain('| a | x: 1 |\n|   | y: 2 |\n+---+------+\n| b |      |');
  });
});

describe('agentctl list', () => {
  it('shows members, the system identifier, lag in MB, tags and the service lines', async () => {
    const w = new FakeWorld();
    w.member('c').view = { ...w.member('c').view, receiveLsn: 5_000_000 - 3 * 1024 * 1024, tags: { nofailover: true } };
    w.config = { ...w.config!, pause: true };
    w.failover = { leader: 'a', member: 'b', scheduledAt: '2026-01-01T12:00:00.000Z' };
    const ctx = makeCtx(w);
    expect(await runList(ctx, { extended: false })).toBe(0);
    expect(ctx.io.stdout).toBe([
      '+ Cluster: demo (7300000000000000001) ----+----+-----------+------------------+',
      '| Member | Host     | Role    | State     | TL | Lag in MB | Tags             |',
      '+--------+----------+---------+-----------+----+-----------+------------------+',
      '| a      | 10.0.0.1 | Leader  | running   |  1 |           |                  |',
      '| b      | 10.0.0.2 | Replica | streaming |  1 |         0 |                  |',
      '| c      | 10.0.0.3 | Replica | streaming |  1 |         3 | nofailover: true |',
      '+--------+----------+---------+-----------+----+-----------+------------------+',
      ' Maintenance mode: on',
      ' Switchover scheduled at: 2026-01-01T12:00:00.000Z',
      '                     from: a',
      '                       to: b',
      '',
    ].join('\n'));
  });

  it('adds each member\'s last decision with --extended, and says when there is no leader', async () => {
    const w = new FakeWorld();
    w.leader = null;
    w.member('b').view = { ...w.member('b').view, reason: 'not promoting: member c is a better candidate' };
    const ctx = makeCtx(w);
    await runList(ctx, { extended: true });
    expect(ctx.io.stdout).toContain('| Last decision');
    expect(ctx.io.stdout).toContain('not promoting: member c is a better candidate');
    expect(ctx.io.stdout).toContain(' No leader: the leader key is absent');
  });

  it('says under the table which member backs off a failing job, and gives it in JSON', async () => {
    const w = new FakeWorld();
    const backoff = { job: 'rejoin', target: 'a', failures: 3, retryInSeconds: 17, error: 'pg_rewind from a failed (exit 1)' };
    w.member('c').view = { ...w.member('c').view, jobBackoff: backoff };
    const ctx = makeCtx(w);
    await runList(ctx, { extended: false });
    expect(ctx.io.stdout).toContain(' Backing off: c job rejoin (a) failed 3 times in a row, next try in 17 s: pg_rewind from a failed (exit 1)\n');
    const json = makeCtx(w, { format: 'json' });
    await runList(json, { extended: false });
    const members = (JSON.parse(json.io.stdout) as { members: Record<string, unknown>[] }).members;
    expect(members[2]?.['pending_job_backoff']).toEqual({ job: 'rejoin', target: 'a', failures: 3, retry_in_seconds: 17, last_error: 'pg_rewind from a failed (exit 1)' });
    expect(members[1]?.['pending_job_backoff']).toBeNull();
  });

  it('gives the same facts as JSON', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w, { format: 'json' });
    await runList(ctx, { extended: false });
    const data = JSON.parse(ctx.io.stdout) as Record<string, unknown>;
    expect(data).toMatchObject({ scope: 'demo', system_identifier: '7300000000000000001', leader: 'a', paused: false, scheduled_switchover: null });
    expect((data['members'] as unknown[])[1]).toMatchObject({ name: 'b', host: '10.0.0.2', port: 5432, role: 'replica', state: 'streaming', lag_bytes: 0 });
  });

  it('refuses an empty scope with a hint at the config', async () => {
    const w = new FakeWorld([]);
    w.leader = null;
    w.config = null;
    w.initialize = null;
    await expect(runList(makeCtx(w), { extended: false })).rejects.toMatchObject({
      kind: 'refused', message: 'no cluster "demo" in etcd (nothing under /service/demo/)',
    });
  });

  it('topology nests replicas under the member they replicate from', async () => {
    const w = new FakeWorld(['a', 'b', 'c', 'd']);
    w.member('d').view = { ...w.member('d').view, tags: { replicatefrom: 'c' } };
    const ctx = makeCtx(w);
    await runTopology(ctx);
    const names = ctx.io.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Member')).map((l) => l.split('|')[1]!.trimEnd());
    expect(names).toEqual([' a', ' + b', ' + c', '  + d']);
    const j = makeCtx(w, { format: 'json' });
    await runTopology(j);
    const tree = JSON.parse(j.io.stdout) as { members: { name: string; replicas: { name: string; replicas: { name: string }[] }[] }[] };
    expect(tree.members[0]?.name).toBe('a');
    expect(tree.members[0]?.replicas.map((r) => r.name)).toEqual(['b', 'c']);
    expect(tree.members[0]?.replicas[1]?.replicas.map((r) => r.name)).toEqual(['d']);
  });
});

describe('agentctl history and show-config', () => {
  it('prints the timeline history with LSNs in PostgreSQL notation', async () => {
    const w = new FakeWorld();
    w.history = [{ timeline: 1, switchLsn: 83886472, reason: 'manual failover/switchover', timestamp: '2026-01-01T10:00:00+00:00', newLeader: 'b' }];
    const ctx = makeCtx(w);
    await runHistory(ctx);
    expect(ctx.io.stdout).toContain('|  1 | 0/5000188 | manual failover/switchover | 2026-01-01T10:00:00+00:00 | b          |');
  });

  it('shows the dynamic configuration as YAML, or refuses when there is none', async () => {
    const w = new FakeWorld();
    const ctx = makeCtx(w);
    await runShowConfig(ctx);
    expect(ctx.io.stdout).toMatch(/^ttl: 10$/m);
    expect(ctx.io.stdout).toMatch(/^loop_wait: 2$/m);
    w.config = null;
    await expect(runShowConfig(makeCtx(w))).rejects.toMatchObject({ kind: 'refused', message: 'there is no configuration in etcd yet' });
  });
});

describe('agentctl list footer', () => {
  it("names a refused key of etcd's config and says the rest applies (issue 22)", () => {
    const reason = 'failsafe_mode: not supported yet: failsafe_mode would ...; this key is ignored, the rest of the configuration applies';
    const view = clusterView('a', { invalid: [{ key: 'config', reason, modRevision: 3, refusedKey: 'failsafe_mode' }, { key: 'sync', reason: 'not JSON' }] });
    expect(serviceInfo(view)).toEqual([`Warning: config: ${reason}`, 'Warning: sync has an invalid value and is ignored (not JSON)']);
  });
});
