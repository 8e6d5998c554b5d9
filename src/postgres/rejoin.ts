// Rejoin of a former primary or of a replica that cannot follow a newer timeline (SPEC S4, 5.7):
// stop it if it still runs, check divergence, rewind if needed, start as a replica. On rewind failure: stay stopped and report, or move the data directory aside (never
// delete it, S5) and clone afresh.
import { rename } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { cloneFrom } from './clone.js';
import type { UpstreamNode } from './upstream.js';
import { PgError, errorMessage } from './errors.js';
import { makeOwnedDir, ownerOf, runningPostmasterPid } from './files.js';
import { pgPaths } from './paths.js';
import { checkRewind, fetchLeaderTimeline, rewind, type LeaderTimeline, type RewindDeps } from './rewind.js';
import type { RewindDecision } from './timeline.js';
import type { PgSupervisor, StartOutcome } from './supervisor.js';

export type RewindFailurePolicy = 'stay-stopped' | 'reclone';

export interface RejoinOptions {
  readonly config: Config;
  readonly runner: Runner;
  readonly logger: Logger;
  readonly supervisor: PgSupervisor;
  readonly leader: UpstreamNode;
  readonly dynamicConfig?: DynamicConfig | null;
  /** Defaults to postgresql.remove_data_directory_on_rewind_failure (true: reclone). */
  readonly onRewindFailure?: RewindFailurePolicy;
  readonly startTimeoutMs?: number;
  /** Bound of the fast stop of a still-running server before the check (then immediate, then SIGKILL). */
  readonly stopTimeoutMs?: number;
  /** Injected for tests: the suffix of the moved-aside directory. */
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
}

export type RejoinResult =
  | { readonly outcome: 'no-rewind-needed' | 'rewound'; readonly decision: RewindDecision; readonly start: StartOutcome; readonly durationMs: number }
  | { readonly outcome: 'recloned'; readonly decision: RewindDecision | null; readonly movedTo: string; readonly reason: string; readonly start: StartOutcome; readonly durationMs: number }
  | { readonly outcome: 'failed'; readonly decision: RewindDecision | null; readonly reason: string; readonly durationMs: number };

export function rewindFailurePolicy(config: Config): RewindFailurePolicy {
  return config.postgresql.remove_data_directory_on_rewind_failure ? 'reclone' : 'stay-stopped';
}

/** Rename the data directory to <dir>.rewind-failed.<timestamp> and put an empty one in its place. */
export async function moveDataDirAside(config: Config, logger: Logger, reason: string, now: Date = new Date(), label = 'rewind-failed'): Promise<string> {
  const dir = config.postgresql.data_dir;
  const owner = await ownerOf(dir);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const target = `${dir}.${label}.${stamp}`;
  await rename(dir, target);
  await makeOwnedDir(dir, owner);
  logger.warn({ dataDir: dir, movedTo: target, reason }, 'data directory moved aside');
  return target;
}

/**
 * A replica that cannot stream from a newer-timeline leader is still running: the fork check reads
 * pg_control and pg_rewind needs a stopped server, so stop it here (fast: a clean shutdown in
 * recovery records where replay ended). Left to the caller, a running replica never got checked.
 */
async function stopForCheck(o: RejoinOptions): Promise<void> {
  if (runningPostmasterPid(pgPaths(o.config).postmasterPid) === null) return;
  o.logger.info({ leader: o.leader.name }, 'stopping postgresql to check it against the leader\'s timeline');
  await o.supervisor.stop({ mode: 'fast', timeoutMs: o.stopTimeoutMs ?? 60_000, ...(o.signal ? { signal: o.signal } : {}) });
}

/** pg_rewind from the leader. A leader that went away mid-rewind is no verdict on this data directory: retry later. */
async function rewindFrom(deps: RewindDeps, leader: UpstreamNode, leaderTimeline: LeaderTimeline | undefined): Promise<void> {
  try {
    await rewind({ ...deps, source: leader, ...(leaderTimeline === undefined ? {} : { leaderTimeline }) });
  } catch (err) {
    await fetchLeaderTimeline(deps, leader).catch((e: unknown) => {
      throw new PgError('rewind-failed', `rewind from ${leader.name} failed and the leader is unreachable: ${errorMessage(e)}`, { cause: err, retryable: true });
    });
    throw err;
  }
}

export async function rejoinAsReplica(o: RejoinOptions): Promise<RejoinResult> {
  const t0 = performance.now();
  const elapsed = (): number => Math.round(performance.now() - t0);
  const deps = { config: o.config, runner: o.runner, logger: o.logger, dynamicConfig: o.dynamicConfig ?? null, ...(o.signal ? { signal: o.signal } : {}) };
  const startReplica = (): Promise<StartOutcome> =>
    o.supervisor.start({ role: 'replica', leader: o.leader, timeoutMs: o.startTimeoutMs ?? 60_000, ...(o.signal ? { signal: o.signal } : {}) });

  let decision: RewindDecision | null = null;
  let failure: string;
  try {
    await stopForCheck(o);
    const check = await checkRewind({ ...deps, source: o.leader });
    decision = check.decision;
    if (decision.kind === 'not-needed') {
      const start = await startReplica();
      return { outcome: 'no-rewind-needed', decision, start, durationMs: elapsed() };
    }
    if (decision.kind === 'undetermined') throw new PgError('rewind-failed', decision.reason);
    if (!o.config.postgresql.use_pg_rewind && !(o.dynamicConfig?.postgresql.use_pg_rewind ?? false)) {
      throw new PgError('rewind-failed', `rewind needed (${decision.reason}) but use_pg_rewind is off`, { retryable: false });
    }
    await rewindFrom(deps, o.leader, check.leader);
    const start = await startReplica();
    return { outcome: 'rewound', decision, start, durationMs: elapsed() };
  } catch (err) {
    // Only a verdict (pg_rewind failed against a healthy leader, rewind impossible or disabled)
    // triggers the policy; anything transient goes back to the caller to retry.
    if (!(err instanceof PgError) || err.code !== 'rewind-failed' || err.retryable) throw err;
    failure = errorMessage(err);
  }
  const policy = o.onRewindFailure ?? rewindFailurePolicy(o.config);
  o.logger.error({ leader: o.leader.name, policy, reason: failure }, 'rewind failed');
  if (policy === 'stay-stopped') return { outcome: 'failed', decision, reason: failure, durationMs: elapsed() };
  const movedTo = await moveDataDirAside(o.config, o.logger, `rewind failed: ${failure}`, o.now?.());
  await cloneFrom({ ...deps, source: o.leader });
  const start = await startReplica();
  return { outcome: 'recloned', decision, movedTo, reason: failure, start, durationMs: elapsed() };
}
