// Real PostgreSQL 15 instances for tests: initdb'd into temp dirs owned by `postgres`, started
// with pg_ctl as that user on a free loopback port, with the unix socket in the instance's own
// temp dir. A primary has a `replicator` role; createReplica() clones it with pg_basebackup.
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PG_BIN_DIR, pgBinary } from './binaries.js';
import { runCommand } from './exec.js';
import { childPids, isAlive, signalPid } from './proc.js';
import { readTail, trackProcess } from './processes.js';
import type { TrackedPid } from './processes.js';
import { freePort } from './ports.js';
import { readPostmasterPid } from './strays.js';
import { makeTempDir } from './tmp.js';
import { isRoot, postgresUser } from './users.js';
import { waitFor } from './wait.js';

export { PG_BIN_DIR };

export const REPLICATION_USER = 'replicator';
export const REPLICATION_PASSWORD = 'rep-pass';

export interface PgInstance {
  name: string;
  dataDir: string;
  /** The instance's temp dir (owned by postgres): holds dataDir, the unix socket and postgres.log. */
  baseDir: string;
  socketDir: string;
  logFile: string;
  host: '127.0.0.1';
  port: number;
  /** pg_ctl start -w (retried while a killed predecessor's backends still hold shared memory). */
  start(): Promise<void>;
  /** pg_ctl stop -m <mode> (default fast), then SIGKILL of the postmaster if that fails. */
  stop(mode?: 'fast' | 'immediate' | 'smart'): Promise<void>;
  /** Signals the postmaster (default SIGKILL; then waits for it and its children to be gone). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  postmasterPid(): Promise<number | null>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, no password). */
  connectionString(): string;
  /** Stops the instance (immediate); its dir goes at teardown. */
  close(): Promise<void>;
  logTail(lines?: number): string;
}

export interface CreatePrimaryOptions {
  name?: string;
  /** Extra postgresql.conf settings, appended after the harness defaults (so they win). */
  parameters?: Record<string, string>;
}

export interface CreateReplicaOptions {
  name?: string;
  /** Physical replication slot on the primary to stream from (created if absent). */
  slot?: string;
  /** Wait until the replica's WAL receiver is streaming (default true). */
  waitStreaming?: boolean;
}

const DEFAULT_PARAMETERS: Readonly<Record<string, string>> = {
  listen_addresses: '127.0.0.1',
  wal_level: 'replica',
  max_wal_senders: '10',
  max_replication_slots: '10',
  hot_standby: 'on',
  wal_log_hints: 'on',
  wal_keep_size: '128MB',
  shared_buffers: '32MB',
  max_connections: '50',
  // Tests kill processes, never the machine: durability against power loss only costs time here.
  fsync: 'off',
  log_line_prefix: '%m [%p] ',
};

let instanceCounter = 0;

function nextName(kind: string): string {
  instanceCounter += 1;
  return `${kind}${instanceCounter}`;
}

