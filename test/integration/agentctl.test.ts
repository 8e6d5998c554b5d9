// agentctl (dist/bin/agentctl.js) against a real 3-node cluster with REST basic auth: every command,
// its main error, planned switchovers (named and "the best") under a 20 ms writer, a scheduled
// switchover and its cancellation, pause/resume, and a manual failover after the leader is killed.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { freePort, makeTempDir, sleep, waitFor } from '../harness/index.js';
import {
  agentctl, startAgentCluster, Writer, type AgentCluster, type AgentNode, type CliResult,
} from '../support/agent-cluster.js';

const AUTH = { username: 'ops', password: 'ctl-secret-pw' };
let cluster: AgentCluster;
let leader: AgentNode;
let cfg: string;
const figures: Record<string, number | string | null> = {};

const ctl = (args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> => agentctl(cfg, args, opts);

function expectCode(r: CliResult, code: number): void {
  if (r.code !== code) throw new Error(`agentctl exited ${r.code}, expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

async function ctlJson<T>(args: readonly string[]): Promise<T> {
  const r = await ctl([...args, '-f', 'json']);
  expectCode(r, 0);
  return JSON.parse(r.stdout) as T;
}

interface Summary {
  to: string; from: string; write_unavailable_ms: number | null; measured_on: string | null;
  old_leader_following: boolean; rewind_seen: boolean; duration_ms: number; phases: { phase: string; at_ms: number }[];
}

/** Writes into a copy of node1's config with one section replaced. */
async function variantConfig(name: string, change: (c: Record<string, unknown>) => void): Promise<string> {
  const dir = await makeTempDir('agentctl-cfg');
  const c = parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
  change(c);
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, stringify(c));
  return file;
}

function logSize(node: AgentNode): number {
  return node.agent ? statSync(node.agent.logFile).size : 0;
}

function logSince(node: AgentNode, offset: number): string {
  return node.agent ? readFileSync(node.agent.logFile, 'utf8').slice(offset) : '';
}

/** A planned switchover under a writer; checks the Done-when conditions and returns the summary. */
async function switchoverUnderLoad(args: readonly string[], label: string): Promise<Summary> {
  const old = leader;
  const writer = new Writer(cluster.nodes, 20);
  await writer.prepare(old);
  writer.start();
  await waitFor('writes acknowledged', () => writer.acked.length >= 10);
  const marks = new Map(cluster.nodes.map((n) => [n.name, logSize(n)]));
  const t0 = performance.now();
  const r = await ctl([...args, '--force', '-f', 'json']);
  expectCode(r, 0);
  const summary = JSON.parse(r.stdout) as Summary;
  const next = await cluster.waitForLeader(60_000);
  expect(next.name).toBe(summary.to);
  expect(next.name).not.toBe(old.name);
  for (const n of cluster.others(next)) await cluster.waitStreamingFrom(n, next, 60_000);
  await sleep(300); // a few writes on the new leader after the handover
  await writer.stop();
  // No acknowledged row lost.
  const ids = writer.acked.map((a) => a.id);
  const found = await next.query<{ c: string }>('SELECT count(*) AS c FROM writes WHERE id = ANY($1::bigint[])', [ids]);
  expect(Number(found[0]?.c)).toBe(ids.length);
  // The old leader followed without pg_rewind.
  expect(summary.old_leader_following).toBe(true);
  expect(summary.rewind_seen).toBe(false);
  expect(logSince(old, marks.get(old.name) ?? 0)).not.toMatch(/pg_rewind/);
  expect(writer.acked.some((a) => a.node === next.name && a.atMs > t0)).toBe(true);
  figures[`${label}WriteGapMs`] = Math.round(writer.longestGapMs(t0));
  figures[`${label}AgentctlGapMs`] = summary.write_unavailable_ms;
  figures[`${label}MeasuredOn`] = summary.measured_on;
  figures[`${label}DurationMs`] = summary.duration_ms;
  leader = next;
  return summary;
}

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, restapiAuth: AUTH, logLevel: 'info', scope: 'ctltest' });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
  cfg = cluster.nodes[0]!.configPath;
});

afterAll(() => {
  console.log(`agentctl figures: ${JSON.stringify(figures)}`);
});

describe('agentctl on a real 3-node cluster', () => {
  it('lists the members with the system identifier; topology puts the leader first', async () => {
    const sysid = (await leader.status())?.['database_system_identifier'];
    const list = await ctlJson<{ leader: string; system_identifier: string; members: { name: string; role: string; state: string; timeline: number }[] }>(['list']);
    expect(list.leader).toBe(leader.name);
    expect(list.system_identifier).toBe(sysid);
    expect(list.members.map((m) => [m.name, m.role, m.state]).sort()).toEqual(cluster.nodes.map((n) =>
      [n.name, n === leader ? 'leader' : 'replica', n === leader ? 'running' : 'streaming']).sort());
    const table = await ctl(['list']);
    expectCode(table, 0);
    expect(table.stdout).toContain(`+ Cluster: ctltest (${String(sysid)})`);
    const topo = await ctl(['topology']);
    expectCode(topo, 0);
    expect(topo.stdout.split('\n')[3]).toContain(`| ${leader.name} `);
    expect(topo.stdout).toContain('| + ');
  });

  it('gives each main error with its exit code and what to do', async () => {
    const unknown = await ctl(['switchover', '--candidate', 'node9', '--force']);
    expectCode(unknown, 1);
    expect(unknown.stderr).toContain('unknown member "node9" in cluster ctltest');
    expect(unknown.stderr).toContain('members are: node1, node2, node3');

    const replica = cluster.others(leader)[0]!;
    replica.agent?.pause();
    try {
      const frozen = await ctl(['switchover', '--candidate', replica.name, '--force']);
      expectCode(frozen, 1);
      expect(frozen.stderr).toContain(`candidate ${replica.name} is not eligible: its agent does not answer on its REST API`);
    } finally {
      replica.agent?.resume();
    }
    const healthy = await ctl(['failover', '--candidate', replica.name]);
    expectCode(healthy, 1);
    expect(healthy.stderr).toContain(`cluster ctltest has a healthy leader (${leader.name})`);
    const reinitLeader = await ctl(['reinit', leader.name, '--force']);
    expectCode(reinitLeader, 1);
    expect(reinitLeader.stderr).toContain('a leader cannot be reinitialized');

    const wrongAuth = await variantConfig('badauth', (c) => { (c['restapi'] as Record<string, unknown>)['authentication'] = { username: 'ops', password: 'wrong-pw' }; });
    const denied = await agentctl(wrongAuth, ['pause']);
    expectCode(denied, 1);
    expect(denied.stderr).toContain('authentication failed (401)');
    expect(denied.stderr + denied.stdout).not.toContain('wrong-pw');

    const closed = await freePort();
    const noEtcd = await variantConfig('noetcd', (c) => { c['etcd3'] = { hosts: `127.0.0.1:${closed}` }; });
    const down = await agentctl(noEtcd, ['list']);
    expectCode(down, 1);
    expect(down.stderr).toContain(`agentctl: cannot reach etcd at 127.0.0.1:${closed} while reading the cluster state`);
    expect(down.stderr).toContain('check that etcd is running and that etcd3.hosts in');
    expect(down.stderr).not.toMatch(/\n\s+at /);
    figures['etcdDownErrorMs'] = Math.round(down.durationMs);

    expectCode(await ctl(['frobnicate']), 2);
    const noScope = await variantConfig('noscope', (c) => { delete c['scope']; });
    const cfgErr = await agentctl(noScope, ['list']);
    expectCode(cfgErr, 2);
    expect(cfgErr.stderr).toContain('scope: is required');

    expectCode(await ctl(['remove', 'otherscope']), 2);
    const notTyped = await ctl(['remove', 'ctltest'], { input: 'nope\n' });
    expectCode(notTyped, 1);
    expect(notTyped.stderr).toContain('aborted: "nope" is not "ctltest"');
    expect((await ctlJson<{ leader: string }>(['list'])).leader).toBe(leader.name);
  });

  it('edit-config shows the diff and changes the configuration; reload, restart and reinit act on members', async () => {
    const edit = await ctl(['edit-config', '--pg', 'work_mem=8MB', '--force']);
    expectCode(edit, 0);
    expect(edit.stdout).toContain('+     work_mem: 8MB');
    const shown = await ctlJson<{ postgresql: { parameters: Record<string, unknown> } }>(['show-config']);
    expect(shown.postgresql.parameters['work_mem']).toBe('8MB');
    // Every agent sees it in etcd (their GET /config serves the config key).
    await waitFor('the new config on every agent', async () => {
      const all = await Promise.all(cluster.nodes.map(async (n) => {
        const res = await fetch(`http://127.0.0.1:${n.apiPort}/config`, { signal: AbortSignal.timeout(1500) });
        return ((await res.json()) as { postgresql?: { parameters?: Record<string, unknown> } }).postgresql?.parameters?.['work_mem'];
      }));
      return all.every((v) => v === '8MB');
    });

    const reload = await ctl(['reload', '--force']);
    expectCode(reload, 0);
    expect(reload.stdout.trim().split('\n')).toHaveLength(3);

    const replica = cluster.others(leader)[0]!;
    const before = (await replica.status())?.postmaster_start_time;
    const restart = await ctl(['restart', replica.name, '--force']);
    expectCode(restart, 0);
    expect(restart.stdout).toContain(`${replica.name}: restarted successfully`);
    expect((await replica.status())?.postmaster_start_time).not.toBe(before);

    const t0 = performance.now();
    const reinit = await ctl(['reinit', replica.name, '--force', '--wait']);
    expectCode(reinit, 0);
    figures['reinitMs'] = Math.round(performance.now() - t0);
    await cluster.waitStreamingFrom(replica, leader, 60_000);
  });

  it('pause --wait and resume --wait reach every member', async () => {
    const p = await ctl(['pause', '--wait']);
    expectCode(p, 0);
    expect(p.stdout).toBe('Success: cluster management is paused\n');
    for (const n of cluster.nodes) expect((await n.status())?.['pause']).toBe(true);
    const again = await ctl(['pause']);
    expectCode(again, 1);
    expect(again.stderr).toContain('cluster ctltest is already paused');
    const best = await ctl(['switchover', '--force']);
    expectCode(best, 1);
    expect(best.stderr).toContain('in the paused state a switchover needs a named candidate');
    expect((await ctl(['list'])).stdout).toContain(' Maintenance mode: on');
    const r = await ctl(['resume', '--wait']);
    expectCode(r, 0);
    for (const n of cluster.nodes) expect((await n.status())?.['pause']).toBeUndefined();
  });

  it('switches over to a named candidate: one leader, both others stream from it, no rewind, no row lost', async () => {
    const candidate = cluster.others(leader)[1]!;
    const s = await switchoverUnderLoad(['switchover', '--candidate', candidate.name], 'named');
    expect(s.to).toBe(candidate.name);
    expect(s.phases.map((p) => p.phase)).toEqual(expect.arrayContaining(['job-started', 'key-taken', 'promoted', 'old-following']));
    const history = await ctlJson<{ new_leader: string }[]>(['history']);
    expect(history.at(-1)?.new_leader).toBe(candidate.name);
  });

  it('switches over to the best candidate chosen by the leader', async () => {
    const old = leader.name;
    const s = await switchoverUnderLoad(['switchover'], 'best');
    expect(s.from).toBe(old);
    expect(cluster.others(cluster.node(old)).map((n) => n.name)).toContain(s.to);
  });

  it('cancels a scheduled switchover', async () => {
    const sched = await ctl(['switchover', '--scheduled', '+120s', '--force']);
    expectCode(sched, 0);
    expect(sched.stdout).toMatch(/^Switchover scheduled at \S+ from /);
    const listed = await ctlJson<{ scheduled_switchover: { at: string; from: string } | null }>(['list']);
    expect(listed.scheduled_switchover?.from).toBe(leader.name);
    const cancel = await ctl(['switchover', '--cancel']);
    expectCode(cancel, 0);
    expect(cancel.stdout).toMatch(/cancelled\n$/);
    expect((await ctlJson<{ scheduled_switchover: unknown; pending_failover: unknown }>(['list']))).toMatchObject({ scheduled_switchover: null, pending_failover: null });
    const again = await ctl(['switchover', '--cancel']);
    expectCode(again, 1);
    expect(again.stderr).toContain('no switchover is scheduled');
    expect((await cluster.waitForLeader()).name).toBe(leader.name);
  });

  it('runs a scheduled switchover within a second of its time', async () => {
    const old = leader;
    const candidate = cluster.others(old)[0]!;
    const writer = new Writer([old], 20);
    await writer.prepare(old);
    writer.start();
    const atWall = Date.now() + 6000;
    const atPerf = performance.now() + 6000;
    const r = await ctl(['switchover', '--candidate', candidate.name, '--scheduled', new Date(atWall).toISOString(), '--wait', '--force', '-f', 'json']);
    await writer.stop();
    expectCode(r, 0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.to).toBe(candidate.name);
    // The last write the old leader acknowledged: the shutdown began right after it (a figure: a
    // starved writer makes it earlier than the switchover itself).
    const lastOnOld = Math.max(...writer.acked.map((a) => a.atMs));
    figures['scheduledStopDelayMs'] = Math.round(lastOnOld - atPerf);
    figures['scheduledJobSeenMs'] = s.phases.find((p) => p.phase === 'job-started')?.at_ms ?? null;
    // Never before its time: the old leader's own record of when its switchover job began.
    // The last one: this agent may have run an earlier test's switchover.
    const started = (old.agent?.output(256_000) ?? '').split('\n').reverse()
      .find((l) => l.includes('"job":"switchover"') && l.includes('"msg":"job started"'));
    expect(started, 'the old leader logged the start of its switchover job').toBeDefined();
    const startedWall = Date.parse((JSON.parse(started as string) as { time: string }).time);
    figures['scheduledJobStartMs'] = startedWall - atWall;
    expect(startedWall).toBeGreaterThanOrEqual(atWall);
    // Within a few loops of its time (loop_wait 2 here); how close it gets is the benchmark's to measure.
    expect(startedWall - atWall).toBeLessThan(5_000);
    leader = await cluster.waitForLeader();
    expect(leader.name).toBe(candidate.name);
    await cluster.waitStreamingFrom(old, leader, 60_000);
  });

  it('fails over to a named candidate after the leader is killed (confirmation typed on stdin)', async () => {
    const old = leader;
    const [x, y] = cluster.others(old) as [AgentNode, AgentNode];
    // The one the agents would not pick on a tie (names break ties: the lower wins).
    const candidate = x.name > y.name ? x : y;
    const third = candidate === x ? y : x;
    const pid = old.postmasterPid();
    await old.agent?.kill();
    if (pid !== null) process.kill(pid, 'SIGKILL');
    const r = await ctl(['failover', '--candidate', candidate.name], { input: 'y\n' });
    expectCode(r, 0);
    expect(r.stderr).toContain(`Are you sure you want to failover cluster ctltest to ${candidate.name}? [y/N]`);
    expect(r.stdout).toContain(`Failed over from ${old.name} to ${candidate.name}`);
    figures['failoverCommandMs'] = Math.round(r.durationMs);
    const next = await cluster.waitForLeader(60_000, [old.name]);
    expect(next.name).toBe(candidate.name);
    await cluster.waitStreamingFrom(third, next, 60_000);
  });
});
