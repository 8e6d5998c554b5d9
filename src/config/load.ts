// Config loading: YAML -> env overrides -> schema walk -> section builders -> cross-checks ->
// frozen Config, or ConfigError listing every problem at once.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isWildcardHost } from './address.js';
import type { BuildCtx } from './build-ctx.js';
import { bootstrap, identifier, logLevel, namespace, tags, watchdog } from './build-misc.js';
import { buildEtcd3, buildRestApi } from './build-net.js';
import { buildPostgresql } from './build-pg.js';
import { coerceStrings } from './coerce.js';
import { applyEnvOverrides } from './env.js';
import { ConfigError, ProblemSink, type ConfigProblem } from './errors.js';
import { IGNORED_KEYS, UNSUPPORTED_KEYS } from './keys.js';
import { LOCAL_REGISTRY } from './registry-local.js';
import { checkRegistry } from './registry.js';
import { nodeFsProbe, type FsProbe } from './paths.js';
import { deepFreeze, obj, type Raw } from './read.js';
import { DYNAMIC_SCHEMA, LOCAL_SCHEMA, schemaPaths } from './schema.js';
import type { Config } from './types.js';
import { describeValue, isPlainObject, walk } from './walk.js';
import { parseYaml } from './yaml.js';

export interface LoadOptions {
  /** Directory relative paths resolve against (Patroni: the working directory). */
  readonly cwd?: string;
  /** File-system facts (bin_dir contents, TLS files); a fake in unit tests. */
  readonly probe?: FsProbe;
  /** Recorded as Config.configFile (parseConfig only; loadConfig uses its file). */
  readonly configFile?: string;
  /** Accepted-and-ignored keys and other non-fatal notes. */
  readonly onWarning?: (warning: ConfigProblem) => void;
}

export type CheckResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: readonly ConfigProblem[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[] };

const LOCAL_PATHS = [...schemaPaths(LOCAL_SCHEMA), ...schemaPaths(DYNAMIC_SCHEMA, 'bootstrap.dcs')];

function overlaps(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => isWildcardHost(x)) || b.some((x) => isWildcardHost(x)) || a.some((x) => b.includes(x));
}

function crossChecks(sink: ProblemSink, c: Partial<Pick<Config, 'restapi' | 'postgresql'>>): void {
  const rest = c.restapi;
  const pg = c.postgresql;
  if (rest === undefined || pg === undefined) return;
  if (rest.listen.port === pg.listen.port && overlaps([rest.listen.host], pg.listen.addresses.split(','))) {
    sink.problem('restapi.listen', `port ${rest.listen.port} is also postgresql.listen's port on the same address`);
  }
  const rc = rest.connect_address;
  const pc = pg.connect_address;
  if (rc.port === pc.port && rc.host === pc.host && rest.listen.port !== pg.listen.port) {
    sink.problem('restapi.connect_address', `is the same address as postgresql.connect_address (${rc.host}:${rc.port})`);
  }
}

function build(raw: Raw, ctx: BuildCtx, configFile: string): Config | undefined {
  const scope = identifier(ctx, raw, 'scope');
  const name = identifier(ctx, raw, 'name');
  const ns = namespace(ctx, raw);
  const level = logLevel(ctx, obj(raw, 'log'));
  const restapi = buildRestApi(ctx, obj(raw, 'restapi'));
  const etcd3 = buildEtcd3(ctx, obj(raw, 'etcd3'), raw['etcd'] !== undefined);
  const boot = bootstrap(ctx, obj(raw, 'bootstrap'));
  const postgresql = buildPostgresql(ctx, obj(raw, 'postgresql'), name, boot.dcs);
  const tagMap = tags(ctx, obj(raw, 'tags'));
  const wd = watchdog(ctx, obj(raw, 'watchdog'));
  crossChecks(ctx.sink, { ...(restapi ? { restapi } : {}), ...(postgresql ? { postgresql } : {}) });
  if (scope === undefined || name === undefined || restapi === undefined || etcd3 === undefined || postgresql === undefined) return undefined;
  return {
    scope, namespace: ns, name, log: { level }, restapi, etcd3, bootstrap: boot, postgresql, tags: tagMap, watchdog: wd, configFile,
  };
}

