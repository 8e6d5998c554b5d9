// Low-level postmaster control through pg_ctl and signals. Stateless; the supervisor decides when.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { pgCtlReloadArgs, pgCtlStartArgs, pgCtlStopArgs } from './argv.js';
import type { StopMode } from './argv.js';
import { PgError } from './errors.js';
import { FENCE_KILL_AFTER_MS } from '../core/fencing.js';
import { awaitPostmasterReaped, childPidsOf, fileSize, isPostmasterAlive, readPostmasterPidSync, runningPostmasterPid, tailFile } from './files.js';
import { PG_ENV, pgPaths, requireBinary, separateConfigDir } from './paths.js';

export interface PgCtlDeps {
  readonly config: Config;
  readonly runner: Runner;
  readonly logger: Logger;
}

/**
 * PostgreSQL refuses a data directory whose postmaster.pid names a process that still exists, an
 * unreaped corpse included: wait for the reap, and past the bound report a retryable failure (a
 * later attempt will find it gone), never a verdict on the data directory.
 */
export async function refuseWhileUnreaped(pidFile: string, code: 'start-failed' | 'rewind-failed'): Promise<void> {
  const zombie = await awaitPostmasterReaped(pidFile);
  if (zombie === null) return;
  throw new PgError(code, `the previous postmaster (PID ${zombie}) has exited but its parent has not reaped it yet; PostgreSQL refuses to start while that PID exists; retrying later`, { retryable: true });
}

export type StartOutcome = 'ready' | 'not-ready' | 'already-running';

/**
 * pg_ctl start -w. 'not-ready': the postmaster runs but did not accept connections in time (a
 * replica waiting for WAL to reach consistency). A postmaster that exited is an error with the
 * tail of its log.
 */
export async function startPostmaster(deps: PgCtlDeps, timeoutMs: number, signal?: AbortSignal): Promise<StartOutcome> {
  const paths = pgPaths(deps.config);
  if (runningPostmasterPid(paths.postmasterPid) !== null) return 'already-running';
  await refuseWhileUnreaped(paths.postmasterPid, 'start-failed');
  const pgCtl = await requireBinary(deps.config, 'pg_ctl');
  await requireBinary(deps.config, 'postgres');
  const logFrom = await fileSize(paths.startupLog);
  const args = pgCtlStartArgs({
    dataDir: paths.dataDir,
    logFile: paths.startupLog,
    timeoutMs,
    ...(separateConfigDir(paths) ? { configFile: paths.postgresqlConf } : {}),
  });
  const res = await deps.runner.run(pgCtl, args, {
    timeoutMs: timeoutMs + 5000,
    env: PG_ENV,
    ...(signal ? { signal } : {}),
  });
  if (res.exitCode === 0) return 'ready';
  if (runningPostmasterPid(paths.postmasterPid) !== null) return 'not-ready';
  const logTail = await tailFile(paths.startupLog, logFrom);
  const why = [res.stderr.trim(), logTail].filter((s) => s !== '').join('\n');
  throw new PgError('start-failed', `PostgreSQL did not start (pg_ctl exit ${res.exitCode ?? res.signal}); server log:\n${why}`, {
    logTail,
    retryable: false,
  });
}

/** 'escalated': the requested mode did not finish in time and SIGQUIT or SIGKILL ended it. */
export type StopOutcome = 'stopped' | 'already-stopped' | 'escalated';

