// Interop with Patroni's own patronictl (Debian's patroni 3.0.2) against a pg-ha-agent cluster:
// list, history, show-config, pause, resume and switchover --force, each checked by its effect on
// the agents (their GET /patroni, PostgreSQL itself), not only by patronictl's words.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, requireKnownBinary, waitFor } from '../harness/index.js';
import { REPO_ROOT, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

const AUTH = { username: 'patroni-ops', password: 'pctl-secret' };
let cluster: AgentCluster;
let leader: AgentNode;
let ctlConfig: string;
const figures: Record<string, number> = {};

interface Run { code: number | null; stdout: string; stderr: string; durationMs: number }

function patronictl(...args: string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(requireKnownBinary('patronictl'), ['-c', ctlConfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, durationMs: performance.now() - t0 });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await patronictl(...args);
  if (r.code !== 0) {
    throw new Error(`patronictl ${args.join(' ')} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\nthe agents' last decisions:\n${lastDecisions()}`);
  }
  return r.stdout;
}

/** Each agent's last decisions, so a failure seen once in CI can be understood from its output. */
function lastDecisions(): string {
  return cluster.nodes.map((n) => {
    const ticks = n.logTail().split('\n').filter((l) => l.includes('"reason"')).slice(-6).map((l) => {
      try {
        const j = JSON.parse(l) as { time?: string; reason?: string; actions?: unknown };
        return `    ${j.time ?? ''} ${JSON.stringify(j.actions ?? [])} ${j.reason ?? ''}`;
      } catch {
        return `    ${l.slice(0, 300)}`;
      }
    });
    return `  ${n.name}:\n${ticks.join('\n')}`;
  }).join('\n');
}

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 4, restapiAuth: AUTH, logLevel: 'info', scope: 'pctl' });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((n) => n.name), 120_000);
  const template = readFileSync(join(REPO_ROOT, 'test/fixtures/patronictl/patronictl.yml'), 'utf8');
  ctlConfig = join(await makeTempDir('patronictl'), 'patronictl.yml');
  writeFileSync(ctlConfig, template.replace('{{scope}}', 'pctl').replace('{{etcd_hosts}}', cluster.etcd.endpoints.join(','))
    .replace('{{rest_user}}', AUTH.username).replace('{{rest_password}}', AUTH.password));
});

afterAll(() => {
  console.log(`patronictl figures: ${JSON.stringify(figures)}`);
});

type Row = Record<string, unknown>;

describe('patronictl 3.0.2 against a pg-ha-agent cluster', () => {
  it('list shows one leader and two replicas on timeline 1', async () => {
    // A member key carries the position of its agent's last tick (every loop_wait): a replica that
    // has just started streaming may still show an older position (16 MB behind, once in CI).
    const rows = await waitFor('patronictl to list both replicas with no lag', async () => {
      const listed = JSON.parse(await ok('list', '-f', 'json')) as Row[];
      const replicas = listed.filter((x) => x['Role'] === 'Replica');
      return replicas.length === 2 && replicas.every((r) => r['Lag in MB'] === 0) ? listed : null;
    }, { timeoutMs: 30_000 });
    expect(rows.map((r) => [r['Member'], r['Role'], r['State'], r['TL']]).sort()).toEqual(cluster.nodes.map((n) =>
      [n.name, n === leader ? 'Leader' : 'Replica', 'running', 1]).sort());
    const table = await ok('list');
    expect(table).toContain('+ Cluster: pctl ');
  });

  it('show-config prints the dynamic configuration from etcd', async () => {
    const shown = await ok('show-config');
    expect(shown).toMatch(/^ttl: 10$/m);
    expect(shown).toMatch(/^loop_wait: 2$/m);
    expect(shown).toMatch(/^maximum_lag_on_failover: 1048576$/m);
  });

  it('pause --wait reaches every agent and resume --wait lifts it', async () => {
    expect(await ok('pause', '--wait')).toContain('Success: cluster management is paused');
    for (const n of cluster.nodes) expect((await n.status())?.['pause']).toBe(true);
    expect(await ok('list')).toContain(' Maintenance mode: on');
    const again = await patronictl('pause');
    expect(again.code).toBe(1);
    expect(again.stdout + again.stderr).toContain('Cluster is already paused');
    expect(await ok('resume', '--wait')).toContain('Success: cluster management is resumed');
    for (const n of cluster.nodes) expect((await n.status())?.['pause']).toBeUndefined();
  });

  it('switchover --force moves the leader; the others stream from it and history lists the new timeline', async () => {
    const old = leader;
    const t0 = performance.now();
    const out = await ok('switchover', '--force');
    // patronictl exits 0 on a failed switchover: say what the agents decided.
    expect(out, `the agents' last decisions:\n${lastDecisions()}`).toMatch(/Successfully switched over to "node\d"/);
    const next = await cluster.waitForLeader(60_000);
    figures['switchoverToNewLeaderMs'] = Math.round(performance.now() - t0);
    expect(next.name).not.toBe(old.name);
    expect(out).toContain(`Successfully switched over to "${next.name}"`);
    for (const n of cluster.others(next)) await cluster.waitStreamingFrom(n, next, 60_000);
    expect((await next.status())?.timeline).toBe(2);
    const history = await waitFor('history with the switchover', async () => {
      const rows = JSON.parse(await ok('history', '-f', 'json')) as Row[];
      return rows.length > 0 ? rows : null;
    });
    expect(history.at(-1)).toMatchObject({ TL: 1, 'New Leader': next.name });
    expect(typeof history.at(-1)?.['LSN']).toBe('number');
    const rows = JSON.parse(await ok('list', '-f', 'json')) as Row[];
    expect(rows.find((r) => r['Member'] === next.name)?.['Role']).toBe('Leader');
    leader = next;
  });

  it('switchover --force to a named candidate', async () => {
    const candidate = cluster.others(leader)[0]!;
    const out = await ok('switchover', '--candidate', candidate.name, '--force');
    expect(out).toContain(`Successfully switched over to "${candidate.name}"`);
    const next = await cluster.waitForLeader(60_000);
    expect(next.name).toBe(candidate.name);
    for (const n of cluster.others(next)) await cluster.waitStreamingFrom(n, next, 60_000);
  });
});
