// Test nodes for the PostgreSQL controller's integration tests: a config, a data dir owned by
// postgres, a port, and the real supervisor/observer/runner wired together. Every postmaster the
// supervisor starts is registered with the harness so teardown stops it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Config, PostgresqlConfig } from '../../src/config/types.js';
import { createExecaRunner } from '../../src/exec/runner.js';
import type { Runner } from '../../src/exec/runner.js';
import type { UpstreamNode } from '../../src/postgres/upstream.js';
import { readPostmasterPidSync } from '../../src/postgres/files.js';
import { createPgObserver } from '../../src/postgres/observer.js';
import type { PgObserver } from '../../src/postgres/observer.js';
import { createPgSupervisor } from '../../src/postgres/supervisor.js';
import type { PgSupervisor, StartOptions, StartOutcome } from '../../src/postgres/supervisor.js';
import { freePort, makeEmptyDataDir, makeTempDir, trackProcess } from '../harness/index.js';
import { testConfig, testDynamicConfig } from '../unit/postgres/fixtures.js';

export const SECRETS = ['su-secret', 'rep-pass', 'rw-secret'] as const;

/** Passwords everywhere over TCP (the agent must use them), trust only on the local socket. */
export const TEST_HBA = [
  'local all all trust',
  'host replication replicator 127.0.0.1/32 scram-sha-256',
  'host all all 127.0.0.1/32 scram-sha-256',
];

export const TEST_PARAMETERS = {
  shared_buffers: '32MB',
  max_connections: 30,
  // Tests kill processes, never the machine.
  fsync: 'off',
  log_line_prefix: '%m [%p] ',
} as const;

export async function makeLogger(): Promise<{ logger: Logger; file: string }> {
  const dir = await makeTempDir('pgha-log');
  const file = join(dir, 'agent.log');
  const logger = pino({ level: 'debug' }, pino.destination({ dest: file, sync: true }));
  return { logger, file };
}

export function readLog(file: string): string {
  return readFileSync(file, 'utf8');
}

export interface TestNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly config: Config;
  readonly runner: Runner;
  readonly supervisor: PgSupervisor;
  readonly observer: PgObserver;
  upstream(): UpstreamNode;
  /** supervisor.start, then the new postmaster is tracked by the harness. */
  start(opts: Omit<StartOptions, 'timeoutMs'> & { timeoutMs?: number }): Promise<StartOutcome>;
  /** Track whatever postmaster runs now (after bootstrap or a rejoin started one). */
  track(): void;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface NodeOptions {
  readonly logger: Logger;
  readonly postgresql?: Partial<PostgresqlConfig>;
  readonly dataDir?: string;
}

export async function makeNode(name: string, o: NodeOptions): Promise<TestNode> {
  const dataDir = o.dataDir ?? (await makeEmptyDataDir(`pgha-${name}`));
  const port = await freePort();
  const base = dirname(dataDir);
  const config = testConfig({
    name,
    dataDir,
    port,
    pgpass: join(base, 'pgpass'),
    postgresql: {
      pg_hba: TEST_HBA,
      parameters: { ...TEST_PARAMETERS, unix_socket_directories: base },
      ...o.postgresql,
    },
  });
  const logger = o.logger.child({ node: name });
  const runner = createExecaRunner({ logger, runAsUser: 'postgres' });
  const supervisor = createPgSupervisor({ config, logger, runner, dynamicConfig: testDynamicConfig() });
  const observer = createPgObserver({ config, logger, runner, timeoutMs: 2000 });
  let trackedPid: number | null = null;
  const track = (): void => {
    const pid = readPostmasterPidSync(join(dataDir, 'postmaster.pid'));
    if (pid === null || pid === trackedPid) return;
    trackedPid = pid;
    trackProcess({ pid, name: `postgres-${name}`, kind: 'postgres', stopSignal: 'SIGQUIT', argv: ['postgres', '-D', dataDir] });
  };
  return {
    name,
    port,
    dataDir,
    config,
    runner,
    supervisor,
    observer,
    upstream: () => ({ host: '127.0.0.1', port, name }),
    async start(opts) {
      try {
        return await supervisor.start({ timeoutMs: 60_000, ...opts });
      } finally {
        track();
      }
    },
    track,
    query: (sql, params) => queryAs(port, 'postgres', 'su-secret', sql, params),
  };
}

export async function queryAs<T = Record<string, unknown>>(
  port: number,
  user: string,
  password: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}
