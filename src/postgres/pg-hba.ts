// pg_hba.conf: which lines (configuration, cluster config, bootstrap, or a default) and their rendering.
import type { Config, DynamicConfig } from '../config/types.js';
import { PgError } from './errors.js';

/** pg_hba lines: postgresql.pg_hba, else the cluster config's, else bootstrap.pg_hba, else a default. */
export function hbaLines(config: Config, dynamic: DynamicConfig | null): readonly string[] {
  if (config.postgresql.pg_hba.length > 0) return config.postgresql.pg_hba;
  const fromDcs = dynamic?.postgresql.pg_hba;
  if (fromDcs && fromDcs.length > 0) return fromDcs;
  if (config.bootstrap.pg_hba.length > 0) return config.bootstrap.pg_hba;
  return defaultHba(config);
}

/** Password authentication everywhere; replication only for the replication user. */
export function defaultHba(config: Config): string[] {
  const repl = config.postgresql.authentication.replication.username;
  return [
    'local   all          all                 peer',
    'host    all          all          all    scram-sha-256',
    `host    replication  ${hbaName(repl)}  all    scram-sha-256`,
  ];
}

function hbaName(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function renderPgHba(lines: readonly string[]): string {
  for (const line of lines) {
    if (/[\n\r]/.test(line)) throw new PgError('bad-config', 'pg_hba: an entry contains a line break', { retryable: false });
  }
  return ['# Managed by pg-ha-agent from the configuration (pg_hba). Do not edit.', ...lines, ''].join('\n');
}
