// POST /restart and POST /reinitialize: the API only asks. Each request is queued for the next
// tick, whose decide() starts the job or refuses (src/core/requests.ts); this waits for the answer
// and, for a restart, for the job's end. A restart with a schedule is kept in memory and queued at
// its time, as Patroni does: the conditions (role, version, pending restart) are checked then.
import type { ReinitializeOutcome, ReinitializeRequest, RestartOutcome, RestartRequest } from '../api/local-actions.js';
import type { RequestQueue, Settled } from './request-queue.js';
import type { StatusSnapshot } from '../obs/status.js';

/** How long POST /reinitialize waits for a tick to answer (a tick stuck on etcd, say). */
export const REINIT_ANSWER_BOUND_MS = 30_000;

function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => { timer = setTimeout(() => r(null), ms); timer.unref(); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface ScheduledRestart {
  readonly request: RestartRequest;
  readonly atMs: number;
  /** postmaster_start_time when it was scheduled: a restart in between makes it moot. */
  readonly postmasterStartTime: string | null;
}

export interface LocalActionsDeps {
  readonly requests: RequestQueue;
  readonly getStatus: () => StatusSnapshot;
  /** Wall clock (epoch ms); Date.now by default. */
  readonly wallNowMs?: () => number;
  readonly onScheduledRestart?: (outcome: RestartOutcome | { kind: 'cancelled'; reason: string }) => void;
}

export function createLocalActions(deps: LocalActionsDeps): LocalActions {
  return new LocalActions(deps);
}

/** Restart (now or at a time, one scheduled at most) and reinitialize, as operator requests to the loop. */
export class LocalActions {
  private readonly now: () => number;
  private scheduled: { plan: ScheduledRestart; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly deps: LocalActionsDeps) {
    this.now = deps.wallNowMs ?? Date.now;
  }

  async restart(req: RestartRequest): Promise<RestartOutcome> {
    if (req.scheduledAtMs !== undefined) return this.schedule({ ...req, scheduledAtMs: req.scheduledAtMs });
    const outcome = await restartNow(this.deps, req);
    // Only a scheduled restart is compared with the postmaster's start time.
    return outcome.kind === 'cancelled' ? { kind: 'failed', reason: outcome.reason } : outcome;
  }

  /** DELETE /restart: true when a scheduled restart was cancelled. */
  cancelScheduledRestart(): boolean {
    if (this.scheduled === null) return false;
    clearTimeout(this.scheduled.timer);
    this.scheduled = null;
    return true;
  }

  scheduledRestart(): ScheduledRestart | null {
    return this.scheduled?.plan ?? null;
  }

  reinitialize(req: ReinitializeRequest): Promise<ReinitializeOutcome> {
    return reinitializeVia(this.deps, req);
  }

  private schedule(req: RestartRequest & { scheduledAtMs: number }): RestartOutcome {
    if (this.scheduled !== null) return { kind: 'already_scheduled' };
    const plan: ScheduledRestart = {
      request: req,
      atMs: req.scheduledAtMs,
      postmasterStartTime: this.deps.getStatus().node.postmaster_start_time ?? null,
    };
    const timer = setTimeout(() => void this.runScheduled(plan), Math.max(0, plan.atMs - this.now()));
    timer.unref();
    this.scheduled = { plan, timer };
    return { kind: 'scheduled' };
  }

  private async runScheduled(plan: ScheduledRestart): Promise<void> {
    this.scheduled = null;
    const { scheduledAtMs: _at, ...request } = plan.request;
    this.deps.onScheduledRestart?.(await restartNow(this.deps, request, plan.postmasterStartTime));
  }
}

async function restartNow(deps: LocalActionsDeps, req: RestartRequest, postmasterStartTime?: string | null): Promise<RestartOutcome | { kind: 'cancelled'; reason: string }> {
  const bound = (req.timeoutSec ?? 300) * 1000;
  const t0 = Date.now();
  const { id, answer } = deps.requests.ask({
    kind: 'restart',
    ...(req.role !== undefined ? { role: req.role } : {}),
    ...(req.postgresVersion !== undefined ? { postgresVersion: req.postgresVersion } : {}),
    ...(req.restartPending !== undefined ? { restartPending: req.restartPending } : {}),
    ...(postmasterStartTime !== undefined ? { postmasterStartTime } : {}),
  });
  const settled: Settled | null = await within(answer, bound);
  if (settled === null) deps.requests.withdraw(id);
  if (settled === null) return { kind: 'failed', reason: `restart did not finish within ${bound / 1000} s` };
  if (settled.kind === 'refused') return { kind: 'failed', reason: settled.reason };
  if (settled.kind !== 'started') return { kind: settled.kind, reason: settled.reason };
  const result = await within(settled.done, Math.max(0, bound - (Date.now() - t0)));
  if (result === null) return { kind: 'failed', reason: `restart did not finish within ${bound / 1000} s` };
  return result.ok ? { kind: 'restarted' } : { kind: 'failed', reason: result.error ?? 'unknown error' };
}

async function reinitializeVia(deps: LocalActionsDeps, req: ReinitializeRequest): Promise<ReinitializeOutcome> {
  const { id, answer } = deps.requests.ask({ kind: 'reinit', force: req.force });
  const settled = await within(answer, REINIT_ANSWER_BOUND_MS);
  if (settled === null) deps.requests.withdraw(id);
  if (settled === null) return { kind: 'refused', reason: `the agent loop did not answer within ${REINIT_ANSWER_BOUND_MS / 1000} s` };
  // The job runs on; POST /reinitialize answers once it started, as Patroni does.
  if (settled.kind === 'started') return { kind: 'started' };
  return { kind: 'refused', reason: settled.reason };
}
