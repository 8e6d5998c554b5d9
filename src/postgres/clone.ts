// Clone (SPEC 5.1): pg_basebackup -X stream from the leader (or a clonefrom member) into an empty
// data directory, with retries; a partial copy is cleared between attempts (the directory was
// empty before, so nothing else is touched). Then the replica configuration.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { basebackupArgs } from './argv.js';
import { requireEmptyDataDir } from './bootstrap.js';
import { conninfo, libpqOptions } from './conninfo.js';
import { replicationPgpassEntry } from './pgpass.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import { dataDirState, listDir } from './files.js';
import { replicaSettings } from './follow.js';
import { fileOwner, writeMainConf, writePgpass, writeReplicaConf } from './managed-files.js';
import { PG_ENV, STARTUP_LOG_NAME, pgPaths, requireBinary } from './paths.js';

export interface CloneOptions {
  readonly config: Config;
  readonly runner: Runner;
  readonly logger: Logger;
  /** Where to copy from: the leader or a member tagged clonefrom. */
  readonly source: UpstreamNode;
  /** Whom to stream from afterwards (defaults to the source). */
  readonly leader?: UpstreamNode;
  readonly dynamicConfig?: DynamicConfig | null;
  readonly attempts?: number;
  /** Per attempt. */
  readonly timeoutMs?: number;
  readonly retryDelayMs?: number;
  readonly signal?: AbortSignal;
}

export interface CloneResult {
  readonly attempts: number;
  readonly durationMs: number;
}

/** Libpq environment for commands that authenticate from the pgpass file. */
export function passfileEnv(config: Config): Record<string, string> {
  return { ...PG_ENV, PGPASSFILE: config.postgresql.pgpass };
}

/** Remove what a failed attempt left; only called on a directory that was empty before it. */
async function clearPartialCopy(dataDir: string): Promise<void> {
  for (const entry of await listDir(dataDir)) await rm(join(dataDir, entry), { recursive: true, force: true });
}

async function attemptBasebackup(o: CloneOptions, bin: string): Promise<string | null> {
  const cfg = o.config;
  const args = basebackupArgs({
    dataDir: cfg.postgresql.data_dir,
    conninfo: conninfo({
      host: o.source.host,
      port: o.source.port,
      user: cfg.postgresql.authentication.replication.username,
      application_name: `${cfg.name} basebackup`,
      connect_timeout: 5,
      ...libpqOptions(cfg.postgresql.authentication.replication, 'argv'),
    }),
    options: cfg.postgresql.basebackup,
  });
  const res = await o.runner.run(bin, args, {
    timeoutMs: o.timeoutMs ?? 3_600_000,
    env: passfileEnv(cfg),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (res.exitCode === 0) return null;
  return (res.stderr.trim() || res.stdout.trim() || `exit ${res.exitCode ?? res.signal}`).split('\n').slice(-5).join('\n');
}

export async function cloneFrom(o: CloneOptions): Promise<CloneResult> {
  const t0 = performance.now();
  const { config, logger: log } = o;
  const bin = await requireBinary(config, 'pg_basebackup');
  const before = await requireEmptyDataDir(config, o.runner, 'clone');
  const owner = before === 'empty' ? await fileOwner(config) : null;
  // pg_basebackup finds the replication password for the source's host:port, and for nothing else.
  await writePgpass(config, owner, { upstream: null, extra: [replicationPgpassEntry(config, o.source)] });
  const attempts = Math.max(1, o.attempts ?? 3);
  let lastError = '';
  for (let i = 1; i <= attempts; i++) {
    log.info({ source: o.source.name, host: o.source.host, port: o.source.port, attempt: i }, 'clone started');
    const failure = await attemptBasebackup(o, bin);
    if (failure === null) {
      await configureClone(o);
      const durationMs = Math.round(performance.now() - t0);
      log.info({ source: o.source.name, attempts: i, durationMs }, 'clone done');
      return { attempts: i, durationMs };
    }
    lastError = failure;
    log.warn({ source: o.source.name, attempt: i, error: failure }, 'clone attempt failed');
    if ((await dataDirState(config.postgresql.data_dir)) !== 'missing') await clearPartialCopy(config.postgresql.data_dir);
    if (o.signal?.aborted) break;
    if (i < attempts) await sleep(o.retryDelayMs ?? 1000, undefined, o.signal ? { signal: o.signal } : {});
  }
  throw new PgError('clone-failed', `pg_basebackup from ${o.source.name} (${o.source.host}:${o.source.port}) failed ${attempts} time(s): ${lastError}`);
}

/** The copy carries the source's managed files; make them ours and set up the replica. */
async function configureClone(o: CloneOptions): Promise<void> {
  const owner = await fileOwner(o.config);
  await rm(join(pgPaths(o.config).dataDir, STARTUP_LOG_NAME), { force: true });
  await writeMainConf(o.config, o.dynamicConfig ?? null, o.logger, owner, o.runner);
  const upstream = o.leader ?? o.source;
  await writeReplicaConf(o.config, 'replica', replicaSettings(o.config, o.dynamicConfig ?? null, upstream), owner);
}
