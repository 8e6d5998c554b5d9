// SQL connections to PostgreSQL with hard bounds: a connect timeout, a server-side
// statement_timeout and a client-side deadline that destroys the socket, so a hung server is
// reported as such instead of being waited on forever.
import pg from 'pg';
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Config, Credentials } from '../config/types.js';
import { PgError } from './errors.js';

export interface SqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
  readonly ssl?: ConnectionOptions | false;
}

export type SqlErrorKind = 'connect' | 'timeout' | 'aborted' | 'server' | 'closed';

export class SqlError extends PgError {
  readonly kind: SqlErrorKind;
  /** SQLSTATE of a server error (e.g. 57P03 "starting up"), else null. */
  readonly sqlState: string | null;
  constructor(kind: SqlErrorKind, message: string, sqlState: string | null, cause?: unknown) {
    super(kind === 'timeout' ? 'timeout' : kind === 'aborted' ? 'aborted' : 'query-failed', message, { cause });
    this.name = 'SqlError';
    this.kind = kind;
    this.sqlState = sqlState;
  }
}

export interface QueryOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface SqlConnection {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]>;
  close(): Promise<void>;
}

export interface SqlConnectionOptions {
  readonly target: SqlTarget;
  readonly logger: Logger;
  /** Default client-side deadline per query (ms); statement_timeout is set a little below it. */
  readonly timeoutMs: number;
  readonly applicationName?: string;
}

/**
 * node-postgres TLS settings from libpq-style credentials: require encrypts without checking the
 * certificate, verify-ca/verify-full check it against sslrootcert (verify-full also the host
 * name). disable/allow/prefer connect in clear (node-postgres has no fallback).
 */
export function pgSsl(c: Credentials): ConnectionOptions | false {
  const mode = c.sslmode ?? 'prefer';
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full') return false;
  const file = (path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new PgError('bad-config', `cannot read TLS file ${path} for user ${c.username}: ${(err as Error).message}`, { cause: err, retryable: false });
    }
  };
  const verify = mode !== 'require';
  const ca = verify ? file(c.sslrootcert) : undefined;
  const cert = file(c.sslcert);
  const key = file(c.sslkey);
  return {
    rejectUnauthorized: verify,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(c.sslpassword !== undefined ? { passphrase: c.sslpassword } : {}),
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

export function credentialsTarget(c: Credentials, host: string, port: number): SqlTarget {
  return {
    host,
    port,
    user: c.username,
    ...(c.password !== undefined ? { password: c.password } : {}),
    database: 'postgres',
    ssl: pgSsl(c),
  };
}

/** Where the agent reaches its own PostgreSQL: the first listen address (a wildcard means loopback). */
export function localTarget(config: Config): SqlTarget {
  const first = config.postgresql.listen.addresses.split(',')[0]?.trim() ?? '';
  const host = first === '' || first === '*' || first === '0.0.0.0' ? '127.0.0.1' : first === '::' ? '::1' : first;
  return credentialsTarget(config.postgresql.authentication.superuser, host, config.postgresql.listen.port);
}

function sqlStateOf(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => undefined);
}

/** One reusable connection, re-opened after any connection-level failure. */
export function createSqlConnection(opts: SqlConnectionOptions): SqlConnection {
  const st: ConnectionState = { opts, client: null, connecting: null, closed: false };
  return {
    query<T>(text: string, params: readonly unknown[] = [], qo: QueryOptions = {}): Promise<T[]> {
      return runQuery<T>(st, text, params, qo);
    },
    close: () => closeConnection(st),
  };
}

interface ConnectionState {
  readonly opts: SqlConnectionOptions;
  client: pg.Client | null;
  connecting: Promise<pg.Client> | null;
  closed: boolean;
}

function drop(st: ConnectionState, c: pg.Client): void {
  if (st.client === c) st.client = null;
  destroy(c);
}

