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
  checkUpstream(replica.upstream);
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

// The pgpass file (issue: credentials scoped to their hosts). Patroni writes
// `host:port:*:user:password` for the exact target of each connection; so do we. A wildcard host
// would hand the replication, rewind or superuser password to whatever host a member's conn_url in
// etcd names, since libpq sends the password of the first matching line to the server it reached.

/** A host:port something will connect to with the pgpass file, and as whom. */
export interface PgpassEntry {
  readonly host: string;
  readonly port: number;
  readonly credentials: Credentials;
  /** Member name, for error messages (a remote target). */
  readonly name?: string;
}

/** Any ASCII control character (line breaks, NUL, tabs, escape sequences). */
function hasControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * A host (from a member's conn_url in etcd) that libpq is about to be pointed at must be one plain
 * host name, address or socket directory: a line break would add lines to the pgpass file, `*`
 * would be its wildcard, a comma makes libpq try several hosts that no pgpass line names, and
 * blanks or quotes have no business in a host name. Refused with a PgError('bad-upstream').
 */
export function checkUpstream(node: { readonly host: string; readonly port: number; readonly name?: string }): void {
  const who = node.name === undefined ? 'upstream' : `member ${JSON.stringify(node.name)}`;
  const bad = (why: string): PgError =>
    new PgError('bad-upstream', `${who} has host ${JSON.stringify(node.host)} port ${String(node.port)}: ${why}; refusing to connect to it or write it to the pgpass file`, { retryable: false });
  if (node.host === '') throw bad('the host is empty');
  if (node.host === '*') throw bad('"*" is the pgpass wildcard');
  if (hasControl(node.host)) throw bad('the host contains a line break or control character');
  if (/[\s,'"\\]/.test(node.host)) throw bad('the host contains a blank, comma, quote or backslash');
  if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65535) throw bad('the port is not a TCP port number');
}

function pgpassField(v: string, what: string): string {
  if (/[\n\r\0]/.test(v)) {
    throw new PgError('bad-config', `pgpass: a ${what} contains a line break or NUL`, { retryable: false });
  }
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** A field libpq matches against (host, user): a lone `*` would be the wildcard, so escape it. */
function pgpassMatchField(v: string, what: string): string {
  const escaped = pgpassField(v, what);
  return escaped === '*' ? '\\*' : escaped;
}

const WILDCARD_LISTEN = new Set(['', '*', '0.0.0.0', '::']);

function listParameter(config: Config, name: string): string[] {
  const entry = Object.entries(config.postgresql.parameters).find(([k]) => k.toLowerCase() === name);
  if (entry === undefined || typeof entry[1] !== 'string') return [];
  return entry[1].split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1')).filter((s) => s !== '');
}

/**
 * The local node's own addresses with its own port, for the superuser (the role local
 * connections use): localhost (which also matches the default socket directory), 127.0.0.1, ::1,
 * the configured unix_socket_directories, the listen addresses and connect_address.
 */
export function localPgpassEntries(config: Config): PgpassEntry[] {
  const pg = config.postgresql;
  const credentials = pg.authentication.superuser;
  const hosts = [
    'localhost',
    '127.0.0.1',
    '::1',
    ...listParameter(config, 'unix_socket_directories'),
    ...pg.listen.addresses.split(',').map((a) => a.trim()).filter((a) => !WILDCARD_LISTEN.has(a)),
  ];
  const out: PgpassEntry[] = hosts.map((host) => ({ host, port: pg.listen.port, credentials }));
  if (!WILDCARD_LISTEN.has(pg.connect_address.host)) out.push({ host: pg.connect_address.host, port: pg.connect_address.port, credentials });
  return out;
}

/** A replica's upstream or a clone's source: the replication user (primary_conninfo, pg_basebackup). */
export function replicationPgpassEntry(config: Config, node: UpstreamNode): PgpassEntry {
  return { host: node.host, port: node.port, name: node.name, credentials: config.postgresql.authentication.replication };
}

/** The source of pg_rewind: the rewind user, else the superuser (as rewind() connects). */
export function rewindPgpassEntry(config: Config, node: UpstreamNode): PgpassEntry {
  const auth = config.postgresql.authentication;
  return { host: node.host, port: node.port, name: node.name, credentials: auth.rewind ?? auth.superuser };
}

/**
 * One `host:port:*:user:password` line per target and role with a password: first the remote
 * targets (each checked with checkUpstream), then the local node's addresses. Never a wildcard
 * host or port. A later line for the same host, port and user is dropped (libpq takes the first).
 */
export function renderPgpass(config: Config, remote: readonly PgpassEntry[] = []): string {
  for (const e of remote) checkUpstream(e);
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const e of [...remote, ...localPgpassEntries(config)]) {
    const c = e.credentials;
    if (c.password === undefined) continue;
    const key = `${e.host}\0${e.port}\0${c.username}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
      throw new PgError('bad-config', `pgpass: ${e.port} is not a TCP port number`, { retryable: false });
    }
    lines.push(`${pgpassMatchField(e.host, 'host')}:${e.port}:*:${pgpassMatchField(c.username, 'user name')}:${pgpassField(c.password, 'password')}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/**
 * The upstream the replica include names (host and port of its primary_conninfo, as
 * renderReplicaConf writes it), or null: a primary, a nostream member, no include, or a host that
 * checkUpstream would refuse.
 */
export function upstreamOfReplicaConf(text: string): { readonly host: string; readonly port: number } | null {
  const m = /^primary_conninfo\s*=\s*'((?:[^'\\]|''|\\.)*)'\s*$/m.exec(text);
  if (!m || m[1] === undefined) return null;
  const info = parseConninfo(m[1].replace(/''|\\(.)/g, (_all, c: string | undefined) => c ?? "'"));
  const host = info.get('host');
  if (host === undefined) return null;
  const portText = info.get('port') ?? '5432';
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  try {
    checkUpstream({ host, port });
  } catch {
    return null;
  }
  return { host, port };
}

/** key=value pairs of a conninfo string (libpq's syntax: values bare or single-quoted, `\` escapes). */
export function parseConninfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const blank = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);
  while (i < n) {
    while (blank(text[i])) i++;
    if (i >= n) break;
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (key === undefined) break;
    i += key.length;
    while (blank(text[i])) i++;
    if (text[i] !== '=') break;
    i++;
    while (blank(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < n && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      while (i < n && !blank(text[i])) {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
    }
    out.set(key, value);
  }
  return out;
}
