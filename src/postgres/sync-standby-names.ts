// synchronous_standby_names in synchronous mode: set with ALTER SYSTEM (postgresql.auto.conf,
// which overrides the managed postgresql.conf and survives a restart of the primary), reloaded,
// and read back until the server reports it, so the next observation sees what is in effect.
import type { SqlConnection } from './sql.js';
import { PgError } from './errors.js';

const AUTO_CONF = /postgresql\.auto\.conf$/;

interface SettingRow {
  readonly setting: string;
  readonly sourcefile: string | null;
}

/** A string literal for ALTER SYSTEM, which takes no bind parameters. */
export function sqlLiteral(value: string): string {
  if (value.includes('\0')) throw new PgError('bad-config', 'synchronous_standby_names contains NUL', { retryable: false });
  return `'${value.replace(/'/g, "''")}'`;
}

export async function setSyncStandbyNames(sql: SqlConnection, value: string | null, opts: { signal?: AbortSignal; waitMs?: number } = {}): Promise<void> {
  const q = opts.signal ? { signal: opts.signal } : {};
  const stmt = value === null
    ? 'ALTER SYSTEM RESET synchronous_standby_names'
    : `ALTER SYSTEM SET synchronous_standby_names = ${sqlLiteral(value)}`;
  await sql.query(stmt, [], q);
  await sql.query('SELECT pg_catalog.pg_reload_conf()', [], q);
  // The postmaster signals the backends after pg_reload_conf() returns: poll until ours has it.
  const deadline = Date.now() + (opts.waitMs ?? 2_000);
  for (;;) {
    const rows = await sql.query<SettingRow>(
      "SELECT setting, sourcefile FROM pg_catalog.pg_settings WHERE name = 'synchronous_standby_names'", [], q);
    const row = rows[0];
    const ours = row !== undefined && row.sourcefile !== null && AUTO_CONF.test(row.sourcefile);
    if (value === null ? !ours : ours && row?.setting === value) {
      await nudge(sql, q);
      return;
    }
    if (Date.now() > deadline) {
      throw new PgError('timeout', `synchronous_standby_names still ${JSON.stringify(row?.setting ?? null)} after reload (wanted ${value === null ? 'the configured value' : JSON.stringify(value)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Commits already waiting are released only when a standby next reports its flush position,
 * which an idle standby does every wal_receiver_status_interval (10 s): a little WAL makes the
 * newly named standby answer at once (Patroni does the same). Not on a replica (no xid there).
 */
async function nudge(sql: SqlConnection, q: { signal?: AbortSignal }): Promise<void> {
  await sql.query(`DO $$
BEGIN
  IF NOT pg_catalog.pg_is_in_recovery() THEN
    SET LOCAL synchronous_commit = 'off';
    PERFORM pg_catalog.txid_current();
  END IF;
END $$`, [], q);
}
