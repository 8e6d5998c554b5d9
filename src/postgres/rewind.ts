// Rewind (S4, SPEC 5.7): decide from pg_control and the new leader's timeline history whether a
// stopped data directory went past the fork point; if so, pg_rewind it from the leader.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Lsn } from '../core/cluster.js';
import type { ControlData } from '../core/local-pg.js';
import { formatLsn } from '../core/lsn.js';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { rewindArgs, singleUserArgs, waldumpArgs } from './argv.js';
import { passfileEnv } from './clone.js';
import { conninfo, libpqOptions } from './conninfo.js';
import { rewindPgpassEntry } from './pgpass.js';
import { managedParameters } from './postgresql-conf.js';
import { checkUpstream } from './upstream.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import { isErrno, runningPostmasterPid } from './files.js';
import { refuseWhileUnreaped } from './pgctl.js';
import { replicaSettings } from './follow.js';
import { fileOwner, writeMainConf, writePgpass, writeReplicaConf } from './managed-files.js';
import { createControlDataReader } from './observer.js';
import { PG_ENV, pgPaths, requireBinary, separateConfigDir } from './paths.js';
import { credentialsTarget, withSqlConnection } from './sql.js';
import { needsRewind, parseCheckpointEnd } from './timeline.js';
import type { RewindDecision } from './timeline.js';

export interface RewindDeps {
  readonly config: Config;
  readonly runner: Runner;
  readonly logger: Logger;
  readonly dynamicConfig?: DynamicConfig | null;
  readonly signal?: AbortSignal;
}

export interface LeaderTimeline {
  readonly timeline: number;
  /** The leader's history file for `timeline` ('' on timeline 1). */
  readonly history: string;
  /** Timeline in the leader's pg_control; lags `timeline` until its first checkpoint after promotion. */
  readonly checkpointTimeline: number;
}

