// agentctl's view of a config file. `-c` usually points at a node's own config (Patroni style),
// but agentctl needs only a few of its keys: scope, namespace, etcd3 (to read the cluster),
// the REST client settings (restapi.authentication and TLS, overridden by Patroni's `ctl`
// section) and, optionally, the superuser credentials (to time a switchover from PostgreSQL
// itself). So a small operator file with just those keys works too, as with patronictl;
// problems in the other sections are the agent's business and are not reported here.
import { isAbsolute, resolve } from 'node:path';
import { bool, obj, str, type Raw } from '../config/read.js';
import { buildEtcd3 } from '../config/build-net.js';
import { identifier, namespace } from '../config/build-misc.js';
import type { BuildCtx } from '../config/build-ctx.js';
import { applyEnvOverrides } from '../config/env.js';
import { ConfigError, ProblemSink, type ConfigProblem } from '../config/errors.js';
import { IGNORED_KEYS, UNSUPPORTED_KEYS } from '../config/keys.js';
import { readConfigFile } from '../config/load.js';
import { nodeFsProbe, type FsProbe } from '../config/paths.js';
import { LOCAL_SCHEMA } from '../config/schema.js';
import type { Credentials, Etcd3Config } from '../config/types.js';
import { isPlainObject, walk } from '../config/walk.js';
import { parseYaml } from '../config/yaml.js';

export interface RestClientSettings {
  readonly auth?: { readonly username: string; readonly password: string };
  /** CA bundle to verify https members (ctl.cacert, else restapi.cafile). */
  readonly caFile?: string;
  /** Client certificate and key (ctl.certfile/keyfile, else restapi.certfile/keyfile). */
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly keyPassword?: string;
  /** ctl.insecure: do not verify the members' certificates. */
  readonly insecure: boolean;
}

export interface CtlConfig {
  readonly scope: string;
  readonly namespace: string;
  readonly etcd3: Etcd3Config;
  readonly rest: RestClientSettings;
  /** postgresql.authentication.superuser, when the file has it (a node's own config). */
  readonly superuser?: Credentials;
  readonly configFile: string;
}

/** Key paths agentctl reads; problems elsewhere in the file are left to the agent. */
const RELEVANT = ['scope', 'namespace', 'etcd3', 'etcd', 'restapi.authentication', 'restapi.cafile', 'restapi.certfile',
  'restapi.keyfile', 'restapi.keyfile_password', 'postgresql.authentication.superuser', 'ctl'];

function relevant(p: ConfigProblem): boolean {
  return p.path === '' || RELEVANT.some((r) => p.path === r || p.path.startsWith(`${r}.`) || p.path.startsWith(`${r}[`))
    || p.path.startsWith('PGHA_') || p.path.startsWith('PATRONI_');
}

function restAuth(sink: ProblemSink, raw: Raw | undefined, where: string): RestClientSettings['auth'] {
  const auth = obj(raw, 'authentication');
  if (auth === undefined) return undefined;
  const username = str(auth, 'username');
  const password = str(auth, 'password');
  if (username === undefined || username === '') sink.problem(`${where}.authentication.username`, 'is required');
  if (password === undefined) sink.problem(`${where}.authentication.password`, 'is required');
  return username && password !== undefined ? { username, password } : undefined;
}

function filePath(ctx: BuildCtx, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    ctx.sink.problem(path, 'expected a file path');
    return undefined;
  }
  const full = isAbsolute(value) ? value : resolve(ctx.cwd, value);
  if (!ctx.probe.exists(full)) ctx.sink.problem(path, `file not found: ${full}`);
  return full;
}

function restSettings(ctx: BuildCtx, raw: Raw): RestClientSettings {
  const rest = obj(raw, 'restapi');
  const ctl = raw['ctl'];
  if (ctl !== undefined && ctl !== null && !isPlainObject(ctl)) ctx.sink.problem('ctl', 'expected a mapping');
  const c = isPlainObject(ctl) ? ctl : undefined;
  const auth = restAuth(ctx.sink, c, 'ctl') ?? restAuth(ctx.sink, rest, 'restapi');
  const pick = (ctlKeys: string[], restKey: string): string | undefined => {
    for (const k of ctlKeys) if (c?.[k] !== undefined) return filePath(ctx, c[k], `ctl.${k}`);
    return filePath(ctx, rest?.[restKey], `restapi.${restKey}`);
  };
  const caFile = pick(['cacert', 'cafile'], 'cafile');
  const certFile = pick(['certfile'], 'certfile');
  const keyFile = pick(['keyfile'], 'keyfile');
  const keyPassword = str(c, 'keyfile_password') ?? str(rest, 'keyfile_password');
  const insecure = bool(c, 'insecure') ?? false;
  return {
    ...(auth ? { auth } : {}),
    ...(caFile ? { caFile } : {}),
    ...(certFile ? { certFile } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(keyPassword !== undefined ? { keyPassword } : {}),
    insecure,
  };
}

function superuser(raw: Raw): Credentials | undefined {
  const su = obj(obj(obj(raw, 'postgresql'), 'authentication'), 'superuser');
  const username = str(su, 'username');
  if (username === undefined || username === '') return undefined;
  const password = str(su, 'password');
  return { username, ...(password !== undefined ? { password } : {}) };
}

export interface CtlLoadOptions {
  readonly cwd?: string;
  readonly probe?: FsProbe;
}

/** Builds the CtlConfig from YAML text; throws ConfigError listing every relevant problem. */
export function parseCtlConfig(text: string, env: NodeJS.ProcessEnv, configFile: string, opts: CtlLoadOptions = {}): CtlConfig {
  const sink = new ProblemSink();
  const parsed = parseYaml(text, sink);
  if (parsed !== undefined && parsed !== null && !isPlainObject(parsed)) {
    sink.problem('', 'the configuration must be a YAML mapping of sections');
  }
  const raw = applyEnvOverrides(isPlainObject(parsed) ? parsed : {}, env, sink);
  walk(raw, LOCAL_SCHEMA, '', '', { ignored: IGNORED_KEYS, unsupported: UNSUPPORTED_KEYS, warnIgnored: false, allPaths: [] }, sink);
  const ctx: BuildCtx = { sink, cwd: opts.cwd ?? process.cwd(), probe: opts.probe ?? nodeFsProbe, env };
  const scope = identifier(ctx, raw, 'scope');
  const ns = namespace(ctx, raw);
  const etcd3 = buildEtcd3(ctx, obj(raw, 'etcd3'), raw['etcd'] !== undefined);
  const rest = restSettings(ctx, raw);
  const problems = sink.problems.filter(relevant);
  if (problems.length > 0 || scope === undefined || etcd3 === undefined) {
    throw new ConfigError(problems.length > 0 ? problems : [{ path: '', message: 'invalid configuration' }], configFile);
  }
  const su = superuser(raw);
  return { scope, namespace: ns, etcd3, rest, ...(su ? { superuser: su } : {}), configFile };
}

export async function loadCtlConfig(file: string, env: NodeJS.ProcessEnv, opts: CtlLoadOptions = {}): Promise<CtlConfig> {
  const { path, text } = await readConfigFile(file);
  return parseCtlConfig(text, env, path, opts);
}