/** An empty directory <tmp>/<prefix>-XXXXXX/data, mode 0700, owned by postgres (parent too). */
export async function makeEmptyDataDir(prefix: string): Promise<string> {
  const base = await makeTempDir(prefix, { owner: 'postgres' });
  const dataDir = join(base, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  if (isRoot()) chownSync(dataDir, postgresUser().uid, postgresUser().gid);
  return dataDir;
}

export async function createPrimary(opts: CreatePrimaryOptions = {}): Promise<PgInstance> {
  const name = validName(opts.name ?? nextName('primary'));
  const dataDir = await makeEmptyDataDir(`pg-${name}`);
  await runCommand(pgBinary('initdb'), ['-D', dataDir, '-U', 'postgres', '--data-checksums',
    '--auth-local=trust', '--auth-host=trust', '--locale=C', '--encoding=UTF8', '--no-sync'],
  { user: 'postgres', cwd: join(dataDir, '..'), timeoutMs: 120_000 });
  const inst = new Instance(name, dataDir, await freePort());
  inst.writeHarnessConf(opts.parameters ?? {}, true);
  writeFileAsPostgres(join(dataDir, 'pg_hba.conf'), HBA);
  await inst.start();
  await inst.query(`CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}'`);
  return inst;
}

export async function createReplica(primary: PgInstance, opts: CreateReplicaOptions = {}): Promise<PgInstance> {
  const name = validName(opts.name ?? nextName('replica'));
  const dataDir = await makeEmptyDataDir(`pg-${name}`);
  if (opts.slot !== undefined) {
    await primary.query(`SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS
      (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, [opts.slot]);
  }
  const args = ['-h', primary.host, '-p', String(primary.port), '-U', REPLICATION_USER, '-D', dataDir,
    '-X', 'stream', '-R', '-c', 'fast', '--no-sync', ...(opts.slot === undefined ? [] : ['-S', opts.slot])];
  await runCommand(pgBinary('pg_basebackup'), args, {
    user: 'postgres', cwd: join(dataDir, '..'), timeoutMs: 180_000,
    env: { ...process.env, PGPASSWORD: REPLICATION_PASSWORD },
  });
  const inst = new Instance(name, dataDir, await freePort());
  // The copied harness.conf names the primary's port and socket dir: point them at ours.
  inst.writeHarnessConf({}, false);
  await inst.start();
  if (opts.waitStreaming ?? true) {
    await waitFor(`replica ${name} to stream from ${primary.name}`, async () => {
      const rows = await inst.query<{ status: string }>('SELECT status FROM pg_stat_wal_receiver');
      return rows[0]?.status === 'streaming';
    }, { timeoutMs: 60_000, intervalMs: 100 });
  }
  return inst;
}

// postgres over TCP without a password (as promised to the tests); everyone else, the replication
// user included, needs a password, so an agent that forgets to pass it fails as it would in production.
const HBA = `# written by the pg-ha-agent test harness
local   all             all                                     trust
local   replication     all                                     trust
host    all             postgres        127.0.0.1/32            trust
host    replication     postgres        127.0.0.1/32            trust
host    replication     ${REPLICATION_USER}      127.0.0.1/32            scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
`;

function validName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,30}$/.test(name)) {
    throw new Error(`PostgreSQL instance name must be 1-30 characters of [A-Za-z0-9_-], got ${JSON.stringify(name)}`);
  }
  return name;
}

function writeFileAsPostgres(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (isRoot()) chownSync(path, postgresUser().uid, postgresUser().gid);
}

function confValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

class Instance implements PgInstance {
  readonly host = '127.0.0.1' as const;
  readonly baseDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  private tracked: TrackedPid | null = null;
  private pendingChildren: number[] = [];

  constructor(readonly name: string, readonly dataDir: string, readonly port: number) {
    this.baseDir = join(dataDir, '..');
    this.socketDir = this.baseDir;
    this.logFile = join(this.baseDir, 'postgres.log');
  }

  /** harness.conf, included at the end of postgresql.conf: port, socket dir, defaults, extras. */
  writeHarnessConf(parameters: Record<string, string>, addInclude: boolean): void {
    const all: Record<string, string> = {
      ...(addInclude ? DEFAULT_PARAMETERS : {}),
      port: String(this.port),
      unix_socket_directories: this.socketDir,
      ...parameters,
    };
    const lines = Object.entries(all).map(([k, v]) => {
      if (!/^[a-z_][a-z0-9_.]*$/.test(k)) throw new Error(`invalid PostgreSQL parameter name ${JSON.stringify(k)}`);
      return `${k} = ${confValue(v)}`;
    });
    const file = join(this.dataDir, 'harness.conf');
    if (addInclude) {
      writeFileAsPostgres(file, `# written by the pg-ha-agent test harness\n${lines.join('\n')}\n`);
      writeFileSync(join(this.dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'harness.conf'\n", { flag: 'a' });
    } else {
      // Replica: keep the primary's settings, override where this instance differs.
      writeFileSync(file, `\n# replica ${this.name}\n${lines.join('\n')}\n`, { flag: 'a' });
    }
  }

  async start(): Promise<void> {
    if ((await this.postmasterPid()) !== null) return;
    await this.waitOldChildrenGone();
    const pgCtl = pgBinary('pg_ctl');
    await waitFor(`PostgreSQL ${this.name} to start`, async () => {
      await runCommand(pgCtl, ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '90', '-s', 'start'],
        { user: 'postgres', cwd: this.baseDir, timeoutMs: 100_000 });
      return true;
    }, { timeoutMs: 120_000, intervalMs: 500 }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${this.logFile} tail:\n${this.logTail()}`);
    });
    const pid = readPostmasterPid(this.dataDir);
    if (pid === null) throw new Error(`PostgreSQL ${this.name} started but ${this.dataDir}/postmaster.pid is unreadable`);
    this.tracked = trackProcess({
      pid, name: `postgres-${this.name}`, kind: 'postgres', stopSignal: 'SIGQUIT',
      argv: [join(PG_BIN_DIR, 'postgres'), '-D', this.dataDir], stop: () => this.stop('immediate'),
    });
  }

  async stop(mode: 'fast' | 'immediate' | 'smart' = 'fast'): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid === null) {
      this.releaseIfDead();
      return;
    }
    let stopped = false;
    try {
      await runCommand(pgBinary('pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', '-s', 'stop'],
        { user: 'postgres', cwd: this.baseDir, timeoutMs: 70_000 });
      stopped = true;
    } catch {
      // pg_ctl could not stop it in time: the postmaster goes the hard way below.
    }
    // pg_ctl returns when postmaster.pid is gone; the process itself may take a moment more.
    const gone = (): boolean => !isAlive(pid);
    if (stopped) await waitFor(`postmaster ${pid} to exit`, gone, { timeoutMs: 5_000, intervalMs: 20 }).catch(() => false);
    if (!gone()) await this.killPid(pid, 'SIGKILL');
    this.releaseIfDead();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid === null) throw new Error(`PostgreSQL ${this.name} is not running: nothing to ${signal}`);
    await this.killPid(pid, signal);
  }

  private async killPid(pid: number, signal: NodeJS.Signals): Promise<void> {
    if (signal === 'SIGKILL') this.pendingChildren = childPids(pid);
    signalPid(pid, signal);
    if (signal !== 'SIGKILL') return;
    await waitFor(`postmaster ${pid} of ${this.name} to die`, () => !isAlive(pid), { timeoutMs: 30_000, intervalMs: 20 });
    this.releaseIfDead();
  }

  // Backends of a SIGKILLed postmaster exit on their own when they notice its death; a new
  // postmaster refuses to start while they still hold the old shared memory.
  private async waitOldChildrenGone(): Promise<void> {
    const children = this.pendingChildren;
    this.pendingChildren = [];
    if (children.length === 0) return;
    try {
      await waitFor(`old backends of ${this.name} to exit`, () => children.every((c) => !isAlive(c)),
        { timeoutMs: 15_000, intervalMs: 50 });
    } catch {
      for (const c of children) signalPid(c, 'SIGKILL');
    }
  }

  private releaseIfDead(): void {
    if (this.tracked !== null && !this.tracked.isAlive()) {
      this.tracked.release();
      this.tracked = null;
    }
  }

  async postmasterPid(): Promise<number | null> {
    const pid = readPostmasterPid(this.dataDir);
    return pid !== null && isAlive(pid) ? pid : null;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    const client = new pg.Client({
      host: this.host, port: this.port, user: 'postgres', database: 'postgres',
      connectionTimeoutMillis: 10_000, query_timeout: 60_000,
    });
    client.on('error', () => undefined); // a server killed mid-query surfaces through query()
    await client.connect();
    try {
      const res = await client.query(sql, params);
      return res.rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  connectionString(): string {
    return `postgres://postgres@${this.host}:${this.port}/postgres`;
  }

  async close(): Promise<void> {
    await this.stop('immediate');
  }

  logTail(lines = 30): string {
    return readTail(this.logFile, 64 * 1024).split('\n').slice(-lines - 1).join('\n');
  }
}
