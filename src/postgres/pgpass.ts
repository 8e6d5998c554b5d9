// The pgpass file (issue: credentials scoped to their hosts). Patroni writes
// `host:port:*:user:password` for the exact target of each connection; so do we. A wildcard host
// would hand the replication, rewind or superuser password to whatever host a member's conn_url in
// etcd names, since libpq sends the password of the first matching line to the server it reached.
import type { Config, Credentials } from '../config/types.js';
import { PgError } from './errors.js';
import { checkUpstream } from './upstream.js';
import type { UpstreamNode } from './upstream.js';

/** A host:port something will connect to with the pgpass file, and as whom. */
export interface PgpassEntry {
  readonly host: string;
  readonly port: number;
  readonly credentials: Credentials;
  /** Member name, for error messages (a remote target). */
  readonly name?: string;
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
