// POST /switchover, POST /failover and DELETE /switchover. The API only validates and writes the
// intent to etcd's `failover` key; the leader's loop performs the switchover. For an immediate
// request the API then watches etcd until the leader key names someone else, and reports that.
// Texts follow Patroni's api.py, because patronictl prints them as they are.
import type { ClusterView, FailoverRequest, MemberView } from '../core/cluster.js';
import type { Clock } from '../core/clock.js';
import type { Dcs } from '../dcs/port.js';
import type { Outcome } from './replies.js';
import { parseZonedTimestamp } from './units.js';

export type ManualAction = 'switchover' | 'failover';

export interface SwitchoverBody {
  readonly leader?: string | null;
  readonly candidate?: string | null;
  /** Patroni's older spelling of candidate. */
  readonly member?: string | null;
  readonly scheduled_at?: string | null;
}

export const SWITCHOVER_BODY_SCHEMA = {
  type: 'object',
  // Unknown fields are refused in parseManualRequest, after Patroni's own checks and texts.
  additionalProperties: true,
  properties: {
    leader: { type: ['string', 'null'], maxLength: 256 },
    candidate: { type: ['string', 'null'], maxLength: 256 },
    member: { type: ['string', 'null'], maxLength: 256 },
    scheduled_at: { type: ['string', 'null'], maxLength: 64 },
  },
} as const;

export interface SwitchoverContext {
  readonly dcs: Dcs;
  readonly clock: Clock;
  readonly dcsTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** How long an immediate switchover may take before the answer is 503 "status unknown". */
  readonly completionTimeoutMs: (cluster: ClusterView) => number;
  readonly signal: AbortSignal;
}

const title = (a: ManualAction): string => (a === 'switchover' ? 'Switchover' : 'Failover');

function readCluster(ctx: SwitchoverContext): Promise<ClusterView> {
  return ctx.dcs.snapshot({ signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.dcsTimeoutMs)]) });
}

export interface Request {
  readonly action: ManualAction;
  readonly leader: string | null;
  readonly candidate: string | null;
  readonly scheduledAtMs: number | null;
}

const KNOWN_FIELDS = new Set(['leader', 'candidate', 'member', 'scheduled_at']);

/** Checks that need no etcd read: 400 and 422 answers. */
export function parseManualRequest(
  requested: ManualAction,
  body: SwitchoverBody,
  paused: boolean,
  nowWallMs: number,
): Outcome | Request {
  const leader = body.leader || null;
  const candidate = body.candidate || body.member || null;
  const scheduled = body.scheduled_at || null;
  if (requested === 'failover' && !candidate) {
    return { status: 400, message: 'Failover could be performed only to a specific candidate' };
  }
  if (requested === 'switchover' && !leader) {
    return { status: 400, message: 'Switchover could be performed only from a specific leader' };
  }
  // Patroni ignores unknown fields; a typo (candidat) would then switch over to any member.
  const unknown = Object.keys(body).find((k) => !KNOWN_FIELDS.has(k));
  if (unknown !== undefined) return { status: 400, message: `unknown field '${unknown}'` };
  // A failover naming the leader is a switchover (Patroni 4 does the same).
  const action: ManualAction = requested === 'failover' && leader ? 'switchover' : requested;
  let scheduledAtMs: number | null = null;
  if (scheduled) {
    if (requested === 'failover') return { status: 400, message: "Failover can't be scheduled" };
    if (paused) return { status: 400, message: "Can't schedule switchover in the paused state" };
    const at = parseZonedTimestamp('scheduled switchover', scheduled);
    if (!at.ok) return { status: 422, message: at.error };
    if (at.value < nowWallMs) return { status: 422, message: 'Cannot schedule switchover in the past' };
    scheduledAtMs = at.value;
  }
  if (paused && !candidate) {
    return { status: 400, message: 'Switchover is possible only to a specific candidate in a paused state' };
  }
  if (leader !== null && leader === candidate) return { status: 400, message: 'Switchover target and source are the same' };
  return { action, leader, candidate, scheduledAtMs };
}

