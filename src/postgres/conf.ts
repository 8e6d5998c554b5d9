// Pure renderers for the files the agent owns: postgresql.conf (managed parameters), the replica
// include, pg_hba.conf and the pgpass file; plus conninfo strings and slot names.
import { PARAM_NAME } from '../config/pg-rules.js';
import type { Config, Credentials, DynamicConfig } from '../config/types.js';
import { BASE_CONF_NAME, REPLICA_CONF_NAME } from './paths.js';
import type { PgPaths } from './paths.js';
import { PgError } from './errors.js';

export type ParamValue = string | number | boolean;

const DEFAULTS: Readonly<Record<string, ParamValue>> = {
  max_wal_senders: 10,
  max_replication_slots: 10,
  // PostgreSQL retries a failed WAL source every 5 s by default; a replica must find its new
  // leader well within a second of a promotion (SPEC 10).
  wal_retrieve_retry_interval: '500ms',
  wal_level: 'replica',
};

/** Set from other parts of the configuration (or required for HA); parameters cannot change them. */
const OWNED = new Set([
  'listen_addresses',
  'port',
  'hot_standby',
  'wal_log_hints',
  'hba_file',
  'ident_file',
  'config_file',
  'data_directory',
  'primary_conninfo',
  'primary_slot_name',
  'recovery_target_timeline',
]);

const NAME = PARAM_NAME;

export interface ManagedParameters {
  readonly params: ReadonlyMap<string, ParamValue>;
  /** User parameters the agent overrode, to be logged once as a warning. */
  readonly overridden: readonly string[];
}

function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new PgError('bad-config', `${where}: invalid PostgreSQL parameter name ${JSON.stringify(name)}`, { retryable: false });
  }
}

export function managedParameters(config: Config, dynamic: DynamicConfig | null, paths: PgPaths): ManagedParameters {
  const params = new Map<string, ParamValue>(Object.entries(DEFAULTS));
  params.set('cluster_name', config.scope);
  const overridden: string[] = [];
  const layers: [string, Readonly<Record<string, ParamValue>>][] = [
    ['config.postgresql.parameters', dynamic?.postgresql.parameters ?? {}],
    ['postgresql.parameters', config.postgresql.parameters],
  ];
  for (const [where, layer] of layers) {
    for (const [rawName, value] of Object.entries(layer)) {
      checkName(rawName, where);
      const name = rawName.toLowerCase();
      if (OWNED.has(name)) overridden.push(name);
      else params.set(name, value);
    }
  }
  if (params.get('wal_level') !== 'logical') params.set('wal_level', 'replica');
  params.set('listen_addresses', config.postgresql.listen.addresses);
  params.set('port', config.postgresql.listen.port);
  params.set('hot_standby', true);
  params.set('wal_log_hints', true);
  params.set('hba_file', paths.hbaFile);
  if (paths.configDir !== paths.dataDir) params.set('ident_file', `${paths.dataDir}/pg_ident.conf`);
  return { params, overridden: [...new Set(overridden)] };
}

/** A value as postgresql.conf wants it. */
export function confValue(value: ParamValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PgError('bad-config', `parameter value is not a finite number: ${value}`, { retryable: false });
    return String(value);
  }
  if (/[\n\r\0]/.test(value)) {
    throw new PgError('bad-config', 'parameter value contains a line break or NUL', { retryable: false });
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const HEADER = [
  '# Managed by pg-ha-agent: rewritten on every start and configuration change. Do not edit;',
  '# set parameters in the agent configuration (postgresql.parameters) or with agentctl edit-config.',
];

export function renderPostgresqlConf(managed: ManagedParameters): string {
  const lines = [...HEADER, `include '${BASE_CONF_NAME}'`, ''];
  for (const [name, value] of [...managed.params.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${name} = ${confValue(value)}`);
  }
  lines.push('', `include_if_exists '${REPLICA_CONF_NAME}'`, '');
  return lines.join('\n');
}

export interface UpstreamNode {
  readonly host: string;
  readonly port: number;
  /** Member name of the upstream, for logs only. */
  readonly name: string;
}

export interface ReplicaSettings {
  readonly upstream: UpstreamNode;
  /** This member's name: application_name on the upstream. */
  readonly applicationName: string;
  /** Slot on the upstream; null when slots are not used. */
  readonly slotName: string | null;
  /** False for a nostream member: no primary_conninfo, WAL comes from restore_command only. */
  readonly stream?: boolean;
}

export function renderReplicaConf(replica: ReplicaSettings | null, config: Config): string {
  const lines = ['# Managed by pg-ha-agent: replica settings; empty on a primary.'];
  if (replica) {
    // Written empty for a nostream member, so no earlier upstream lingers.
    const streams = replica.stream !== false;
    lines.push(`primary_conninfo = ${confValue(streams ? primaryConninfo(replica, config) : '')}`);
    lines.push(`primary_slot_name = ${confValue(replica.slotName ?? '')}`);
    lines.push(`recovery_target_timeline = 'latest'`);
  }
  return lines.join('\n') + '\n';
}

/** A conninfo keyword value, quoted when libpq needs it. */
export function conninfoValue(value: string): string {
  if (/^[A-Za-z0-9_.\-/:@]+$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function conninfo(pairs: Readonly<Record<string, string | number | undefined>>): string {
  return Object.entries(pairs)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/**
 * The libpq options a credentials block may carry (Patroni passes them through). sslpassword is a
 * secret: it may go into primary_conninfo (a 0600 file), never into a command line.
 */
export function libpqOptions(c: Credentials, where: 'file' | 'argv'): Record<string, string> {
  const out: Record<string, string> = { sslmode: c.sslmode ?? 'prefer' };
  const keys = ['sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslcrldir', 'channel_binding'] as const;
  for (const k of keys) {
    const v = c[k];
    if (v !== undefined) out[k] = v;
  }
  // GSS encryption negotiation costs a round trip on hosts without Kerberos; opt in explicitly.
  out.gssencmode = c.gssencmode ?? 'disable';
  if (where === 'file' && c.sslpassword !== undefined) out.sslpassword = c.sslpassword;
  return out;
}

/** Passwords come from the pgpass file (passfile=), never from the conninfo itself. */
export function primaryConninfo(replica: ReplicaSettings, config: Config): string {
  const repl = config.postgresql.authentication.replication;
  return conninfo({
    user: repl.username,
    passfile: config.postgresql.pgpass,
    host: replica.upstream.host,
    port: replica.upstream.port,
    application_name: replica.applicationName,
    target_session_attrs: 'any',
    ...libpqOptions(repl, 'file'),
  });
}

/** Strip any password from a conninfo (key=value or URI form) before it is shown or logged. */
export function redactConninfo(text: string): string {
  return text
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1********')
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1********@');
}

/** Patroni's slot_name_from_member_name, so slots carry the same names under both agents. */
export function slotNameForMember(member: string): string {
  const slot = member.toLowerCase().replace(/[^a-z0-9_]/g, (c) => (c === '-' || c === '.' ? '_' : `u${c.charCodeAt(0).toString().padStart(4, '0')}`));
  return slot.slice(0, 63);
}

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

function pgpassField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** One wildcard line per role that has a password (superuser, replication, rewind). */
export function renderPgpass(config: Config): string {
  const auth = config.postgresql.authentication;
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const c of [auth.replication, auth.rewind, auth.superuser]) {
    if (!c || c.password === undefined || seen.has(c.username)) continue;
    seen.add(c.username);
    lines.push(`*:*:*:${pgpassField(c.username)}:${pgpassField(c.password)}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}
