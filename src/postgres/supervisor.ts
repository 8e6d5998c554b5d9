// The supervisor: the only owner of the postmaster. One command at a time, except fence, which
// preempts whatever runs (it is the S1 safety action) and is sticky until cleared.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { FENCE_KILL_AFTER_MS } from '../core/fencing.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import { checkDataDirOwner, dataDirState, runningPostmasterPid } from './files.js';
import { replicaSettings, waitForSender, walReceiver, streamingFrom } from './follow.js';
import type { ReceiverState } from './follow.js';
import { fileOwner, writeMainConf, writeReplicaConf } from './managed-files.js';
import type { MainConfResult } from './managed-files.js';
import { Mutex } from './mutex.js';
import { fenceNow, reloadPostmaster, startPostmaster, stopPostmaster } from './pgctl.js';
import type { FenceReport, StartOutcome, StopOutcome } from './pgctl.js';
import { pgPaths, runUid } from './paths.js';
import { SqlError, createSqlConnection, localTarget, withSqlConnection } from './sql.js';
import type { SqlConnection } from './sql.js';

export type { FenceReport, StartOutcome, StopOutcome } from './pgctl.js';
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

export interface PromoteResult {
  readonly alreadyPrimary: boolean;
  readonly timeline: number;
  readonly durationMs: number;
}

export interface FollowResult {
  /** False when the replica already followed this upstream (nothing rewritten or reloaded). */
  readonly changed: boolean;
  /** null for a nostream member, which has no WAL receiver to wait for. */
  readonly receiver: ReceiverState | null;
  readonly durationMs: number;
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
  let dynamic: DynamicConfig | null = opts.dynamicConfig ?? null;
  let fenced: string | null = null;
  let inflight: AbortController | null = null;
  let uid: number | null = null;

  const command = <T>(name: string, signal: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<T>): Promise<T> =>
    mutex.run(name, async () => {
      const ac = new AbortController();
      inflight = ac;
      try {
        return await fn(signal ? AbortSignal.any([signal, ac.signal]) : ac.signal);
      } finally {
        inflight = null;
      }
    }, signal);

  const refuseIfFenced = (what = 'starting it'): void => {
    if (fenced !== null) {
      throw new PgError('fenced', `PostgreSQL is fenced (${fenced}); clear the fence before ${what}`, { retryable: false });
    }
  };

  const doFence = (reason: string): Promise<FenceReport> => fenceNow(deps, reason, opts.fenceKillAfterMs ?? FENCE_KILL_AFTER_MS);

  const checkDataDir = async (): Promise<void> => {
    uid ??= await runUid(runner);
    await checkDataDirOwner(paths.dataDir, uid);
    if ((await dataDirState(paths.dataDir)) !== 'initialized') {
      throw new PgError('data-dir-missing', `data directory ${paths.dataDir} holds no PostgreSQL cluster; bootstrap or clone it first`, { retryable: false });
    }
  };

  const doStart = async (o: StartOptions, signal: AbortSignal): Promise<StartOutcome> => {
    refuseIfFenced();
    // Never touch standby.signal or the replica settings under a running postmaster: a primary
    // start over a running replica would otherwise leave it ready to come back as a primary.
    if (runningPostmasterPid(paths.postmasterPid) !== null) return 'already-running';
    await checkDataDir();
    const owner = await fileOwner(config);
    await writeMainConf(config, dynamic, log, owner, runner);
    const settings = o.role === 'replica' && o.leader ? replicaSettings(config, dynamic, o.leader) : null;
    await writeReplicaConf(config, o.role, settings, owner);
    const t0 = performance.now();
    // A fence that arrives while pg_ctl runs may miss a postmaster that was not up yet: fence again.
    const refenceIfFenced = async (): Promise<void> => {
      if (fenced === null) return;
      await doFence(fenced);
      refuseIfFenced();
    };
    let outcome: StartOutcome;
    try {
      outcome = await startPostmaster(deps, o.timeoutMs, signal);
    } catch (err) {
      await refenceIfFenced();
      throw err;
    }
    await refenceIfFenced();
    const durationMs = Math.round(performance.now() - t0);
    log.info({ role: o.role, leader: o.leader?.name ?? null, outcome, durationMs }, 'postgres start');
    return outcome;
  };

  const doStop = async (o: StopOptions, signal: AbortSignal): Promise<StopOutcome> => {
    const t0 = performance.now();
    const outcome = await stopPostmaster(deps, o.mode, o.timeoutMs, signal);
    log.info({ mode: o.mode, outcome, durationMs: Math.round(performance.now() - t0) }, 'postgres stop');
    return outcome;
  };

