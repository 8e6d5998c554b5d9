// Bootstrap of a new cluster (SPEC 5.1): initdb with data checksums, the managed configuration,
// start as primary, roles. The data directory must be empty or absent: nothing is overwritten.
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { initdbArgs } from './argv.js';
import { PgError, errorMessage } from './errors.js';
import { checkDataDirOwner, dataDirState } from './files.js';
import { PG_ENV, pgPaths, requireBinary, runUid } from './paths.js';
import { roleStatements } from './roles.js';
import { localTarget, withSqlConnection } from './sql.js';
import type { SqlConnection } from './sql.js';
import type { PgSupervisor } from './supervisor.js';

export interface BootstrapOptions {
  readonly config: Config;
  readonly dynamicConfig: DynamicConfig;
  readonly runner: Runner;
  readonly logger: Logger;
  /** The postmaster's owner: bootstrap starts PostgreSQL through it. */
  readonly supervisor: PgSupervisor;
  readonly startTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface BootstrapResult {
  readonly systemIdentifier: string;
  readonly durationMs: number;
}

/** Refuse anything but an empty or absent data directory owned by the right user. */
export async function requireEmptyDataDir(config: Config, runner: Runner, what: string): Promise<'missing' | 'empty'> {
  const dir = config.postgresql.data_dir;
  const state = await dataDirState(dir);
  if (state === 'initialized' || state === 'foreign') {
    throw new PgError('data-dir-not-empty', `refusing to ${what}: data directory ${dir} is not empty`, { retryable: false });
  }
  if (state === 'empty') await checkDataDirOwner(dir, await runUid(runner));
  return state;
}

/** initdb --pwfile wants the superuser password in a file PostgreSQL's user can read, briefly. */
async function withPwfile<T>(config: Config, uid: number, fn: (path: string | undefined) => Promise<T>): Promise<T> {
  const password = config.postgresql.authentication.superuser.password;
  if (password === undefined) return fn(undefined);
  const dir = await mkdtemp(join(tmpdir(), 'pg-ha-agent-initdb-'));
  try {
    const file = join(dir, 'pwfile');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) {
      await chown(dir, uid, -1);
      await chown(file, uid, -1);
    }
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runInitdb(o: BootstrapOptions): Promise<void> {
  const initdb = await requireBinary(o.config, 'initdb');
  const uid = await runUid(o.runner);
  await withPwfile(o.config, uid, async (pwfile) => {
    const args = initdbArgs({
      dataDir: o.config.postgresql.data_dir,
      superuser: o.config.postgresql.authentication.superuser.username,
      ...(pwfile !== undefined ? { pwfile } : {}),
      options: o.config.bootstrap.initdb,
    });
    const res = await o.runner.run(initdb, args, { timeoutMs: 300_000, env: PG_ENV, ...(o.signal ? { signal: o.signal } : {}) });
    if (res.exitCode !== 0) {
      const out = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-15).join('\n');
      throw new PgError('bootstrap-failed', `initdb failed (exit ${res.exitCode ?? res.signal}):\n${out}`, { retryable: false });
    }
  });
}

export async function createRoles(conn: SqlConnection, config: Config, logger: Logger, signal?: AbortSignal): Promise<void> {
  const q = signal ? { signal } : {};
  // Belt and braces: nothing below carries a cleartext password, and nothing is logged anyway.
  await conn.query(`SET log_statement TO 'none'`, [], q);
  for (const r of roleStatements(config)) {
    const rows = await conn.query<{ n: number }>('SELECT 1 AS n FROM pg_catalog.pg_roles WHERE rolname = $1', [r.role], q);
    await conn.query(rows.length > 0 ? r.alter : r.create, [], q);
    for (const g of r.grants) await conn.query(g, [], q);
    logger.info({ role: r.role, existed: rows.length > 0, grants: r.grants.length }, 'role ready');
  }
}

export async function bootstrapPrimary(o: BootstrapOptions): Promise<BootstrapResult> {
  const t0 = performance.now();
  const log = o.logger;
  await requireEmptyDataDir(o.config, o.runner, 'bootstrap');
  await runInitdb(o);
  log.info({ dataDir: o.config.postgresql.data_dir, durationMs: Math.round(performance.now() - t0) }, 'initdb done');
  await o.supervisor.updateConfig(o.dynamicConfig, o.signal);
  await o.supervisor.start({ role: 'primary', timeoutMs: o.startTimeoutMs ?? 60_000, ...(o.signal ? { signal: o.signal } : {}) });
  try {
    const systemIdentifier = await withSqlConnection(
      { target: localTarget(o.config), logger: log, timeoutMs: 30_000, applicationName: 'pg-ha-agent bootstrap' },
      async (conn) => {
        await createRoles(conn, o.config, log, o.signal);
        const [row] = await conn.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()');
        if (!row) throw new Error('pg_control_system() returned no row');
        return row.id;
      },
    );
    const durationMs = Math.round(performance.now() - t0);
    log.info({ systemIdentifier, durationMs }, 'bootstrap done');
    return { systemIdentifier, durationMs };
  } catch (err) {
    // An unannounced primary must not keep running; the data directory stays for inspection (S5).
    await o.supervisor.stop({ mode: 'fast', timeoutMs: 30_000 }).catch(() => undefined);
    const dir = pgPaths(o.config).dataDir;
    throw new PgError('bootstrap-failed', `bootstrap failed after initdb (data directory ${dir} left in place): ${errorMessage(err)}`, {
      cause: err,
      retryable: false,
    });
  }
}