async function connect(st: ConnectionState, deadlineMs: number): Promise<pg.Client> {
  const { opts } = st;
  const c = new pg.Client({
    host: opts.target.host,
    port: opts.target.port,
    user: opts.target.user,
    database: opts.target.database,
    ...(opts.target.password !== undefined ? { password: opts.target.password } : {}),
    ...(opts.target.ssl ? { ssl: opts.target.ssl } : {}),
    connectionTimeoutMillis: Math.max(1, deadlineMs),
    statement_timeout: Math.max(1, opts.timeoutMs - 50),
    application_name: opts.applicationName ?? 'pg-ha-agent',
    keepAlive: true,
  });
  c.on('error', (err) => {
    opts.logger.debug({ err }, 'postgres connection error');
    drop(st, c);
  });
  c.on('end', () => {
    if (st.client === c) st.client = null;
  });
  await c.connect();
  return c;
}

async function getClient(st: ConnectionState, deadlineMs: number): Promise<pg.Client> {
  if (st.client) return st.client;
  st.connecting ??= connect(st, deadlineMs).finally(() => {
    st.connecting = null;
  });
  const c = await st.connecting;
  if (st.closed) {
    destroy(c);
    throw new SqlError('closed', 'connection closed', null);
  }
  st.client = c;
  return c;
}

async function runQuery<T>(st: ConnectionState, text: string, params: readonly unknown[], qo: QueryOptions): Promise<T[]> {
  const { opts } = st;
  if (st.closed) throw new SqlError('closed', 'connection closed', null);
  const timeoutMs = qo.timeoutMs ?? opts.timeoutMs;
  return withDeadline(timeoutMs, qo.signal, async (started) => {
    let c: pg.Client;
    try {
      c = await getClient(st, timeoutMs);
    } catch (err) {
      throw new SqlError('connect', `cannot connect to ${opts.target.host}:${opts.target.port}: ${describe(err)}`, sqlStateOf(err), err);
    }
    // The caller may have given up while we connected: do not start a query nobody awaits.
    if (!started(c)) throw new SqlError('timeout', 'gave up before the query was sent', null);
    try {
      const res = await c.query(text, params as unknown[]);
      return res.rows as T[];
    } catch (err) {
      const state = sqlStateOf(err);
      if (state === null) drop(st, c);
      throw new SqlError(state ? 'server' : 'connect', `query failed: ${describe(err)}`, state, err);
    }
  }, (c) => {
    if (c) drop(st, c);
  });
}

async function closeConnection(st: ConnectionState): Promise<void> {
  st.closed = true;
  const c = st.client;
  st.client = null;
  if (c) await c.end().catch(() => undefined);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}

/**
 * Run fn under a deadline and an AbortSignal. On either, `onGiveUp` destroys the connection fn
 * was using (a hung backend does not get to hold the next query hostage).
 */
async function withDeadline<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  fn: (started: (c: pg.Client) => boolean) => Promise<T>,
  onGiveUp: (c: pg.Client | null) => void,
): Promise<T> {
  if (signal?.aborted) throw new SqlError('aborted', 'query aborted', null, signal.reason);
  let used: pg.Client | null = null;
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      gaveUp = true;
      onGiveUp(used);
      reject(new SqlError('timeout', `no answer from PostgreSQL within ${timeoutMs}ms`, null));
    }, timeoutMs);
    onAbort = () => {
      gaveUp = true;
      onGiveUp(used);
      reject(new SqlError('aborted', 'query aborted', null, signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const started = (c: pg.Client): boolean => {
      used = c;
      return !gaveUp;
    };
    return await Promise.race([fn(started), giveUp]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Open, use and close a connection (for the leader or a one-off task). */
export async function withSqlConnection<T>(
  opts: SqlConnectionOptions,
  fn: (conn: SqlConnection) => Promise<T>,
): Promise<T> {
  const conn = createSqlConnection(opts);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}
