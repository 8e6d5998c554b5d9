// Real etcd (Debian etcd-server) for tests: one member or a three-member cluster on free loopback
// ports, data and log in temp dirs, with the fault controls tests need (stop, kill -9, SIGSTOP,
// restart with the same data and ports).
import { connect } from 'node:net';
import { join } from 'node:path';
import { BINARIES, requireKnownBinary } from './binaries.js';
import { runCommand } from './exec.js';
import { freePort } from './ports.js';
import type { TrackedProcess } from './processes.js';
import { spawnTracked } from './processes.js';
import { makeTempDir } from './tmp.js';
import { StopWaiting, waitFor } from './wait.js';

export const ETCD_BIN = BINARIES.etcd.path;
export const ETCDCTL_BIN = BINARIES.etcdctl.path;

export interface EtcdMember {
  name: string;
  clientUrl: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  pid(): number | null;
  /** SIGTERM, wait (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Default SIGKILL; waits for the exit when the signal ends the process. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  /**
   * Starts the member (again) with the same name, data dir and ports; returns once it listens.
   * It serves only once it is part of a quorum: follow with cluster.waitHealthy().
   */
  start(): Promise<void>;
  isRunning(): boolean;
  isPaused(): boolean;
  /** The last lines of this member's etcd log. */
  logTail(lines?: number): string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** ['127.0.0.1:port', ...], the client endpoints (the form Patroni's etcd3.hosts uses). */
  endpoints: string[];
  /** ['http://127.0.0.1:port', ...] */
  clientUrls: string[];
  /** Every running, unpaused member reports /health true (default deadline 60 s). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The member that is the raft leader now, as its own status says (waits up to 30 s for one). */
  leader(): Promise<EtcdMember>;
  stopAll(): Promise<void>;
  startAll(): Promise<void>;
  close(): Promise<void>;
}

export interface StartEtcdOptions {
  members?: 1 | 3;
  /** Prefix of member names (default "etcd"): members are <prefix>0, <prefix>1, ... */
  namePrefix?: string;
  /** Deadline for the cluster to become healthy, default 60 s. */
  timeoutMs?: number;
}

let clusterCounter = 0;

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const size = opts.members ?? 1;
  if (size !== 1 && size !== 3) throw new Error(`startEtcd: members must be 1 or 3, got ${String(size)}`);
  requireKnownBinary('etcd');
  clusterCounter += 1;
  const token = `pgha-${process.pid}-${clusterCounter}-${Date.now()}`;
  const prefix = opts.namePrefix ?? 'etcd';
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i += 1) {
    const base = await makeTempDir(`${prefix}${i}`);
    specs.push({ name: `${prefix}${i}`, base, clientPort: await freePort(), peerPort: await freePort() });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const members = specs.map((s) => new Member(s, initialCluster, token));
  const cluster = new Cluster(members);
  try {
    await Promise.all(members.map((m) => m.start()));
    await cluster.waitHealthy(opts.timeoutMs ?? 60_000);
  } catch (err) {
    await cluster.stopAll().catch(() => undefined);
    throw err;
  }
  return cluster;
}

interface MemberSpec {
  name: string;
  base: string;
  clientPort: number;
  peerPort: number;
}

class Member implements EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  private proc: TrackedProcess | null = null;
  private paused = false;
  private readonly args: string[];

  constructor(spec: MemberSpec, initialCluster: string, token: string) {
    this.name = spec.name;
    this.clientPort = spec.clientPort;
    this.peerPort = spec.peerPort;
    this.clientUrl = `http://127.0.0.1:${spec.clientPort}`;
    this.dataDir = join(spec.base, 'data');
    this.logFile = join(spec.base, 'etcd.log');
    const peerUrl = `http://127.0.0.1:${spec.peerPort}`;
    // A restart reuses these flags; etcd ignores the --initial-* ones once its data dir exists.
    this.args = [
      '--name', this.name, '--data-dir', this.dataDir,
      '--listen-client-urls', this.clientUrl, '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token,
      '--initial-cluster-state', 'new',
      // Loopback: short raft timings make leader loss visible in about a second.
      '--heartbeat-interval', '100', '--election-timeout', '1000',
      '--snapshot-count', '10000', '--logger', 'zap', '--log-outputs', 'stderr',
    ];
  }

  pid(): number | null {
    return this.proc !== null && this.proc.exitInfo() === null ? this.proc.pid : null;
  }

  isRunning(): boolean {
    return this.pid() !== null;
  }

  isPaused(): boolean {
    return this.isRunning() && this.paused;
  }

  async start(): Promise<void> {
    if (this.isRunning()) throw new Error(`etcd member ${this.name} is already running (pid ${String(this.pid())})`);
    this.paused = false;
    const proc = spawnTracked([ETCD_BIN, ...this.args], {
      name: `etcd-${this.name}`, kind: 'etcd', logFile: this.logFile, stopTimeoutMs: 10_000,
      // At teardown the data is thrown away: no graceful shutdown to wait for.
      teardownSignal: 'SIGKILL',
    });
    this.proc = proc;
    // Only "listening": etcd opens its client port at once but serves only after it joined a
    // quorum, which a lone restarted member of a stopped cluster cannot do. waitHealthy() is next.
    await waitFor(`etcd member ${this.name} to listen on ${this.clientUrl}`, async () => {
      const exit = proc.exitInfo();
      if (exit !== null) {
        throw new StopWaiting(`etcd member ${this.name} exited (code ${String(exit.code)}, signal ` +
          `${String(exit.signal)}) during start; log tail:\n${this.logTail()}`);
      }
      return canConnect(this.clientPort);
    }, { timeoutMs: 30_000, intervalMs: 50 }).catch((err: Error) => {
      if (err instanceof StopWaiting) throw new Error(err.message);
      throw new Error(`${err.message}; log tail:\n${this.logTail()}`);
    });
  }

  async stop(): Promise<void> {
    this.paused = false;
    await this.proc?.stop('SIGTERM');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === null || proc.exitInfo() !== null) return;
    if (signal === 'SIGSTOP') return this.pause();
    if (signal === 'SIGCONT') return this.resume();
    proc.signal(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT' || signal === 'SIGQUIT') {
      if (this.paused) proc.resume();
      this.paused = false;
      await proc.waitExit(signal === 'SIGKILL' ? 10_000 : 30_000);
    }
  }

  pause(): void {
    if (this.proc === null || !this.isRunning()) throw new Error(`etcd member ${this.name} is not running`);
    this.proc.pause();
    this.paused = true;
  }

  resume(): void {
    if (this.proc === null || !this.isRunning()) throw new Error(`etcd member ${this.name} is not running`);
    this.proc.resume();
    this.paused = false;
  }

  logTail(lines = 30): string {
    const text = this.proc?.output(64 * 1024) ?? '';
    return text.split('\n').slice(-lines - 1).join('\n');
  }

  async healthy(): Promise<boolean> {
    const res = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && (body.health === 'true' || body.health === true);
  }

  /** This member's own view: its member id and the leader's id (both decimal strings). */
  async status(): Promise<{ memberId: string; leaderId: string }> {
    const res = await fetch(`${this.clientUrl}/v3/maintenance/status`, {
      method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) throw new Error(`status of ${this.name}: HTTP ${res.status}`);
    const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    return { memberId: String(body.header?.member_id ?? ''), leaderId: String(body.leader ?? '') };
  }
}