/** Why a member cannot take over, or null when it can (S2 as far as etcd shows it). */
export function candidateProblem(m: MemberView, cluster: ClusterView): string | null {
  if (m.tags.nofailover === true) return 'tagged nofailover';
  if (m.role !== 'replica') return `its role is ${m.role}`;
  if (m.state !== 'running') return `PostgreSQL is ${m.state || 'not running'}`;
  const leaderLsn = cluster.status?.optime ?? null;
  const position = Math.max(m.receiveLsn ?? 0, m.replayLsn ?? 0, m.xlogLocation ?? 0);
  const maxLag = cluster.config?.value.maximum_lag_on_failover;
  if (leaderLsn !== null && maxLag !== undefined && leaderLsn - position > maxLag) {
    return `it lags ${leaderLsn - position} bytes behind the leader (maximum_lag_on_failover is ${maxLag})`;
  }
  return null;
}

/** Patroni's is_failover_possible, with the reason spelled out: 412 answers. */
export function failoverImpossible(cluster: ClusterView, req: Request, checkHealth: boolean): string | Omit<Outcome, 'status'> | null {
  const { action, leader, candidate } = req;
  if (leader && cluster.leader?.name !== leader) return 'leader name does not match';
  // Quorum mode too (stricter than Patroni, which lets a non-voter gather votes): only a
  // member the sync key lists is ever promoted here.
  const syncMode = cluster.config?.value.synchronous_mode === true || cluster.config?.value.synchronous_mode === 'quorum';
  const syncNames = cluster.sync?.value.syncStandby ?? [];
  let pool: readonly MemberView[];
  if (candidate) {
    // Patroni lets a manual failover pick an asynchronous member (accepting the loss); the agents
    // here never promote a member the sync key does not allow, so the request is refused up front
    // rather than left to hang.
    const refusedFailover = action === 'failover' && cluster.sync !== null && cluster.sync.value.leader !== candidate;
    if (syncMode && !syncNames.includes(candidate) && (action === 'switchover' || refusedFailover)) {
      return 'candidate name does not match with sync_standby';
    }
    pool = cluster.members.filter((m) => m.name === candidate);
    if (pool.length === 0) return 'candidate does not exists';
  } else if (syncMode) {
    pool = cluster.members.filter((m) => syncNames.includes(m.name));
    if (pool.length === 0) return `${action} is not possible: can not find sync_standby`;
  } else {
    pool = cluster.members.filter((m) => m.name !== cluster.leader?.name && m.apiUrl);
    if (pool.length === 0) return `${action} is not possible: cluster does not have members except leader`;
  }
  if (!checkHealth) return null;
  const problems = pool.map((m) => [m.name, candidateProblem(m, cluster)] as const);
  if (problems.some(([, p]) => p === null)) return null;
  // Patroni's exact sentence (patronictl and Patroni's tests compare it whole), the why apart.
  const detail = problems.map(([name, p]) => `${name}: ${p}`).join('; ');
  return { message: `${action} is not possible: no good candidates have been found`, detail };
}

/**
 * In pause a switchover completes (the leader stops cleanly and hands over, the candidate
 * promotes), as in Patroni. A failover without a leader does not: in pause nothing fences a
 * primary that lost its key, so promoting a replica could make a second writable primary.
 */
export function pausedImpossible(cluster: ClusterView, paused: boolean, req: Request): string | null {
  if (!paused || cluster.leader !== null) return null;
  return `${req.action} is not possible in the paused state while the cluster has no leader: a primary that lost its key is not stopped in pause, so a promotion could make a second primary; resume (agentctl resume) to let the agents fail over`;
}

