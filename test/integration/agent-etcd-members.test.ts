// A real agent on a 3-member etcd (Debian's etcd 3.4.23): it reads every member's version and
// warns about the known lease-safety bugs in its log, GET /patroni and agentctl list; it counts
// errors per member in /metrics; and freezing the member it uses does not cost it the leader key.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type EtcdMember } from '../harness/index.js';
import { agentctl, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

interface EtcdBody {
  members: { endpoint: string; up: boolean; in_use: boolean; version: string | null; errors_total: number }[];
  warnings: string[];
}

let cluster: AgentCluster;
let node: AgentNode;

async function etcdBody(): Promise<EtcdBody | null> {
  const st = await node.status();
  return ((st?.['pg_ha_agent'] as Record<string, unknown> | undefined)?.['etcd'] as EtcdBody | undefined) ?? null;
}

async function errorsOf(endpoint: string): Promise<number | null> {
  const text = await fetch(`http://127.0.0.1:${node.apiPort}/metrics`, { signal: AbortSignal.timeout(1500) }).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith('pg_ha_agent_etcd_member_errors_total{') && l.includes(`endpoint="${endpoint}"`));
  return line === undefined ? null : Number(line.split(' ').pop());
}

const endpointOf = (m: EtcdMember): string => `127.0.0.1:${m.clientPort}`;

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 1, etcdMembers: 3, ttl: 10, loopWait: 2, scope: 'etcdmembers' });
  node = await cluster.waitForLeader();
}, 120_000);

afterAll(async () => {
  for (const m of cluster?.etcd.members ?? []) if (m.isPaused()) m.resume();
});

describe('a real agent and the versions of its etcd members', () => {
  it('warns about etcd 3.4.23 in its log, GET /patroni and agentctl list', async () => {
    const version = (await etcdBody())?.members[0]?.version;
    const body = await waitFor('every etcd member version in /patroni', async () => {
      const b = await etcdBody();
      return b !== null && b.members.length === 3 && b.members.every((m) => m.version !== null) ? b : null;
    }, { timeoutMs: 20_000 });
    console.log(JSON.stringify({ etcdVersions: body.members.map((m) => m.version), firstSeen: version ?? null }));
    expect(body.members.map((m) => m.endpoint).sort()).toEqual(cluster.etcd.endpoints.slice().sort());
    expect(body.warnings).toHaveLength(3);
    for (const w of body.warnings) expect(w).toMatch(/runs etcd 3\.4\.23, which has known lease-safety bugs: old-leader-revokes-leases \(fixed in 3\.4\.31\)/);
    const log = readFileSync(node.agent?.logFile ?? '', 'utf8');
    expect(log).toContain('"msg":"etcd member runs a version with known lease-safety bugs"');
    const list = await agentctl(node.configPath, ['list']);
    expect(list.code, list.stderr).toBe(0);
    for (const e of cluster.etcd.endpoints) expect(list.stdout).toContain(` Warning: etcd member ${e} runs etcd 3.4.23`);
  });

  it('counts errors per member in /metrics and keeps the leader key when the member in use freezes', async () => {
    const before = await etcdBody();
    const inUse = before?.members.find((m) => m.in_use)?.endpoint;
    const victim = cluster.etcd.members.find((m) => endpointOf(m) === inUse);
    if (victim === undefined) throw new Error(`no member in use in ${JSON.stringify(before)}`);
    const errorsBefore = (await errorsOf(inUse ?? '')) ?? 0;
    victim.pause();
    const pausedAt = performance.now();
    const moved = await waitFor('the agent to move to another etcd member', async () => {
      const b = await etcdBody();
      const now = b?.members.find((m) => m.in_use)?.endpoint;
      return now !== undefined && now !== inUse ? now : null;
    }, { timeoutMs: 15_000 });
    const errors = await waitFor('errors of the frozen member in /metrics', async () => {
      const n = await errorsOf(inUse ?? '');
      return n !== null && n > errorsBefore ? n : null;
    }, { timeoutMs: 15_000 });
    const movedMs = Math.round(performance.now() - pausedAt);
    // Long enough for etcd to notice, short of the TTL: the agent must stay the leader throughout.
    await waitFor('a few loop_waits with the member frozen', () => performance.now() - pausedAt > 6000, { timeoutMs: 10_000 });
    expect(await node.health('/primary')).toBe(200);
    const st = await node.status();
    victim.resume();
    console.log(JSON.stringify({ measure: 'agent moved off a frozen etcd member', movedWithinMs: movedMs, frozen: inUse, movedTo: moved, errorsCounted: errors }));
    expect(st?.role).toBe('primary');
    await cluster.etcd.waitHealthy();
    await waitFor('the resumed member to be up again in /patroni', async () => {
      const b = await etcdBody();
      return b?.members.find((m) => m.endpoint === inUse)?.up === true;
    }, { timeoutMs: 20_000 });
  });
});
