// The postgresql section: addresses, directories, credentials and PostgreSQL knobs.
import { dirname, join } from 'node:path';
import { parseListen } from './address.js';
import { connectAddress, optionalPath, report, requiredString, type BuildCtx } from './build-ctx.js';
import { joinPath } from './errors.js';
import { optionList } from './options.js';
import { findBinDir, missingBinaries, resolveConfigPath } from './paths.js';
import { hbaProblems, parameterProblems, shellSafePathProblem } from './pg-rules.js';
import { bool, obj, scalarMap, str, strList, type Raw } from './read.js';
import { CALLBACK_NAMES } from './schema.js';
import type { CallbackName, Credentials, DynamicConfig, HostPort, PostgresqlConfig } from './types.js';

const CREDENTIAL_OPTIONS = ['sslmode', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl', 'sslcrldir', 'gssencmode', 'channel_binding'] as const;
const BASEBACKUP_FORBIDDEN = ['pgdata', 'D', 'format', 'F', 'wal-method', 'X', 'write-recovery-conf', 'R'];

function credentials(ctx: BuildCtx, raw: Raw | undefined, who: 'superuser' | 'replication' | 'rewind'): Credentials | undefined {
  const prefix = `postgresql.authentication.${who}`;
  if (raw === undefined && who === 'rewind') return undefined;
  const username = requiredString(ctx, raw, prefix, 'username');
  if (username === undefined) return undefined;
  const out: Record<string, string> = { username };
  for (const key of ['password', ...CREDENTIAL_OPTIONS]) {
    const v = str(raw, key);
    if (v !== undefined) out[key] = v;
  }
  return out as unknown as Credentials;
}

function authentication(ctx: BuildCtx, raw: Raw | undefined): PostgresqlConfig['authentication'] | undefined {
  const auth = obj(raw, 'authentication');
  const superuser = credentials(ctx, obj(auth, 'superuser'), 'superuser');
  const replication = credentials(ctx, obj(auth, 'replication'), 'replication');
  const rewind = credentials(ctx, obj(auth, 'rewind'), 'rewind');
  if (superuser === undefined || replication === undefined) return undefined;
  return rewind === undefined ? { superuser, replication } : { superuser, replication, rewind };
}

function binDir(ctx: BuildCtx, raw: Raw | undefined): string | undefined {
  const given = str(raw, 'bin_dir');
  if (given === undefined || given.trim() === '') {
    const found = findBinDir(ctx.env['PATH'], ctx.probe);
    if (found === undefined) {
      ctx.sink.problem('postgresql.bin_dir', 'is not set and pg_ctl was found neither on PATH nor in /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin: set it');
    }
    return found;
  }
  const dir = report(ctx, 'postgresql.bin_dir', resolveConfigPath(given, ctx.cwd));
  if (dir === undefined) return undefined;
  if (!ctx.probe.isDirectory(dir)) {
    ctx.sink.problem('postgresql.bin_dir', `${dir} is not a directory`);
    return undefined;
  }
  const missing = missingBinaries(dir, ctx.probe);
  if (missing.length > 0) ctx.sink.problem('postgresql.bin_dir', `${dir} has no executable ${missing.join(', ')}`);
  return dir;
}

function callbacks(raw: Raw | undefined): Partial<Record<CallbackName, string>> {
  const cb = obj(raw, 'callbacks');
  const out: Partial<Record<CallbackName, string>> = {};
  for (const name of CALLBACK_NAMES) {
    const v = str(cb, name);
    if (v !== undefined && v.trim() !== '') out[name] = v;
  }
  return out;
}

function replicaMethods(ctx: BuildCtx, raw: Raw | undefined): string[] {
  const methods = strList(raw, 'create_replica_methods');
  if (methods === undefined) return ['basebackup'];
  if (methods.length === 0) ctx.sink.problem('postgresql.create_replica_methods', 'must name at least one method (basebackup)');
  methods.forEach((m, i) => {
    if (m !== 'basebackup') ctx.sink.problem(`postgresql.create_replica_methods[${i}]`, `unknown replica method "${m}": only basebackup is supported`);
  });
  return methods;
}

export function hba(ctx: BuildCtx, lines: string[], path: string): string[] {
  for (const p of hbaProblems(lines, path)) ctx.sink.problem(p.path, p.message);
  return lines;
}

/** parameters.port / listen_addresses would fight the values the agent derives from listen. */
function parameters(ctx: BuildCtx, raw: Raw | undefined, listen: { addresses: string; port: number } | undefined): PostgresqlConfig['parameters'] {
  const params = scalarMap(obj(raw, 'parameters'));
  for (const p of parameterProblems(params, 'postgresql.parameters')) ctx.sink.problem(p.path, p.message);
  if (listen === undefined) return params;
  const port = params['port'];
  if (port !== undefined && String(port) !== String(listen.port)) {
    ctx.sink.problem('postgresql.parameters.port', `conflicts with postgresql.listen (port ${listen.port}): the agent sets port from listen`);
  }
  const addrs = params['listen_addresses'];
  if (addrs !== undefined && String(addrs).replace(/\s/g, '') !== listen.addresses) {
    ctx.sink.problem('postgresql.parameters.listen_addresses', `conflicts with postgresql.listen (${listen.addresses}): the agent sets listen_addresses from listen`);
  }
  return params;
}

function listenAndConnect(ctx: BuildCtx, raw: Raw | undefined): { listen?: { addresses: string; port: number }; connect?: HostPort } {
  const text = requiredString(ctx, raw, 'postgresql', 'listen');
  const parsed = text === undefined ? undefined : report(ctx, 'postgresql.listen', parseListen(text));
  const first = parsed?.addresses[0];
  const asHostPort = parsed === undefined || first === undefined ? undefined : { host: first, port: parsed.port };
  const single = parsed !== undefined && parsed.addresses.length === 1;
  const connect = connectAddress(ctx, raw, 'postgresql', asHostPort, single);
  const listen = parsed === undefined ? undefined : { addresses: parsed.addresses.join(','), port: parsed.port };
  return { ...(listen === undefined ? {} : { listen }), ...(connect === undefined ? {} : { connect }) };
}

export function buildPostgresql(ctx: BuildCtx, raw: Raw | undefined, name: string | undefined, dcs: DynamicConfig): PostgresqlConfig | undefined {
  const { listen, connect } = listenAndConnect(ctx, raw);
  const dataText = requiredString(ctx, raw, 'postgresql', 'data_dir');
  const dataDir = dataText === undefined ? undefined : report(ctx, 'postgresql.data_dir', resolveConfigPath(dataText, ctx.cwd));
  const configDir = optionalPath(ctx, raw, 'postgresql', 'config_dir') ?? dataDir;
  for (const [key, path] of [['data_dir', dataDir], ['config_dir', configDir]] as const) {
    const problem = path === undefined ? null : shellSafePathProblem(path);
    if (problem !== null && !(key === 'config_dir' && path === dataDir)) ctx.sink.problem(`postgresql.${key}`, problem);
  }
  const pgpass = optionalPath(ctx, raw, 'postgresql', 'pgpass')
    ?? (dataDir === undefined ? undefined : join(dirname(dataDir), `pgpass_${name ?? 'agent'}`));
  const bin = binDir(ctx, raw);
  const auth = authentication(ctx, raw);
  const out = {
    parameters: parameters(ctx, raw, listen),
    pg_hba: hba(ctx, strList(raw, 'pg_hba') ?? [], 'postgresql.pg_hba'),
    callbacks: callbacks(raw),
    use_pg_rewind: bool(raw, 'use_pg_rewind') ?? dcs.postgresql.use_pg_rewind,
    remove_data_directory_on_rewind_failure: bool(raw, 'remove_data_directory_on_rewind_failure') ?? false,
    create_replica_methods: replicaMethods(ctx, raw),
    basebackup: optionList(ctx, raw?.['basebackup'], joinPath('postgresql', 'basebackup'), { allowMap: true, forbidden: BASEBACKUP_FORBIDDEN }),
  };
  if (listen === undefined || connect === undefined || dataDir === undefined || configDir === undefined || pgpass === undefined || bin === undefined || auth === undefined) {
    return undefined;
  }
  return { listen, connect_address: connect, data_dir: dataDir, config_dir: configDir, bin_dir: bin, pgpass, authentication: auth, ...out };
}