/** Validate against a fresh (linearizable) read, write the intent, and for an immediate one wait. */
export async function requestManualFailover(
  requested: ManualAction,
  body: SwitchoverBody,
  paused: boolean,
  ctx: SwitchoverContext,
): Promise<Outcome> {
  const parsed = parseManualRequest(requested, body, paused, ctx.clock.wallNowMs());
  if ('status' in parsed) return parsed;
  let cluster: ClusterView;
  try {
    cluster = await readCluster(ctx);
  } catch {
    return { status: 503, message: 'failed to read the cluster state from etcd' };
  }
  const impossible = failoverImpossible(cluster, parsed, parsed.scheduledAtMs === null) ?? pausedImpossible(cluster, paused, parsed);
  if (typeof impossible === 'string') return { status: 412, message: impossible };
  if (impossible) return { status: 412, ...impossible };
  const pending = 'another switchover or failover request is already pending; cancel it first (DELETE /switchover)';
  if (cluster.failover) return { status: 409, message: pending };
  const intent: FailoverRequest = {
    ...(parsed.leader ? { leader: parsed.leader } : {}),
    ...(parsed.candidate ? { member: parsed.candidate } : {}),
    ...(parsed.scheduledAtMs !== null ? { scheduledAt: new Date(parsed.scheduledAtMs).toISOString() } : {}),
  };
  try {
    if (!(await ctx.dcs.setFailover(intent, 0, ctx.signal))) return { status: 409, message: pending };
  } catch {
    return { status: 503, message: 'failed to write failover key into DCS' };
  }
  if (parsed.scheduledAtMs !== null) return { status: 202, message: `${title(parsed.action)} scheduled` };
  const deadline = ctx.clock.monoMs() + ctx.completionTimeoutMs(cluster);
  return pollResult(parsed.action, cluster.leader?.name ?? null, parsed.candidate, deadline, ctx, ctx.clock.wallNowMs());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Looks at "intent gone, same leader" before answering "failed" without the leader's reason. */
const REASON_LOOKS = 15;

async function pollResult(
  action: ManualAction,
  oldLeader: string | null,
  candidate: string | null,
  deadlineMs: number,
  ctx: SwitchoverContext,
  sinceWallMs: number,
): Promise<Outcome> {
  // The intent can vanish a moment before the leader key changes hands; only a second look at
  // "intent gone, same leader" counts as a refusal. The leader publishes why it aborted with its
  // member key right after it drops the intent: a few more looks give the reason time to arrive.
  let gone = 0;
  while (!ctx.signal.aborted && ctx.clock.monoMs() < deadlineMs) {
    await sleep(ctx.pollIntervalMs, ctx.signal);
    let cluster: ClusterView;
    try {
      cluster = await readCluster(ctx);
    } catch {
      continue;
    }
    const now = cluster.leader?.name ?? null;
    if (now !== null && now !== oldLeader) {
      if (!candidate || candidate === now) {
        return { status: 200, message: `Successfully ${action === 'switchover' ? 'switched' : 'failed'} over to "${now}"` };
      }
      return { status: 200, message: `${action === 'switchover' ? 'Switched' : 'Failed'} over to "${now}" instead of "${candidate}"` };
    }
    const refused = cluster.failover === null && now !== null;
    gone = refused ? gone + 1 : 0;
    const why = refused && now !== null ? abortReason(cluster, now, sinceWallMs) : null;
    if (gone >= 2 && why) return { status: 503, message: `${title(action)} failed: ${why}` };
    // The leader puts its member key with the reason a tick step after it drops the intent; a
    // loaded machine can take a second or two for it.
    if (gone >= REASON_LOOKS) return { status: 503, message: `${title(action)} failed` };
  }
  return { status: 503, message: `${title(action)} status unknown` };
}

/** Why the leader aborted the switchover (its member key), if it did so after `sinceWallMs`. */
export function abortReason(cluster: ClusterView, leader: string, sinceWallMs: number): string | null {
  const aborted = cluster.members.find((m) => m.name === leader)?.switchoverAborted;
  if (!aborted) return null;
  const at = Date.parse(aborted.at);
  // A second of slack: the leader's and this node's wall clocks may differ a little.
  return Number.isNaN(at) || at < sinceWallMs - 1000 ? null : `the leader ${leader} aborted it and stays primary: ${aborted.reason}`;
}

/** DELETE /switchover: cancel a scheduled switchover. */
export async function cancelScheduledSwitchover(ctx: SwitchoverContext): Promise<Outcome> {
  let cluster: ClusterView;
  try {
    cluster = await readCluster(ctx);
  } catch {
    return { status: 503, message: 'failed to read the cluster state from etcd' };
  }
  const failover = cluster.failover;
  if (!failover?.value.scheduledAt) return { status: 404, message: 'no switchover is scheduled' };
  try {
    if (!(await ctx.dcs.deleteFailover(failover.modRevision, ctx.signal))) {
      return { status: 409, message: 'the scheduled switchover changed while it was being cancelled; look again' };
    }
  } catch {
    return { status: 503, message: 'failed to delete the failover key in etcd' };
  }
  return { status: 200, message: 'scheduled switchover deleted' };
}