  return {
    start: (o) => command('start', o.signal, (s) => doStart(o, s)),
    stop: (o) => command('stop', o.signal, (s) => doStop(o, s)),
    restart: (o) =>
      command('restart', o.signal, async (s) => {
        refuseIfFenced();
        await doStop({ mode: o.stopMode ?? 'fast', timeoutMs: o.timeoutMs }, s);
        return doStart(o, s);
      }),
    // A fence decided while the promotion was on its way wins: the lease behind it is gone.
    promote: (timeoutMs, signal) => command('promote', signal, (s) => {
      refuseIfFenced('promoting it');
      return promote(timeoutMs, s);
    }),
    async fence(reason) {
      fenced ??= reason;
      inflight?.abort(new PgError('fenced', `fenced: ${reason}`));
      return doFence(reason);
    },
    isFenced: () => fenced !== null,
    fenceReason: () => fenced,
    clearFence() {
      if (fenced !== null) log.warn({ reason: fenced }, 'fence cleared');
      fenced = null;
    },
    follow: (leader, signal) => command('follow', signal, (s) => follow(leader, s)),
    checkpoint: (timeoutMs = 120_000, signal) =>
      command('checkpoint', signal, (s) => oneOff(timeoutMs, async (c) => {
        await c.query('CHECKPOINT', [], { signal: s });
      })),
    reload: (signal) =>
      command('reload', signal, async (s) => {
        try {
          await sql.query('SELECT pg_catalog.pg_reload_conf()', [], { signal: s });
        } catch (err) {
          if (!(err instanceof SqlError) || err.kind === 'aborted') throw err;
          await reloadPostmaster(deps, s);
        }
      }),
    updateConfig: (dc, signal) =>
      command('update-config', signal, async () => {
        dynamic = dc;
        if ((await dataDirState(paths.dataDir)) !== 'initialized') return { changed: [] };
        return writeMainConf(config, dynamic, log, await fileOwner(config), runner);
      }),
    busy: () => mutex.current(),
    close: () => sql.close(),
  };

  /** A dedicated connection for a long statement (CHECKPOINT, pg_promote), with its own bound. */
  function oneOff<T>(timeoutMs: number, fn: (c: SqlConnection) => Promise<T>): Promise<T> {
    return withSqlConnection({ target: localTarget(config), logger: log, timeoutMs, applicationName: 'pg-ha-agent supervisor' }, fn);
  }

  async function promote(timeoutMs: number, signal: AbortSignal): Promise<PromoteResult> {
    const t0 = performance.now();
    return oneOff(timeoutMs + 5000, async (c) => {
      const [before] = await c.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r', [], { signal });
      const alreadyPrimary = before?.r === false;
      if (!alreadyPrimary) {
        const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
        const [res] = await c.query<{ ok: boolean }>('SELECT pg_catalog.pg_promote(true, $1) AS ok', [secs], { signal });
        if (res?.ok !== true) throw new PgError('promote-failed', `PostgreSQL did not finish promotion within ${secs}s`);
      }
      const [after] = await c.query<{ r: boolean; tl: number }>(
        `SELECT pg_catalog.pg_is_in_recovery() AS r,
                ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tl`,
        [],
        { signal },
      ).catch((err: unknown) => {
        throw new PgError('promote-failed', 'PostgreSQL is still in recovery after pg_promote', { cause: err });
      });
      if (!after || after.r) throw new PgError('promote-failed', 'PostgreSQL is still in recovery after pg_promote');
      // The replica include is dead weight on a primary; empty it so /patroni shows no upstream.
      if (await writeReplicaConf(config, 'primary', null, await fileOwner(config))) {
        await c.query('SELECT pg_catalog.pg_reload_conf()', [], { signal });
      }
      const durationMs = Math.round(performance.now() - t0);
      log.info({ timeline: after.tl, alreadyPrimary, durationMs }, 'postgres promoted');
      return { alreadyPrimary, timeline: after.tl, durationMs };
    });
  }

  async function follow(leader: UpstreamNode, signal: AbortSignal): Promise<FollowResult> {
    const t0 = performance.now();
    let inRecovery: boolean | undefined;
    try {
      const rows = await sql.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r', [], { signal });
      inRecovery = rows[0]?.r;
    } catch (err) {
      if (err instanceof SqlError && err.kind !== 'aborted') {
        throw new PgError('not-running', `cannot follow ${leader.name}: PostgreSQL does not answer (${err.message})`, { cause: err });
      }
      throw err;
    }
    if (inRecovery !== true) throw new PgError('follow-failed', `cannot follow ${leader.name}: PostgreSQL is not a replica`, { retryable: false });
    const settings = replicaSettings(config, dynamic, leader);
    const changed = await writeReplicaConf(config, 'replica', settings, await fileOwner(config));
    if (changed) {
      await sql.query('SELECT pg_catalog.pg_reload_conf()', [], { signal });
    }
    if (settings.stream === false) return { changed, receiver: null, durationMs: Math.round(performance.now() - t0) };
    if (!changed) {
      const now = await walReceiver(sql, signal);
      if (streamingFrom(now, leader) && now) return { changed, receiver: now, durationMs: Math.round(performance.now() - t0) };
    }
    const waitMs = opts.followTimeoutMs ?? 10_000;
    if (waitMs <= 0) {
      const durationMs = Math.round(performance.now() - t0);
      log.info({ leader: leader.name, host: leader.host, port: leader.port, changed, durationMs }, 'replica repointed to new upstream');
      return { changed, receiver: null, durationMs };
    }
    const receiver = await waitForSender(sql, leader, waitMs, signal);
    const durationMs = Math.round(performance.now() - t0);
    log.info({ leader: leader.name, host: leader.host, port: leader.port, timeline: receiver.receivedTimeline, changed, durationMs }, 'replica follows new upstream');
    return { changed, receiver, durationMs };
  }
}
