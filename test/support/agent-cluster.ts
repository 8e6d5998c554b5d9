// A real cluster for integration tests: etcd from the harness, N agents (dist/bin/pg-ha-agent.js)
// as the postgres user, each owning a PostgreSQL instance it bootstraps or clones itself.
import { spawn } from 'node:child_process';
import { chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import {
  PG_BIN_DIR, freePort, isAlive, isRoot, makeEmptyDataDir, postgresUser, readPostmasterPid, spawnTracked, startEtcd, waitFor,
  type EtcdCluster, type TrackedProcess,
} from '../harness/index.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BIN = join(REPO_ROOT, 'dist/bin/pg-ha-agent.js');
export const SUPERUSER_PASSWORD = 'test-superuser';

export interface ClusterOptions {
  readonly nodes?: number;
  readonly ttl?: number;
  readonly loopWait?: number;
  readonly retryTimeout?: number;
  readonly etcdMembers?: 1 | 3;
  readonly scope?: string;
  readonly dcsExtra?: Record<string, unknown>;
  readonly tags?: (name: string) => Record<string, unknown>;
  /** `log.level` in each node's config (default 'debug'; benchmarks use 'info'). */
  readonly logLevel?: string;
  /** restapi.authentication of every node (basic auth on mutating requests); default none. */
  readonly restapiAuth?: { readonly username: string; readonly password: string };
  /** Extra keys of each node's local `postgresql` section (e.g. remove_data_directory_on_rewind_failure). */
  readonly postgresqlExtra?: Record<string, unknown>;
  /**
   * Edits a node's config object before it is written, once its ports are known (e.g. the fault
   * suite points etcd3.hosts and the connect_addresses at its TCP proxies).
   */
  readonly configure?: (config: Record<string, unknown>, node: NodePorts) => void | Promise<void>;
}

export interface NodePorts {
  readonly name: string;
  readonly pgPort: number;
  readonly apiPort: number;
  readonly baseDir: string;
}

export type PatroniStatus = Record<string, unknown> & {
  role?: string; state?: string; timeline?: number; postmaster_start_time?: string;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  replication_state?: string;
};

export class AgentNode {
  agent: TrackedProcess | null = null;
  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly baseDir: string,
    readonly configPath: string,
    readonly pgPort: number,
    readonly apiPort: number,
  ) {}

  start(): TrackedProcess {
    this.agent = spawnTracked([process.execPath, AGENT_BIN, this.configPath], {
      name: `agent-${this.name}`, user: 'postgres', stopTimeoutMs: 60_000,
    });
    return this.agent;
  }

  agentRunning(): boolean {
    return this.agent !== null && this.agent.exitInfo() === null;
  }

  async status(): Promise<PatroniStatus | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.apiPort}/patroni`, { signal: AbortSignal.timeout(1500) });
      return (await res.json()) as PatroniStatus;
    } catch {
      return null;
    }
  }

  async health(path: string): Promise<number | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { signal: AbortSignal.timeout(1500) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    }
  }

  /** The pid of a live postmaster of this data dir (a stale postmaster.pid counts as none). */
  postmasterPid(): number | null {
    const pid = readPostmasterPid(this.dataDir);
    return pid !== null && isAlive(pid) ? pid : null;
  }

  /** Live fence guard processes of this node's data dir. */
  guardPids(): number[] {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmd.includes('fence-guard') && cmd.includes(this.dataDir);
      } catch {
        return false;
      }
    });
  }

  client(): pg.Client {
    return new pg.Client({
      host: '127.0.0.1', port: this.pgPort, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres',
      connectionTimeoutMillis: 2000, query_timeout: 5000,
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = this.client();
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  logTail(): string {
    return this.agent?.output(8000) ?? '(agent not started)';
  }

  /** The current agent's JSON log lines written at or after `sinceMs` (wall clock). */
  logSince(sinceMs: number): Record<string, unknown>[] {
    return (this.agent?.output(1_000_000) ?? '').split('\n').flatMap((line) => {
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        return Date.parse(String(j['time'])) >= sinceMs ? [j] : [];
      } catch {
        return [];
      }
    });
  }
}

export class AgentCluster {
  constructor(readonly etcd: EtcdCluster, readonly nodes: AgentNode[], readonly scope: string) {}

  node(name: string): AgentNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** The node whose /primary answers 200, once exactly one does. */
  async waitForLeader(timeoutMs = 90_000, exclude: readonly string[] = []): Promise<AgentNode> {
    return this.diagnosed(waitFor('exactly one leader answering /primary', async () => {
      const codes = await Promise.all(this.nodes.map(async (n) => (exclude.includes(n.name) ? null : n.health('/primary'))));
      const leaders = this.nodes.filter((_, i) => codes[i] === 200);
      return leaders.length === 1 ? leaders[0] : null;
    }, { timeoutMs, intervalMs: 100 }));
  }

  /** Every node in `names` is a replica streaming (per its /patroni) on the leader's timeline. */
  async waitForStreaming(names: readonly string[], timeoutMs = 90_000): Promise<void> {
    await this.diagnosed(waitFor(`${names.join(', ')} streaming`, async () => {
      const all = await Promise.all(names.map((n) => this.node(n).status()));
      return all.every((s) => s?.role === 'replica' && s.replication_state === 'streaming') ? true : null;
    }, { timeoutMs, intervalMs: 200 }));
  }

  /** A node's walreceiver streams from `leader` (queried on PostgreSQL, fresh). */
  async waitStreamingFrom(replica: AgentNode, leader: AgentNode, timeoutMs = 60_000): Promise<void> {
    await waitFor(`${replica.name} streaming from ${leader.name}`, async () => {
      const rows = await replica.query<{ status: string; sender_port: number }>('SELECT status, sender_port FROM pg_stat_wal_receiver');
      return rows[0]?.status === 'streaming' && rows[0].sender_port === leader.pgPort ? true : null;
    }, { timeoutMs, intervalMs: 50 });
  }

  /**
   * A cluster wait that times out says why: each node's role and state as it reports them, and its
   * agent's last decisions, so a failure seen once in CI can be understood from its output alone.
   */
  private async diagnosed<T>(wait: Promise<T>): Promise<T> {
    try {
      return await wait;
    } catch (err) {
      const lines = await Promise.all(this.nodes.map(async (n) => {
        const s = await n.status();
        const ticks = n.logTail().split('\n').filter((l) => l.includes('"reason"')).slice(-4)
          .map((l) => { try { const j = JSON.parse(l) as { time?: string; reason?: string; actions?: unknown }; return `    ${j.time ?? ''} ${JSON.stringify(j.actions ?? [])} ${j.reason ?? ''}`; } catch { return `    ${l.slice(0, 300)}`; } });
        const state = s === null ? 'no answer' : `role=${s.role ?? '?'} state=${s.state ?? '?'} replication=${s.replication_state ?? '-'} timeline=${s.timeline ?? '?'}`;
        return `  ${n.name} (agent ${n.agentRunning() ? 'running' : 'not running'}): ${state}\n${ticks.join('\n')}`;
      }));
      const message = `${err instanceof Error ? err.message : String(err)}\ncluster at the timeout:\n${lines.join('\n')}`;
      console.log(message);
      throw new Error(message, { cause: err });
    }
  }

  others(node: AgentNode): AgentNode[] {
    return this.nodes.filter((n) => n !== node);
  }
}

export interface NodeSpec {
  readonly name: string;
  readonly etcd: EtcdCluster;
  readonly scope: string;
  /** An existing (empty or initialized) data dir owned by postgres; default a new empty one. */
  readonly dataDir?: string;
}

/** Write a node's Patroni-style config (ports from freePort) and return the node, not started. */
export async function prepareNode(spec: NodeSpec, opts: ClusterOptions = {}): Promise<AgentNode> {
  const { name } = spec;
  const dataDir = spec.dataDir ?? await makeEmptyDataDir(`agent-${name}`);
  const baseDir = dirname(dataDir);
  const pgPort = await freePort();
  const apiPort = await freePort();
  const configPath = join(baseDir, `config-${name}.yml`);
  const config = {
    scope: spec.scope, namespace: '/service/', name,
    log: { level: opts.logLevel ?? 'debug' },
    restapi: {
      listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}`,
      ...(opts.restapiAuth ? { authentication: opts.restapiAuth } : {}),
    },
    etcd3: { hosts: spec.etcd.endpoints.join(',') },
    bootstrap: {
      dcs: {
        ttl: opts.ttl ?? 10, loop_wait: opts.loopWait ?? 2, retry_timeout: opts.retryTimeout ?? 4,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: { fsync: 'off', shared_buffers: '32MB', max_connections: 50 } },
        ...(opts.dcsExtra ?? {}),
      },
    },
    postgresql: {
      listen: `127.0.0.1:${pgPort}`, connect_address: `127.0.0.1:${pgPort}`,
      data_dir: dataDir, bin_dir: PG_BIN_DIR, pgpass: join(baseDir, `pgpass-${name}`),
      authentication: {
        superuser: { username: 'postgres', password: SUPERUSER_PASSWORD },
        replication: { username: 'replicator', password: 'test-replication' },
        rewind: { username: 'rewind_user', password: 'test-rewind' },
      },
      parameters: { unix_socket_directories: baseDir },
      use_pg_rewind: true,
      ...(opts.postgresqlExtra ?? {}),
    },
    tags: opts.tags?.(name) ?? {},
  };
  await opts.configure?.(config, { name, pgPort, apiPort, baseDir });
  writeFileSync(configPath, stringify(config));
  if (isRoot()) chownSync(configPath, postgresUser().uid, postgresUser().gid);
  return new AgentNode(name, dataDir, baseDir, configPath, pgPort, apiPort);
}

