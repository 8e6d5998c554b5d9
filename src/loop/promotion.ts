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
  const timeline = await pg.promote(60_000, signal);
  logger.info({
    oldTimeline: spec.oldTimeline, newTimeline: timeline, switchLsn: formatLsn(spec.switchLsn),
    reason: spec.reason, durationMs: Math.round(clock.monoMs() - t0),
    ...(spec.timelineFiles && spec.timelineFiles.length > 0 ? { timelineFilesWritten: spec.timelineFiles.map((f) => f.timeline) } : {}),
  }, 'promoted');
}