/** Checks a config without throwing: for --validate-config and SIGHUP reloads. */
export function checkConfig(input: string | Raw, env: NodeJS.ProcessEnv = {}, opts: LoadOptions = {}): CheckResult {
  const sink = new ProblemSink();
  const parsed = typeof input === 'string' ? parseYaml(input, sink) : structuredClone(input);
  if (sink.problems.length > 0) return { ok: false, problems: sink.problems, warnings: sink.warnings };
  if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
    sink.problem('', `the configuration must be a YAML mapping of sections, got ${describeValue(parsed)}`);
    return { ok: false, problems: sink.problems, warnings: sink.warnings };
  }
  const raw = coerceStrings(applyEnvOverrides(isPlainObject(parsed) ? parsed : {}, env, sink), LOCAL_SCHEMA);
  walk(raw, LOCAL_SCHEMA, '', '', { ignored: IGNORED_KEYS, unsupported: UNSUPPORTED_KEYS, warnIgnored: true, allPaths: LOCAL_PATHS }, sink);
  checkRegistry(raw, LOCAL_REGISTRY, LOCAL_SCHEMA, '', sink);
  const ctx: BuildCtx = { sink, cwd: opts.cwd ?? process.cwd(), probe: opts.probe ?? nodeFsProbe, env };
  const config = build(raw, ctx, opts.configFile ?? '');
  if (sink.problems.length > 0 || config === undefined) {
    if (sink.problems.length === 0) sink.problem('', 'invalid configuration');
    return { ok: false, problems: sink.problems, warnings: sink.warnings };
  }
  return { ok: true, config: deepFreeze(config), warnings: sink.warnings };
}

/** Parses YAML text (or an already parsed object) into a frozen Config; throws ConfigError. */
export function parseConfig(input: string | Raw, env: NodeJS.ProcessEnv = {}, opts: LoadOptions = {}): Config {
  const result = checkConfig(input, env, opts);
  for (const w of result.warnings) opts.onWarning?.(w);
  if (!result.ok) throw new ConfigError(result.problems, opts.configFile);
  return result.config;
}

/** Reads the file; an unreadable file is a ConfigError too, so callers handle one error type. */
export async function readConfigFile(file: string, signal?: AbortSignal): Promise<{ path: string; text: string }> {
  const path = resolve(file);
  try {
    return { path, text: await readFile(path, { encoding: 'utf8', ...(signal ? { signal } : {}) }) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read config file ${path}: ${why}` }]);
  }
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv, opts: LoadOptions & { signal?: AbortSignal } = {}): Promise<Config> {
  const { path, text } = await readConfigFile(file, opts.signal);
  return parseConfig(text, env, { ...opts, configFile: path });
}

/** Paths of the passwords a config holds (values never leave this function). */
export function passwordKeys(config: Config): string[] {
  const out: string[] = [];
  if (config.restapi.authentication) out.push('restapi.authentication.password');
  if (config.restapi.keyfile_password !== undefined) out.push('restapi.keyfile_password');
  if (config.etcd3.password !== undefined) out.push('etcd3.password');
  for (const role of ['superuser', 'replication', 'rewind'] as const) {
    if (config.postgresql.authentication[role]?.password !== undefined) out.push(`postgresql.authentication.${role}.password`);
  }
  return out;
}

/**
 * A warning when the config file holds passwords and other users may read it (issue 13): not an
 * error, because packaging often installs it 0644 before an operator adds the passwords, and
 * refusing to start would take a node down for a file mode.
 */
export function filePermissionWarning(config: Config, mode: number): ConfigProblem | null {
  if ((mode & 0o004) === 0) return null;
  const keys = passwordKeys(config);
  if (keys.length === 0) return null;
  return { path: '', message: `the config file is readable by every user (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) and holds ${keys.join(', ')}: chmod o-r it (e.g. 0640 or 0600)` };
}

export async function configFileMode(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mode;
  } catch {
    return null;
  }
}
