// Where the agent's PostgreSQL files live. One place, so every module agrees on the names.
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { PgError } from './errors.js';

export type PgBinary =
  | 'pg_ctl'
  | 'postgres'
  | 'initdb'
  | 'pg_controldata'
  | 'pg_basebackup'
  | 'pg_rewind'
  | 'pg_waldump';

export interface PgPaths {
  readonly dataDir: string;
  readonly configDir: string;
  /** The managed file; the agent rewrites it whole. */
  readonly postgresqlConf: string;
  /** initdb's original postgresql.conf, renamed; included by the managed file. */
  readonly baseConf: string;
  /** Replica settings (primary_conninfo, ...), included by the managed file; empty on a primary. */
  readonly replicaConf: string;
  readonly hbaFile: string;
  readonly identFile: string;
  readonly standbySignal: string;
  readonly postmasterPid: string;
  /** pg_ctl -l target: the postmaster's stderr until (or unless) logging_collector takes over. */
  readonly startupLog: string;
  readonly pgpass: string;
  readonly walDir: string;
}

/** Environment for every PostgreSQL binary: English output (we parse it), bounded connects. */
export const PG_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C', LANG: 'C', PGCONNECT_TIMEOUT: '5' };

export const BASE_CONF_NAME = 'postgresql.base.conf';
export const REPLICA_CONF_NAME = 'pg-ha-agent.replica.conf';
export const STARTUP_LOG_NAME = 'pg-ha-agent.postmaster.log';

export function pgPaths(config: Config): PgPaths {
  const pg = config.postgresql;
  const configDir = pg.config_dir || pg.data_dir;
  return {
    dataDir: pg.data_dir,
    configDir,
    postgresqlConf: join(configDir, 'postgresql.conf'),
    baseConf: join(configDir, BASE_CONF_NAME),
    replicaConf: join(configDir, REPLICA_CONF_NAME),
    hbaFile: join(configDir, 'pg_hba.conf'),
    identFile: join(configDir, 'pg_ident.conf'),
    standbySignal: join(pg.data_dir, 'standby.signal'),
    postmasterPid: join(pg.data_dir, 'postmaster.pid'),
    startupLog: join(pg.data_dir, STARTUP_LOG_NAME),
    pgpass: pg.pgpass,
    walDir: join(pg.data_dir, 'pg_wal'),
  };
}

/** True when postgresql.conf does not live in the data directory (Debian layout). */
export function separateConfigDir(paths: PgPaths): boolean {
  return paths.configDir !== paths.dataDir;
}

export function binPath(config: Config, name: PgBinary): string {
  return join(config.postgresql.bin_dir, name);
}

const checked = new Set<string>();

/** Resolve a PostgreSQL binary and fail with its full path when it is not there. */
export async function requireBinary(config: Config, name: PgBinary): Promise<string> {
  const path = binPath(config, name);
  if (checked.has(path)) return path;
  try {
    await access(path, constants.X_OK);
  } catch (err) {
    throw new PgError(
      'binary-missing',
      `PostgreSQL binary ${name} not found or not executable: ${path} (check postgresql.bin_dir)`,
      { cause: err, retryable: false },
    );
  }
  checked.add(path);
  return path;
}

/**
 * The uid PostgreSQL binaries run as: ours, or the runner's target user when we are root (tests).
 * Asked of the runner itself, so it is right whatever wrapping the runner does.
 */
export async function runUid(runner: Runner): Promise<number> {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) return uid;
  const res = await runner.run('id', ['-u'], { timeoutMs: 5000, logLevel: 'debug' });
  const text = res.stdout.trim();
  if (res.exitCode !== 0 || !/^\d+$/.test(text)) throw new PgError('command-failed', `cannot tell which uid commands run as (id -u: ${text})`);
  return Number(text);
}
