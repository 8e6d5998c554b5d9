// Writes the files the agent owns (postgresql.conf, the replica include, pg_hba.conf, pgpass,
// standby.signal). Rendering is pure (postgresql-conf.ts, replica-conf.ts, pg-hba.ts, pgpass.ts);
// this module only puts the bytes in place.
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import { hbaLines, renderPgHba } from './pg-hba.js';
import { renderPgpass, replicationPgpassEntry } from './pgpass.js';
import { managedParameters, renderPostgresqlConf } from './postgresql-conf.js';
import { renderReplicaConf, upstreamOfReplicaConf } from './replica-conf.js';
import type { PgpassEntry } from './pgpass.js';
import type { ReplicaSettings } from './replica-conf.js';
import { fileExists, isErrno, ownerOf, writeIfChanged, writeOwnedFile } from './files.js';
import type { Owner } from './files.js';
import { pgPaths } from './paths.js';
import type { Runner } from '../exec/runner.js';
import { serverFacts } from './server-facts.js';
import { adaptToServer } from './server-params.js';

const MANAGED_MARK = '# Managed by pg-ha-agent';

/** The owner to give written files: the data directory's, when we run as root (tests). */
export async function fileOwner(config: Config): Promise<Owner | null> {
  if (process.getuid?.() !== 0) return null;
  try {
    return await ownerOf(config.postgresql.data_dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/**
 * Keep initdb's (or a pre-existing, unmanaged) postgresql.conf as postgresql.base.conf, which the
 * managed file includes; done once, before the first managed write.
 */
export async function adoptBaseConf(config: Config, owner: Owner | null): Promise<void> {
  const paths = pgPaths(config);
  if (await fileExists(paths.baseConf)) return;
  const candidates = [paths.postgresqlConf, join(paths.dataDir, 'postgresql.conf')];
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    if (text.startsWith(MANAGED_MARK)) continue;
    await rename(path, paths.baseConf);
    return;
  }
  await writeOwnedFile(paths.baseConf, '# No base configuration was found; parameters are managed by pg-ha-agent.\n', 0o600, owner);
}

export interface MainConfResult {
  /** Names of the files whose content changed. */
  readonly changed: readonly string[];
}

const warned = new Set<string>();

/**
 * postgresql.conf, pg_hba.conf and the pgpass file, from the config and the cluster config.
 * With a runner, parameters are translated or dropped for the installed server version.
 */
export async function writeMainConf(
  config: Config,
  dynamic: DynamicConfig | null,
  logger: Logger,
  owner: Owner | null,
  runner: Runner | null,
): Promise<MainConfResult> {
  const paths = pgPaths(config);
  await adoptBaseConf(config, owner);
  const configured = managedParameters(config, dynamic, paths);
  if (configured.overridden.length > 0) {
    logger.warn({ parameters: configured.overridden }, 'parameters set by the agent were ignored in the configuration');
  }
  const adapted = adaptToServer(configured.params, runner ? await serverFacts(config, runner, logger) : null);
  const fresh = adapted.changes.filter((c) => !warned.has(c));
  if (fresh.length > 0) {
    for (const c of fresh) warned.add(c);
    logger.warn({ parameters: fresh }, 'parameters adapted to the installed PostgreSQL version');
  }
  const managed = { ...configured, params: adapted.params };
  const changed: string[] = [];
  if (await writeIfChanged(paths.postgresqlConf, renderPostgresqlConf(managed), 0o600, owner)) changed.push('postgresql.conf');
  if (await writeIfChanged(paths.hbaFile, renderPgHba(hbaLines(config, dynamic)), 0o600, owner)) changed.push('pg_hba.conf');
  if (await writePgpass(config, owner)) changed.push('pgpass');
  if (changed.length > 0) logger.info({ files: changed }, 'managed configuration written');
  return { changed };
}

/** The replica include's upstream as it is on disk (null when there is none or no include). */
async function currentUpstream(config: Config): Promise<{ readonly host: string; readonly port: number } | null> {
  try {
    return upstreamOfReplicaConf(await readFile(pgPaths(config).replicaConf, 'utf8'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

export interface PgpassTargets {
  /**
   * The replica's upstream, for the walreceiver (replication user); null for none. Left out, it
   * is read from the replica include on disk, so a rewrite keeps the line a running replica needs.
   */
  readonly upstream?: { readonly host: string; readonly port: number; readonly name?: string } | null;
  /** What a command about to run connects to (a clone's source, a rewind's leader). */
  readonly extra?: readonly PgpassEntry[];
}

/**
 * The pgpass file, scoped to hosts: the local node's addresses, the replica's upstream and the
 * targets of the command about to run; atomic, exclusive, mode 0600. Returns whether it changed.
 */
export async function writePgpass(config: Config, owner: Owner | null, targets: PgpassTargets = {}): Promise<boolean> {
  const upstream = targets.upstream === undefined ? await currentUpstream(config) : targets.upstream;
  const remote = [
    ...(targets.extra ?? []),
    ...(upstream ? [replicationPgpassEntry(config, { name: 'upstream', ...upstream })] : []),
  ];
  return writeIfChanged(pgPaths(config).pgpass, renderPgpass(config, remote), 0o600, owner);
}

/**
 * The replica include and standby.signal: for a replica, standby.signal and the upstream's
 * conninfo (none yet when `settings` is null); for a primary, no signal file and an empty include.
 * The pgpass file is rewritten first, for the new upstream only: PostgreSQL reads it whenever the
 * WAL receiver connects, which may be as soon as the include names the upstream.
 */
export async function writeReplicaConf(
  config: Config,
  role: 'primary' | 'replica',
  settings: ReplicaSettings | null,
  owner: Owner | null,
): Promise<boolean> {
  const paths = pgPaths(config);
  const replica = role === 'replica' ? settings : null;
  const text = renderReplicaConf(replica, config);
  await writePgpass(config, owner, { upstream: replica && replica.stream !== false ? replica.upstream : null });
  const changed = await writeIfChanged(paths.replicaConf, text, 0o600, owner);
  if (role === 'replica') {
    if (!(await fileExists(paths.standbySignal))) await writeOwnedFile(paths.standbySignal, '', 0o600, owner);
  } else {
    await rm(paths.standbySignal, { force: true });
  }
  return changed;
}