class Cluster implements EtcdCluster {
  readonly members: Member[];
  readonly endpoints: string[];
  readonly clientUrls: string[];

  constructor(members: Member[]) {
    this.members = members;
    this.endpoints = members.map((m) => `127.0.0.1:${m.clientPort}`);
    this.clientUrls = members.map((m) => m.clientUrl);
  }

  private live(): Member[] {
    return this.members.filter((m) => m.isRunning() && !m.isPaused());
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitFor('etcd cluster to be healthy', async () => {
      const live = this.live();
      if (live.length === 0) throw new StopWaiting('no etcd member is running');
      const states = await Promise.all(live.map((m) => m.healthy().catch(() => false)));
      return states.every(Boolean);
    }, { timeoutMs, intervalMs: 100 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.members.map((m) => `--- ${m.name} log tail:\n${m.logTail(15)}`).join('\n')}`);
    });
  }

  async leader(): Promise<EtcdMember> {
    return waitFor('an etcd leader', async () => {
      for (const m of this.live()) {
        const st = await m.status().catch(() => null);
        if (st !== null && st.leaderId !== '' && st.leaderId !== '0' && st.memberId === st.leaderId) return m;
      }
      return null;
    }, { timeoutMs: 30_000, intervalMs: 100 });
  }

  // Followers first, then the leader: a member stopped after the others has no quorum to hand
  // leadership to and lingers for seconds in shutdown; a leader stopped last goes at once.
  async stopAll(): Promise<void> {
    const leaderId = await this.currentLeaderId();
    const statuses = await Promise.all(this.live().map(async (m) => ({ m, st: await m.status().catch(() => null) })));
    const leaders = new Set(statuses.filter((x) => x.st !== null && x.st.memberId === leaderId).map((x) => x.m));
    await Promise.all(this.members.filter((m) => !leaders.has(m)).map((m) => m.stop()));
    await Promise.all([...leaders].map((m) => m.stop()));
  }

  private async currentLeaderId(): Promise<string | null> {
    for (const m of this.live()) {
      const st = await m.status().catch(() => null);
      if (st !== null && st.leaderId !== '' && st.leaderId !== '0') return st.leaderId;
    }
    return null;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.members.filter((m) => !m.isRunning()).map((m) => m.start()));
  }

  async close(): Promise<void> {
    await this.stopAll();
  }
}

/** Runs etcdctl (API v3) against the cluster's endpoints; returns stdout. */
export async function etcdctl(cluster: EtcdCluster, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const bin = requireKnownBinary('etcdctl');
  const { stdout } = await runCommand(bin, ['--endpoints', cluster.endpoints.join(','), '--dial-timeout', '3s',
    '--command-timeout', '10s', ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs });
  return stdout;
}

/** The lease (hex, as etcdctl takes it) that `key` is attached to. */
export async function leaseHexOf(cluster: EtcdCluster, key: string): Promise<string> {
  const ids = (await etcdctl(cluster, ['lease', 'list'])).split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]+$/.test(l));
  for (const id of ids) {
    const ttl = await etcdctl(cluster, ['lease', 'timetolive', id, '--keys']).catch(() => '');
    if (ttl.includes(key)) return id;
  }
  throw new Error(`no lease holds ${key} (leases: ${ids.join(', ')})`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(1_000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => { sock.destroy(); resolve(false); });
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
  });
}
