// POST /restart and POST /reinitialize, carried out by the agent as jobs (the API only asks).
// A restart with a schedule is kept in memory and run at its time, as Patroni does: the
// conditions (role, version, pending restart) are checked when it runs, not when it is asked.
import type { ReinitializeOutcome, ReinitializeRequest, RestartOutcome, RestartRequest } from '../api/local-actions.js';
import type { MemberRef } from '../core/decide-types.js';
import { memberRef } from '../core/member-ref.js';
import type { JobRunner } from './jobs.js';
import type { StatusSnapshot } from '../obs/status.js';

function leaderRef(status: StatusSnapshot): MemberRef | null {
  const cluster = status.cluster;
  const name = cluster?.leader?.name;
  const m = cluster?.members.find((x) => x.name === name);
  return m ? memberRef(m) : null;
}

function versionBelow(running: number | undefined, wanted: string): boolean {
  const [maj, min] = wanted.split('.').map(Number);
  if (running === undefined || maj === undefined || Number.isNaN(maj)) return true;
  return running < maj * 10000 + (min ?? 0);
}

/** Why the restart's filters do not match this node now; null when they do. */
function mismatch(req: RestartRequest, status: StatusSnapshot): string | null {
  const node = status.node;
  if (req.role !== undefined && req.role !== node.role) return `role does not match (${node.role})`;
  if (req.postgresVersion !== undefined && !versionBelow(node.server_version, req.postgresVersion)) {
    return `server version ${node.server_version ?? 'unknown'} is not below ${req.postgresVersion}`;
  }
  if (req.restartPending === true && node.pending_restart !== true) return 'no restart pending';
  return null;
}

/**
 * The role to start in. A stopped PostgreSQL (killed in pause, say) is started as Patroni does:
 * as primary only while this node holds the leader key, else as a replica of the leader.
 */
function startRole(status: StatusSnapshot): 'primary' | 'replica' {
  if (status.node.state === 'running') return status.node.role === 'primary' ? 'primary' : 'replica';
  return status.holdsLeader ? 'primary' : 'replica';
}

export interface ScheduledRestart {
  readonly request: RestartRequest;
  readonly atMs: number;
  /** postmaster_start_time when it was scheduled: a restart in between makes it moot. */
  readonly postmasterStartTime: string | null;
}

export interface LocalActionsDeps {
  readonly jobs: JobRunner;
  readonly getStatus: () => StatusSnapshot;
  /** Wall clock (epoch ms); Date.now by default. */
  readonly wallNowMs?: () => number;
  readonly onScheduledRestart?: (outcome: RestartOutcome | { kind: 'cancelled'; reason: string }) => void;
}

export function createLocalActions(deps: LocalActionsDeps) {
  const now = deps.wallNowMs ?? Date.now;
  let scheduled: { plan: ScheduledRestart; timer: NodeJS.Timeout } | null = null;

  async function restartNow(req: RestartRequest): Promise<RestartOutcome> {
    const status = deps.getStatus();
    const node = status.node;
    if (node.state !== 'running' && node.state !== 'stopped') return { kind: 'failed', reason: `postgresql is ${node.state}` };
    const why = mismatch(req, status);
    if (why !== null) return { kind: 'not_needed', reason: why };
    if (deps.jobs.running()) return { kind: 'failed', reason: `${deps.jobs.running()?.spec.kind} already in progress` };
    const role = startRole(status);
    const leader = role === 'replica' ? leaderRef(status) : null;
    const done = deps.jobs.start({ kind: 'restart', role, leader });
    const bound = (req.timeoutSec ?? 300) * 1000;
    const result = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), bound).unref())]);
    if (result === null) return { kind: 'failed', reason: `restart did not finish within ${bound / 1000} s` };
    return result.ok ? { kind: 'restarted' } : { kind: 'failed', reason: result.error ?? 'unknown error' };
  }

  async function runScheduled(plan: ScheduledRestart): Promise<void> {
    scheduled = null;
    const started = deps.getStatus().node.postmaster_start_time ?? null;
    if (plan.postmasterStartTime !== null && started !== null && started !== plan.postmasterStartTime) {
      deps.onScheduledRestart?.({ kind: 'cancelled', reason: `postgres restart has already happened at ${started}` });
      return;
    }
    const { scheduledAtMs: _at, ...request } = plan.request;
    deps.onScheduledRestart?.(await restartNow(request));
  }

  function schedule(req: RestartRequest & { scheduledAtMs: number }): RestartOutcome {
    if (scheduled !== null) return { kind: 'already_scheduled' };
    const plan: ScheduledRestart = {
      request: req,
      atMs: req.scheduledAtMs,
      postmasterStartTime: deps.getStatus().node.postmaster_start_time ?? null,
    };
    const timer = setTimeout(() => void runScheduled(plan), Math.max(0, plan.atMs - now()));
    timer.unref();
    scheduled = { plan, timer };
    return { kind: 'scheduled' };
  }

  function restart(req: RestartRequest): Promise<RestartOutcome> {
    if (req.scheduledAtMs !== undefined) return Promise.resolve(schedule({ ...req, scheduledAtMs: req.scheduledAtMs }));
    return restartNow(req);
  }

  /** DELETE /restart: true when a scheduled restart was cancelled. */
  function cancelScheduledRestart(): boolean {
    if (scheduled === null) return false;
    clearTimeout(scheduled.timer);
    scheduled = null;
    return true;
  }

  function scheduledRestart(): ScheduledRestart | null {
    return scheduled?.plan ?? null;
  }

  async function reinitialize(req: ReinitializeRequest): Promise<ReinitializeOutcome> {
    const status = deps.getStatus();
    if (status.holdsLeader) return { kind: 'refused', reason: 'I am the leader, can not reinitialize' };
    const running = deps.jobs.running();
    if (running && !req.force) return { kind: 'refused', reason: `${running.spec.kind} already in progress` };
    const leader = leaderRef(status);
    if (!leader) return { kind: 'refused', reason: 'Cluster has no leader, can not reinitialize' };
    if (running) await deps.jobs.abort();
    void deps.jobs.start({ kind: 'reinit', source: leader });
    return { kind: 'started' };
  }

  return { restart, cancelScheduledRestart, scheduledRestart, reinitialize };
}
