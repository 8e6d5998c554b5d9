// The supervisor: the only owner of the postmaster. One command at a time, except fence, which
// preempts whatever runs (it is the S1 safety action) and is sticky until cleared.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { FENCE_KILL_AFTER_MS } from '../core/fencing.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import { checkDataDirOwner, dataDirState, runningPostmasterPid } from './files.js';
import { replicaSettings } from './follow.js';
import { fileOwner, writeMainConf, writeReplicaConf } from './managed-files.js';
import type { MainConfResult } from './managed-files.js';
import { Mutex } from './mutex.js';
import { fenceNow, reloadPostmaster, startPostmaster, stopPostmaster } from './pgctl.js';
import type { FenceReport, StartOutcome, StopOutcome } from './pgctl.js';
import { pgPaths, runUid } from './paths.js';
import { SqlError, createSqlConnection, localTarget } from './sql.js';
import type { SqlConnection } from './sql.js';
import { follow, oneOff, promote } from './supervisor-sql-commands.js';
import type { FollowResult, PromoteResult } from './supervisor-sql-commands.js';

export type { FenceReport, StartOutcome, StopOutcome } from './pgctl.js';
export type { FollowResult, PromoteResult } from './supervisor-sql-commands.js';
/** The standalone S1 stop (no lock, no SQL), for a fence timer or guard that has no supervisor. */
export { fenceNow } from './pgctl.js';