/** pg_ctl stop in `mode`; past the bound, immediate; past that, SIGKILL of the postmaster and its children. */
export async function stopPostmaster(deps: PgCtlDeps, mode: StopMode, timeoutMs: number, signal?: AbortSignal): Promise<StopOutcome> {
  const paths = pgPaths(deps.config);
  const pid = runningPostmasterPid(paths.postmasterPid);
  if (pid === null) return 'already-stopped';
  const pgCtl = await requireBinary(deps.config, 'pg_ctl');
  const res = await deps.runner.run(pgCtl, pgCtlStopArgs({ dataDir: paths.dataDir, mode, timeoutMs }), {
    timeoutMs: timeoutMs + 5000,
    env: PG_ENV,
    ...(signal ? { signal } : {}),
  });
  // pg_ctl returns once postmaster.pid is gone; the process itself may take a moment more.
  if (res.exitCode === 0 && (await waitForExit(pid, 5000))) return 'stopped';
  if (!isPostmasterAlive(pid)) return 'stopped';
  if (mode !== 'immediate') {
    deps.logger.warn({ mode, timeoutMs, exitCode: res.exitCode }, 'postgres did not stop in time, escalating to immediate');
    process.kill(pid, 'SIGQUIT');
    if (await waitForExit(pid, 5000)) return 'escalated';
  }
  deps.logger.warn({ pid }, 'postgres did not stop after immediate shutdown, killing it');
  signalPostmasterTree(pid, 'SIGKILL');
  if (await waitForExit(pid, 5000)) return 'escalated';
  throw new PgError('stop-failed', `postmaster ${pid} is still alive after SIGKILL`, { retryable: false });
}

/** Poll until the process is gone (or a zombie); false when the bound passed first. */
export async function waitForExit(pid: number, boundMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = performance.now() + boundMs;
  while (isPostmasterAlive(pid)) {
    if (performance.now() >= deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

/**
 * Signal the postmaster and its children. Every PostgreSQL child calls setsid(), so a process
 * group signal would reach the postmaster alone; the children are listed before the postmaster
 * is signalled (once it dies they are re-parented and can no longer be told apart).
 */
export function signalPostmasterTree(pid: number, sig: NodeJS.Signals): void {
  const children = childPidsOf(pid);
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, sig);
    } catch {
      // Already gone.
    }
  }
}

export interface FenceReport {
  readonly pid: number | null;
  /** The strongest signal needed: none (nothing ran), SIGQUIT (immediate shutdown) or SIGKILL. */
  readonly signal: 'none' | 'SIGQUIT' | 'SIGKILL';
  readonly durationMs: number;
}

/**
 * The S1 safety stop, usable from a fence timer: no SQL, no pg_ctl round trip before the first
 * signal. SIGQUIT (what `pg_ctl stop -m immediate` sends) goes out synchronously, before this
 * function first yields; if the postmaster is still there after `boundMs`, the whole process
 * postmaster and its children get SIGKILL (a
 * backend must not outlive the fence to commit one more write).
 */
export async function fenceNow(deps: { config: Config; logger: Logger }, reason: string, boundMs = FENCE_KILL_AFTER_MS): Promise<FenceReport> {
  const started = performance.now();
  const paths = pgPaths(deps.config);
  const pid = readPostmasterPidSync(paths.postmasterPid);
  if (pid === null || !isPostmasterAlive(pid)) {
    deps.logger.warn({ reason }, 'fence: postgres is not running');
    return { pid: null, signal: 'none', durationMs: Math.round(performance.now() - started) };
  }
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    // Exited in between: the wait below sees it.
  }
  deps.logger.warn({ reason, pid }, 'fence: immediate shutdown of postgres');
  let sig: FenceReport['signal'] = 'SIGQUIT';
  if (!(await waitForExit(pid, boundMs, 5))) {
    sig = 'SIGKILL';
    signalPostmasterTree(pid, 'SIGKILL');
    await waitForExit(pid, 5000, 5);
  }
  const durationMs = Math.round(performance.now() - started);
  deps.logger.warn({ reason, pid, signal: sig, durationMs }, 'fence: postgres stopped');
  return { pid, signal: sig, durationMs };
}

export async function reloadPostmaster(deps: PgCtlDeps, signal?: AbortSignal): Promise<void> {
  const paths = pgPaths(deps.config);
  const pgCtl = await requireBinary(deps.config, 'pg_ctl');
  const res = await deps.runner.run(pgCtl, pgCtlReloadArgs(paths.dataDir), { timeoutMs: 10_000, env: PG_ENV, ...(signal ? { signal } : {}) });
  if (res.exitCode !== 0) {
    throw new PgError('command-failed', `pg_ctl reload failed: ${res.stderr.trim() || res.stdout.trim()}`);
  }
}
