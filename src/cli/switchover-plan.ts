// Preflight of a switchover or failover: is the candidate (or is any member) fit to take over?
// etcd's view first (the checks POST /switchover makes too), then the member's own live status,
// so a refusal names the reason before anything is asked of the leader.
import { candidateProblem } from '../api/switchover.js';
import type { ClusterView, MemberView } from '../core/cluster.js';
import { memberStatus } from './cluster.js';
import type { CtlContext } from './context.js';

export interface CandidateCheck {
  readonly name: string;
  /** Why it cannot take over; null when it can. */
  readonly problem: string | null;
  readonly walPosition: number | null;
  readonly lagBytes: number | null;
  readonly priority: number;
}

type Status = Record<string, unknown>;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function xlogField(s: Status | null, key: string): number | null {
  const x = s?.['xlog'];
  return typeof x === 'object' && x !== null ? num((x as Record<string, unknown>)[key]) : null;
}

function liveProblem(s: Status | null, requireStreaming: boolean): string | null {
  if (s === null) return 'its agent does not answer on its REST API';
  const tags = s['tags'];
  if (typeof tags === 'object' && tags !== null && (tags as Record<string, unknown>)['nofailover'] === true) return 'tagged nofailover';
  if (s['state'] !== 'running') return `postgresql is ${String(s['state'] ?? 'not running')}`;
  if (s['role'] !== 'replica') return `it runs as ${String(s['role'])}`;
  if (requireStreaming && s['replication_state'] !== 'streaming') {
    return `it is not streaming from the leader (replication_state ${String(s['replication_state'] ?? 'none')})`;
  }
  return null;
}

function syncProblem(m: MemberView, cluster: ClusterView): string | null {
  const mode = cluster.config?.value.synchronous_mode;
  if (mode !== true && mode !== 'quorum') return null;
  const names = cluster.sync?.value.syncStandby ?? [];
  if (names.includes(m.name)) return null;
  return mode === 'quorum'
    ? `synchronous_mode is quorum and it is not a quorum standby (${names.join(', ') || 'none'})`
    : `synchronous_mode is on and it is not the synchronous standby (${names.join(', ') || 'none'})`;
}

/**
 * Checks every member in `candidates`. `leaderLsn` is the leader's live WAL position (null when
 * the leader does not answer: the last published optime is used, as the agents do).
 */
export async function checkCandidates(
  ctx: CtlContext,
  cluster: ClusterView,
  candidates: readonly MemberView[],
  opts: { requireStreaming: boolean; leaderLsn: number | null },
): Promise<CandidateCheck[]> {
  const maxLag = cluster.config?.value.maximum_lag_on_failover ?? null;
  const reference = opts.leaderLsn ?? cluster.status?.optime ?? null;
  return Promise.all(candidates.map(async (m) => {
    const s = await memberStatus(ctx, m);
    const position = xlogField(s, 'received_location') ?? xlogField(s, 'replayed_location') ?? m.receiveLsn ?? m.xlogLocation ?? null;
    const lag = reference === null || position === null ? null : Math.max(0, reference - position);
    let problem = candidateProblem(m, cluster) ?? syncProblem(m, cluster) ?? liveProblem(s, opts.requireStreaming);
    if (problem === null && lag !== null && maxLag !== null && lag > maxLag) {
      problem = `it lags ${lag} bytes behind the leader (maximum_lag_on_failover is ${maxLag})`;
    }
    const priority = typeof m.tags.failover_priority === 'number' ? m.tags.failover_priority : 1;
    return { name: m.name, problem, walPosition: position, lagBytes: lag, priority };
  }));
}

/** The member the leader would pick: most WAL received, then failover_priority, then name. */
export function bestOf(checks: readonly CandidateCheck[]): CandidateCheck | null {
  const ok = checks.filter((c) => c.problem === null);
  ok.sort((a, b) => (b.walPosition ?? -1) - (a.walPosition ?? -1) || b.priority - a.priority || (a.name < b.name ? -1 : 1));
  return ok[0] ?? null;
}

/** The leader's live WAL position from its GET /patroni, or null. */
export async function leaderPosition(ctx: CtlContext, leader: MemberView | null): Promise<number | null> {
  if (!leader) return null;
  return xlogField(await memberStatus(ctx, leader), 'location');
}

export function describeProblems(checks: readonly CandidateCheck[]): string {
  return checks.filter((c) => c.problem !== null).map((c) => `${c.name}: ${c.problem}`).join('; ');
}