function sig(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function leaderConnection(config: Config, leader: UpstreamNode, logger: Logger) {
  checkUpstream(leader);
  return {
    target: credentialsTarget(config.postgresql.authentication.superuser, leader.host, leader.port),
    logger,
    timeoutMs: 120_000,
    applicationName: `${config.name} rewind check`,
  };
}

/** The new leader still runs in recovery (its promotion has not finished). */
export class LeaderNotPrimaryError extends PgError {
  constructor(name: string) {
    super('rewind-failed', `${name} is not a primary; it cannot be the rewind source yet`, { retryable: true });
  }
}

/** How long the fork check waits for a new leader to finish its promotion before it gives up. */
export const LEADER_PROMOTION_WAIT_MS = 10_000;

/**
 * The leader's timeline once it runs as a primary: a member that rejoins right after the key
 * changed hands finds the new leader still promoting, and a failed job would back off for seconds.
 */
export async function leaderTimelineWhenPrimary(deps: RewindDeps, leader: UpstreamNode, boundMs = LEADER_PROMOTION_WAIT_MS): Promise<LeaderTimeline> {
  const until = performance.now() + boundMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchLeaderTimeline(deps, leader);
    } catch (err) {
      if (!(err instanceof LeaderNotPrimaryError) || performance.now() >= until || deps.signal?.aborted === true) throw err;
      if (attempt === 0) deps.logger.info({ leader: leader.name, boundMs }, 'the new leader is still promoting; waiting before the fork check');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The leader's timeline and history, through a normal connection as the superuser. */
export async function fetchLeaderTimeline(deps: RewindDeps, leader: UpstreamNode): Promise<LeaderTimeline> {
  return withSqlConnection(leaderConnection(deps.config, leader, deps.logger), async (c) => {
    const [row] = await c.query<{ r: boolean; tl: number | null; ckpt: number }>(
      `SELECT pg_catalog.pg_is_in_recovery() AS r,
              CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE
                ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tl,
              (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS ckpt`,
      [],
      sig(deps.signal),
    );
    if (!row || row.r || row.tl === null) throw new LeaderNotPrimaryError(leader.name);
    let history = '';
    if (row.tl > 1) {
      const file = `pg_wal/${row.tl.toString(16).toUpperCase().padStart(8, '0')}.history`;
      const [h] = await c.query<{ h: string }>(`SELECT pg_catalog.convert_from(pg_catalog.pg_read_binary_file($1), 'UTF8') AS h`, [file], sig(deps.signal));
      history = h?.h ?? '';
    }
    return { timeline: row.tl, history, checkpointTimeline: row.ckpt };
  });
}

/**
 * pg_rewind reads the source's pg_control: right after a promotion it still names the old
 * timeline ("no rewind required" would be wrong), so make the leader checkpoint first.
 */
export async function ensureLeaderCheckpoint(deps: RewindDeps, leader: UpstreamNode, tl: LeaderTimeline): Promise<void> {
  if (tl.checkpointTimeline >= tl.timeline) return;
  deps.logger.info({ leader: leader.name, timeline: tl.timeline, checkpointTimeline: tl.checkpointTimeline }, 'asking the leader for a checkpoint before rewind');
  await withSqlConnection(leaderConnection(deps.config, leader, deps.logger), (c) => c.query('CHECKPOINT', [], sig(deps.signal)));
}

const UNCLEAN = new Set(['in production', 'in crash recovery', 'shutting down', 'starting up']);

/**
 * A crashed (or fenced) primary's pg_control shows its last checkpoint, not where its WAL ends.
 * Crash recovery in single-user mode ends with a shutdown checkpoint at the real end. WAL is
 * kept (archive_mode=on with a failing archive_command) so pg_rewind still finds the fork.
 */
export async function ensureCleanShutdown(deps: RewindDeps, control: ControlData): Promise<boolean> {
  if (!UNCLEAN.has(control.state)) return false;
  const paths = pgPaths(deps.config);
  await refuseWhileUnreaped(paths.postmasterPid, 'rewind-failed');
  await clearArchiveStatus(join(paths.walDir, 'archive_status'));
  await writeReplicaConf(deps.config, 'primary', null, await fileOwner(deps.config));
  const bin = await requireBinary(deps.config, 'postgres');
  const args = singleUserArgs({
    dataDir: paths.dataDir,
    settings: { archive_mode: 'on', archive_command: 'false' },
    ...(separateConfigDir(paths) ? { configFile: paths.postgresqlConf } : {}),
  });
  const res = await deps.runner.run(bin, args, { timeoutMs: 600_000, env: PG_ENV, input: '', ...sig(deps.signal) });
  if (res.exitCode !== 0) {
    const tail = res.stderr.trim().split('\n').slice(-5).join('\n');
    // A setting PostgreSQL rejects says nothing about the data: retried (with back-off) once the
    // operator fixes the file, never a "needs reinit" verdict.
    if (/configuration file .* contains errors|unrecognized configuration parameter|invalid value for parameter/.test(res.stderr)) {
      throw new PgError('bad-config', `crash recovery in single-user mode refused the configuration (exit ${res.exitCode ?? res.signal}): ${tail}`, { retryable: true });
    }
    throw new PgError('rewind-failed', `crash recovery in single-user mode failed (exit ${res.exitCode ?? res.signal}): ${tail}`);
  }
  deps.logger.info({ state: control.state, durationMs: res.durationMs }, 'crash recovery in single-user mode done');
  return true;
}

async function clearArchiveStatus(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const e of entries) if (e.endsWith('.done') || e.endsWith('.ready')) await rm(join(dir, e), { force: true });
}

/** Where the shutdown checkpoint record at `control.checkpointLsn` ends (pg_waldump), or null. */
export async function checkpointEnd(deps: RewindDeps, control: ControlData): Promise<Lsn | null> {
  const bin = await requireBinary(deps.config, 'pg_waldump');
  const args = waldumpArgs({ walDir: pgPaths(deps.config).walDir, timeline: control.timeline, startLsn: formatLsn(control.checkpointLsn), records: 2 });
  const res = await deps.runner.run(bin, args, { timeoutMs: 30_000, env: PG_ENV, logLevel: 'debug', ...sig(deps.signal) });
  return parseCheckpointEnd(res.stderr, control.checkpointLsn);
}

export interface RewindCheck {
  readonly decision: RewindDecision;
  readonly leader: LeaderTimeline;
  readonly control: ControlData;
}

/** With PostgreSQL stopped: make pg_control exact, then decide against the leader's history. */
export async function checkRewind(o: RewindDeps & { readonly source: UpstreamNode }): Promise<RewindCheck> {
  const { source: leader, ...deps } = o;
  const paths = pgPaths(deps.config);
  if (runningPostmasterPid(paths.postmasterPid) !== null) {
    throw new PgError('command-failed', 'PostgreSQL is running; stop it before checking for divergence', { retryable: false });
  }
  const readControl = createControlDataReader({ config: deps.config, logger: deps.logger, runner: deps.runner, timeoutMs: 30_000 });
  let control = await readControl(deps.signal);
  if (!control) throw new PgError('rewind-failed', `cannot read pg_control in ${paths.dataDir}`);
  if (await ensureCleanShutdown(deps, control)) {
    control = await readControl(deps.signal);
    if (!control) throw new PgError('rewind-failed', `cannot read pg_control in ${paths.dataDir} after crash recovery`);
  }
  const tl = await leaderTimelineWhenPrimary(deps, leader);
  const primaryAtFork = control.state === 'shut down' && control.timeline < tl.timeline;
  const end = primaryAtFork ? await checkpointEnd(deps, control) : null;
  const decision = needsRewind({ local: control, leaderTimeline: tl.timeline, leaderTimelineHistory: tl.history, checkpointEndLsn: end });
  deps.logger.info({ leader: leader.name, leaderTimeline: tl.timeline, ...decision }, 'rewind check');
  return { decision, leader: tl, control };
}

export interface RewindResult {
  readonly durationMs: number;
}

/** pg_rewind --source-server from the leader, then the files we own and the replica setup. */
export interface RewindOptions extends RewindDeps {
  /** The new leader (a primary). */
  readonly source: UpstreamNode;
  /** From checkRewind, to save a round trip. */
  readonly leaderTimeline?: LeaderTimeline;
}

export async function rewind(o: RewindOptions): Promise<RewindResult> {
  const { source: leader, leaderTimeline: tl, ...deps } = o;
  const t0 = performance.now();
  const { config } = deps;
  const paths = pgPaths(config);
  if (runningPostmasterPid(paths.postmasterPid) !== null) throw new PgError('command-failed', 'PostgreSQL is running; stop it before pg_rewind', { retryable: false });
  const bin = await requireBinary(config, 'pg_rewind');
  await ensureLeaderCheckpoint(deps, leader, tl ?? (await fetchLeaderTimeline(deps, leader)));
  const owner = await fileOwner(config);
  await writeMainConf(config, deps.dynamicConfig ?? null, deps.logger, owner, deps.runner);
  // pg_rewind finds the rewind user's password for the leader's host:port, and for nothing else.
  await writePgpass(config, owner, { upstream: null, extra: [rewindPgpassEntry(config, leader)] });
  const creds = config.postgresql.authentication.rewind ?? config.postgresql.authentication.superuser;
  const restore = managedParameters(config, deps.dynamicConfig ?? null, paths).params.get('restore_command');
  const args = rewindArgs({
    dataDir: paths.dataDir,
    sourceConninfo: conninfo({
      host: leader.host,
      port: leader.port,
      user: creds.username,
      dbname: 'postgres',
      connect_timeout: 5,
      ...libpqOptions(creds, 'argv'),
    }),
    restoreTargetWal: typeof restore === 'string' && restore.trim() !== '',
    ...(separateConfigDir(paths) ? { configFile: paths.postgresqlConf } : {}),
  });
  const res = await deps.runner.run(bin, args, {
    timeoutMs: 3_600_000,
    env: { ...passfileEnv(config), PGOPTIONS: '-c statement_timeout=0' },
    ...sig(deps.signal),
  });
  if (res.exitCode !== 0) {
    const out = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-8).join('\n');
    throw new PgError('rewind-failed', `pg_rewind from ${leader.name} failed (exit ${res.exitCode ?? res.signal}): ${out}`);
  }
  // pg_rewind copied the leader's configuration files over ours.
  await writeMainConf(config, deps.dynamicConfig ?? null, deps.logger, owner, deps.runner);
  await writeReplicaConf(config, 'replica', replicaSettings(config, deps.dynamicConfig ?? null, leader), owner);
  const durationMs = Math.round(performance.now() - t0);
  deps.logger.info({ leader: leader.name, durationMs }, 'pg_rewind done');
  return { durationMs };
}