export async function startAgentCluster(opts: ClusterOptions = {}): Promise<AgentCluster> {
  const count = opts.nodes ?? 3;
  const scope = opts.scope ?? 'itest';
  const etcd = await startEtcd({ members: opts.etcdMembers ?? 1 });
  const nodes: AgentNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await prepareNode({ name: `node${i}`, etcd, scope }, opts));
  const cluster = new AgentCluster(etcd, nodes, scope);
  for (const n of nodes) n.start();
  return cluster;
}

/** Inserts a row every `intervalMs` into every reachable node; records what was acknowledged and when. */
export class Writer {
  readonly acked: { id: number; node: string; atMs: number }[] = [];
  private stopped = false;
  private seq = 0;
  private loops: Promise<void>[] = [];

  constructor(private readonly nodes: readonly AgentNode[], private readonly intervalMs: number) {}

  async prepare(leader: AgentNode): Promise<void> {
    await leader.query('CREATE TABLE IF NOT EXISTS writes (id bigint PRIMARY KEY, node text, at timestamptz DEFAULT now())');
  }

  start(): void {
    this.loops = this.nodes.map((n) => this.loop(n));
  }

  private async loop(node: AgentNode): Promise<void> {
    let client: pg.Client | null = null;
    while (!this.stopped) {
      const t0 = performance.now();
      try {
        if (!client) {
          client = node.client();
          client.on('error', () => undefined);
          await client.connect();
        }
        const id = ++this.seq;
        await client.query('INSERT INTO writes (id, node) VALUES ($1, $2)', [id, node.name]);
        this.acked.push({ id, node: node.name, atMs: performance.now() });
      } catch {
        const c = client;
        client = null;
        await c?.end().catch(() => undefined);
      }
      const rest = this.intervalMs - (performance.now() - t0);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
    await client?.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** The longest gap between consecutive acknowledged writes (any node), in ms. */
  longestGapMs(fromMs = 0): number {
    const times = this.acked.map((a) => a.atMs).filter((t) => t >= fromMs).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
    return gap;
  }
}

/** A metric's value from the node's GET /metrics (first sample), or null. */
export async function metric(node: AgentNode, name: string): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/metrics`, { signal: AbortSignal.timeout(1500) });
    const text = await res.text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : null;
  } catch {
    return null;
  }
}

/** PATCH /config on a node (the dynamic configuration in etcd). */
export async function patchConfig(node: AgentNode, patch: Record<string, unknown>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}/config`, {
    method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch), signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  return res.status;
}

export async function canWrite(node: AgentNode): Promise<boolean> {
  try {
    await node.query('CREATE TABLE IF NOT EXISTS probe (id serial PRIMARY KEY)');
    await node.query('INSERT INTO probe DEFAULT VALUES');
    return true;
  } catch {
    return false;
  }
}

export const AGENTCTL_BIN = join(REPO_ROOT, 'dist/bin/agentctl.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Runs dist/bin/agentctl.js -c <config> <args>; `input` is written to its stdin (then closed). */
export function agentctl(configPath: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENTCTL_BIN, '-c', configPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, durationMs: performance.now() - t0 });
    });
    child.stdin.end(opts.input ?? '');
  });
}
