// Pure argument builders for the PostgreSQL binaries. Nothing here runs anything, and no argument
// ever carries a password (libpq reads it from the pgpass file).
import { PgError } from './errors.js';

export type PgOptionList = readonly (string | Readonly<Record<string, string>>)[];

/** Quote one word for /bin/sh: pg_ctl hands `-o` to a shell. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_.\-/=:,@%+]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function secs(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

export interface PgCtlStart {
  readonly dataDir: string;
  readonly logFile: string;
  readonly timeoutMs: number;
  /** Set when postgresql.conf lives outside the data directory. */
  readonly configFile?: string;
}

export function pgCtlStartArgs(o: PgCtlStart): string[] {
  const args = ['start', '-D', o.dataDir, '-w', '-t', secs(o.timeoutMs), '-l', o.logFile];
  if (o.configFile !== undefined) args.push('-o', `-c ${shellQuote(`config_file=${o.configFile}`)}`);
  return args;
}

export type StopMode = 'smart' | 'fast' | 'immediate';

export function pgCtlStopArgs(o: { dataDir: string; mode: StopMode; timeoutMs: number }): string[] {
  return ['stop', '-D', o.dataDir, '-m', o.mode, '-w', '-t', secs(o.timeoutMs)];
}

export function pgCtlReloadArgs(dataDir: string): string[] {
  return ['reload', '-D', dataDir];
}

export function controldataArgs(dataDir: string): string[] {
  return ['-D', dataDir];
}

/** Options as Patroni spells them: `- data-checksums`, `- encoding: UTF8`. */
export function longOptions(where: string, options: PgOptionList, forbidden: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const opt of options) {
    const pairs: [string, string | null][] = typeof opt === 'string' ? [[opt, null]] : Object.entries(opt);
    for (const [name, value] of pairs) {
      if (!/^[a-z][a-z0-9-]*$/i.test(name)) {
        throw new PgError('bad-config', `${where}: invalid option name ${JSON.stringify(name)}`, { retryable: false });
      }
      if (forbidden.has(name)) {
        throw new PgError('bad-config', `${where}: option ${name} is set by the agent and cannot be given`, { retryable: false });
      }
      out.push(value === null ? `--${name}` : `--${name}=${value}`);
    }
  }
  return out;
}

const INITDB_FORBIDDEN = new Set(['pgdata', 'D', 'username', 'U', 'pwfile', 'pwprompt', 'W', 'sync-only', 'S']);

export interface Initdb {
  readonly dataDir: string;
  readonly superuser: string;
  readonly pwfile?: string;
  readonly options: PgOptionList;
}

export function initdbArgs(o: Initdb): string[] {
  const user = longOptions('bootstrap.initdb', o.options, INITDB_FORBIDDEN);
  const args = ['-D', o.dataDir, `--username=${o.superuser}`];
  if (o.pwfile !== undefined) args.push(`--pwfile=${o.pwfile}`);
  if (!user.includes('--data-checksums')) args.push('--data-checksums');
  return [...args, ...user];
}

const BASEBACKUP_FORBIDDEN = new Set([
  'pgdata', 'D', 'wal-method', 'X', 'dbname', 'd', 'host', 'h', 'port', 'p', 'username', 'U',
  'write-recovery-conf', 'R', 'format', 'F', 'password', 'W', 'no-password', 'w',
]);

export interface Basebackup {
  readonly dataDir: string;
  /** Without password: it comes from PGPASSFILE. */
  readonly conninfo: string;
  readonly options: PgOptionList;
}

export function basebackupArgs(o: Basebackup): string[] {
  const user = longOptions('postgresql.basebackup', o.options, BASEBACKUP_FORBIDDEN);
  const args = ['-D', o.dataDir, '-X', 'stream', '-d', o.conninfo, '--no-password'];
  if (!user.some((a) => a.startsWith('--checkpoint'))) args.push('--checkpoint=fast');
  return [...args, ...user];
}

export interface Rewind {
  readonly dataDir: string;
  readonly sourceConninfo: string;
  /** Fetch WAL missing from pg_wal with restore_command (pg_rewind -c). */
  readonly restoreTargetWal: boolean;
  readonly configFile?: string;
}

export function rewindArgs(o: Rewind): string[] {
  const args = ['-D', o.dataDir, '--source-server', o.sourceConninfo];
  if (o.restoreTargetWal) args.push('--restore-target-wal');
  if (o.configFile !== undefined) args.push(`--config-file=${o.configFile}`);
  return args;
}

/** postgres --single: crash recovery ending in a shutdown checkpoint, for an exact pg_control. */
export function singleUserArgs(o: { dataDir: string; settings: Readonly<Record<string, string>>; configFile?: string }): string[] {
  const args = ['--single', '-D', o.dataDir];
  if (o.configFile !== undefined) args.push('-c', `config_file=${o.configFile}`);
  for (const [k, v] of Object.entries(o.settings).sort(([a], [b]) => a.localeCompare(b))) args.push('-c', `${k}=${v}`);
  return [...args, 'template1'];
}

export function waldumpArgs(o: { walDir: string; timeline: number; startLsn: string; records: number }): string[] {
  return ['-p', o.walDir, '-t', String(o.timeline), '-s', o.startLsn, '-n', String(o.records)];
}
