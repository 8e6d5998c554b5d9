// The promotion job: the history entry first (S4: a promotion etcd does not know about would let a
// later one reuse the timeline number), then pg_promote. A job, so the ticks keep renewing the
// lease while PostgreSQL finishes recovery; the fence stays armed on the proven lease throughout.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { JobSpec } from '../core/decide-types.js';
import { formatLsn } from '../core/lsn.js';
import type { Dcs } from '../dcs/port.js';
import type { PgPort } from './pg-port.js';
import { AgentError } from '../errors.js';
import { errorMessage } from '../errors.js';

/** A failed step of a job, so that decide() can answer it (history: release the key). */
export class JobStageError extends AgentError<'job-stage-failed'> {
  constructor(readonly stage: string, message: string, options?: { cause?: unknown }) {
    super('job-stage-failed', message, { cause: options?.cause, retryable: false });
  }
}

export async function runPromotion(args: {
  readonly pg: PgPort; readonly dcs: Dcs; readonly clock: Clock; readonly logger: Logger;
  readonly spec: Extract<JobSpec, { kind: 'promote' }>; readonly signal: AbortSignal; readonly selfName?: string;
}): Promise<void> {
  const { pg, dcs, clock, logger, spec, signal } = args;
  const t0 = clock.monoMs();
  try {
    await dcs.appendHistory({
      timeline: spec.oldTimeline,
      switchLsn: spec.switchLsn,
      reason: spec.reason,
      timestamp: new Date(clock.wallNowMs()).toISOString(),
      newLeader: args.selfName ?? '',
    }, signal);
  } catch (err) {
    throw new JobStageError('history', `history append failed: ${errorMessage(err)}`, { cause: err });
  }
  // After the entry: a catch-up's files make PostgreSQL name the timeline the entry promised.
  if (spec.timelineFiles && spec.timelineFiles.length > 0) await pg.writeTimelineFiles(spec.timelineFiles, signal);
  await proveKeyBeforePromote(dcs, signal);
  const timeline = await pg.promote(60_000, signal);
  logger.info({
    oldTimeline: spec.oldTimeline, newTimeline: timeline, switchLsn: formatLsn(spec.switchLsn),
    reason: spec.reason, durationMs: Math.round(clock.monoMs() - t0),
    ...(spec.timelineFiles && spec.timelineFiles.length > 0 ? { timelineFilesWritten: spec.timelineFiles.map((f) => f.timeline) } : {}),
  }, 'promoted');
}

/**
 * The key was ours when the tick took it, but it may be gone by the time pg_promote runs (deleted,
 * the lease revoked): the loss is no reason to fence a PostgreSQL still in recovery, so nothing
 * else stops the promotion, and a replica that saw us "running, in recovery" may be promoting too.
 * The key is read once more right before pg_promote (GET /patroni says starting_as primary while
 * the job runs, so a racing peer reads us as possibly writable from the job's start).
 */
async function proveKeyBeforePromote(dcs: Dcs, signal: AbortSignal): Promise<void> {
  if (await dcs.checkLeadership(signal)) return;
  throw new JobStageError('leadership', 'the leader key is no longer ours: not promoting');
}