export interface StartOptions {
  readonly role: 'primary' | 'replica';
  /** The upstream of a replica; a replica without one waits (no primary_conninfo). */
  readonly leader?: UpstreamNode;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface StopOptions {
  readonly mode: 'fast' | 'immediate';
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface PgSupervisor {
  start(opts: StartOptions): Promise<StartOutcome>;
  stop(opts: StopOptions): Promise<StopOutcome>;
  restart(opts: StartOptions & { readonly stopMode?: 'fast' | 'immediate' }): Promise<StartOutcome>;
  promote(timeoutMs: number, signal?: AbortSignal): Promise<PromoteResult>;
  /**
   * Immediate stop, SIGKILL past a bound; sticky: start refuses until clearFence(). Never waits
   * for the lock: it aborts the command in flight, and SIGQUIT reaches the postmaster before
   * fence() returns its promise.
   */
  fence(reason: string): Promise<FenceReport>;
  isFenced(): boolean;
  fenceReason(): string | null;
  clearFence(): void;
  follow(leader: UpstreamNode, signal?: AbortSignal): Promise<FollowResult>;
  checkpoint(timeoutMs?: number, signal?: AbortSignal): Promise<void>;
  reload(signal?: AbortSignal): Promise<void>;
  /** Re-render postgresql.conf / pg_hba.conf / pgpass from a new cluster config (no reload). */
  updateConfig(dynamic: DynamicConfig, signal?: AbortSignal): Promise<MainConfResult>;
  /** Name of the command in flight, or null. */
  busy(): string | null;
  close(): Promise<void>;
}

export interface PgSupervisorOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly runner: Runner;
  readonly dynamicConfig?: DynamicConfig;
  /** Bound on SQL the supervisor runs itself (reload, follow polling). */
  readonly sqlTimeoutMs?: number;
  /** How long follow() waits for the WAL receiver to stream from the new sender; 0: not at all. */
  readonly followTimeoutMs?: number;
  /** How long fence waits after SIGQUIT before SIGKILL of the process group. */
  readonly fenceKillAfterMs?: number;
}

export function createPgSupervisor(opts: PgSupervisorOptions): PgSupervisor {
  const s = supervisorState(opts);
  return {
    start: (o) => command(s, 'start', o.signal, (sig) => doStart(s, o, sig)),
    stop: (o) => command(s, 'stop', o.signal, (sig) => doStop(s, o, sig)),
    restart: (o) => command(s, 'restart', o.signal, (sig) => doRestart(s, o, sig)),
    promote: (timeoutMs, signal) => command(s, 'promote', signal, (sig) => doPromote(s, timeoutMs, sig)),
    fence: (reason) => fence(s, reason),
    isFenced: () => s.fenced !== null,
    fenceReason: () => s.fenced,
    clearFence: () => clearFence(s),
    follow: (leader, signal) => command(s, 'follow', signal, (sig) => follow(s, leader, sig)),
    checkpoint: (timeoutMs = 120_000, signal) => command(s, 'checkpoint', signal, (sig) => doCheckpoint(s, timeoutMs, sig)),
    reload: (signal) => command(s, 'reload', signal, (sig) => doReload(s, sig)),
    updateConfig: (dc, signal) => command(s, 'update-config', signal, () => doUpdateConfig(s, dc)),
    busy: () => s.mutex.current(),
    close: () => s.sql.close(),
  };
}

/** What the supervisor's commands share; dynamic, fenced, inflight and uid change as it runs. */
interface SupervisorState {
  readonly opts: PgSupervisorOptions;
  readonly config: Config;
  readonly runner: Runner;
  readonly log: Logger;
  readonly deps: { readonly config: Config; readonly runner: Runner; readonly logger: Logger };
  readonly paths: ReturnType<typeof pgPaths>;
  readonly mutex: Mutex;
  readonly sql: SqlConnection;
  readonly followTimeoutMs?: number;
  dynamic: DynamicConfig | null;
  fenced: string | null;
  inflight: AbortController | null;
  uid: number | null;
}

function supervisorState(opts: PgSupervisorOptions): SupervisorState {
  const { config, runner } = opts;
  const log = opts.logger;
  const deps = { config, runner, logger: log };
  const paths = pgPaths(config);
  const mutex = new Mutex();
  const sql = createSqlConnection({
    target: localTarget(config),
    logger: log,
    timeoutMs: opts.sqlTimeoutMs ?? 5000,
    applicationName: 'pg-ha-agent supervisor',
  });
  return {
    opts, config, runner, log, deps, paths, mutex, sql,
    ...(opts.followTimeoutMs === undefined ? {} : { followTimeoutMs: opts.followTimeoutMs }),
    dynamic: opts.dynamicConfig ?? null, fenced: null, inflight: null, uid: null,
  };
}

function command<T>(s: SupervisorState, name: string, signal: AbortSignal | undefined, fn: (sig: AbortSignal) => Promise<T>): Promise<T> {
  return s.mutex.run(name, async () => {
    const ac = new AbortController();
    s.inflight = ac;
    try {
      return await fn(signal ? AbortSignal.any([signal, ac.signal]) : ac.signal);
    } finally {
      s.inflight = null;
    }
  }, signal);
}

function refuseIfFenced(s: SupervisorState, what = 'starting it'): void {
  if (s.fenced !== null) {
    throw new PgError('fenced', `PostgreSQL is fenced (${s.fenced}); clear the fence before ${what}`, { retryable: false });
  }
}

function doFence(s: SupervisorState, reason: string): Promise<FenceReport> {
  return fenceNow(s.deps, reason, s.opts.fenceKillAfterMs ?? FENCE_KILL_AFTER_MS);
}

async function fence(s: SupervisorState, reason: string): Promise<FenceReport> {
  s.fenced ??= reason;
  s.inflight?.abort(new PgError('fenced', `fenced: ${reason}`));
  return doFence(s, reason);
}

function clearFence(s: SupervisorState): void {
  if (s.fenced !== null) s.log.warn({ reason: s.fenced }, 'fence cleared');
  s.fenced = null;
}

async function checkDataDir(s: SupervisorState): Promise<void> {
  s.uid ??= await runUid(s.runner);
  await checkDataDirOwner(s.paths.dataDir, s.uid);
  if ((await dataDirState(s.paths.dataDir)) !== 'initialized') {
    throw new PgError('data-dir-missing', `data directory ${s.paths.dataDir} holds no PostgreSQL cluster; bootstrap or clone it first`, { retryable: false });
  }
}

// A fence that arrives while pg_ctl runs may miss a postmaster that was not up yet: fence again.
async function refenceIfFenced(s: SupervisorState): Promise<void> {
  if (s.fenced === null) return;
  await doFence(s, s.fenced);
  refuseIfFenced(s);
}

async function doStart(s: SupervisorState, o: StartOptions, signal: AbortSignal): Promise<StartOutcome> {
  const { config, log } = s;
  refuseIfFenced(s);
  // Never touch standby.signal or the replica settings under a running postmaster: a primary
  // start over a running replica would otherwise leave it ready to come back as a primary.
  if (runningPostmasterPid(s.paths.postmasterPid) !== null) return 'already-running';
  await checkDataDir(s);
  const owner = await fileOwner(config);
  await writeMainConf(config, s.dynamic, log, owner, s.runner);
  const settings = o.role === 'replica' && o.leader ? replicaSettings(config, s.dynamic, o.leader) : null;
  await writeReplicaConf(config, o.role, settings, owner);
  const t0 = performance.now();
  let outcome: StartOutcome;
  try {
    outcome = await startPostmaster(s.deps, o.timeoutMs, signal);
  } catch (err) {
    await refenceIfFenced(s);
    throw err;
  }
  await refenceIfFenced(s);
  const durationMs = Math.round(performance.now() - t0);
  log.info({ role: o.role, leader: o.leader?.name ?? null, outcome, durationMs }, 'postgres start');
  return outcome;
}

async function doStop(s: SupervisorState, o: StopOptions, signal: AbortSignal): Promise<StopOutcome> {
  const t0 = performance.now();
  const outcome = await stopPostmaster(s.deps, o.mode, o.timeoutMs, signal);
  s.log.info({ mode: o.mode, outcome, durationMs: Math.round(performance.now() - t0) }, 'postgres stop');
  return outcome;
}

async function doRestart(s: SupervisorState, o: StartOptions & { readonly stopMode?: 'fast' | 'immediate' }, signal: AbortSignal): Promise<StartOutcome> {
  refuseIfFenced(s);
  await doStop(s, { mode: o.stopMode ?? 'fast', timeoutMs: o.timeoutMs }, signal);
  return doStart(s, o, signal);
}

// A fence decided while the promotion was on its way wins: the lease behind it is gone.
function doPromote(s: SupervisorState, timeoutMs: number, signal: AbortSignal): Promise<PromoteResult> {
  refuseIfFenced(s, 'promoting it');
  return promote(s, timeoutMs, signal);
}

function doCheckpoint(s: SupervisorState, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return oneOff(s, timeoutMs, async (c) => {
    await c.query('CHECKPOINT', [], { signal });
  });
}

async function doReload(s: SupervisorState, signal: AbortSignal): Promise<void> {
  try {
    await s.sql.query('SELECT pg_catalog.pg_reload_conf()', [], { signal });
  } catch (err) {
    if (!(err instanceof SqlError) || err.kind === 'aborted') throw err;
    await reloadPostmaster(s.deps, signal);
  }
}

async function doUpdateConfig(s: SupervisorState, dc: DynamicConfig): Promise<MainConfResult> {
  s.dynamic = dc;
  if ((await dataDirState(s.paths.dataDir)) !== 'initialized') return { changed: [] };
  return writeMainConf(s.config, s.dynamic, s.log, await fileOwner(s.config), s.runner);
}
