// Shows a switchover or failover as it happens. The agents do the work (the leader's switchover
// job, the candidate's promotion); agentctl only watches etcd (leader and failover keys) and the
// members' GET /patroni, and prints each phase once, with the time since the request.
import type { ClusterView, MemberView } from '../core/cluster.js';
import { memberStatus } from './cluster.js';
import type { CtlContext } from './context.js';

export type PhaseId =
  | 'requested' | 'job-started' | 'old-stopped' | 'key-released' | 'key-taken' | 'promoted'
  | 'old-following' | 'request-cleared';

export interface PhaseEvent {
  readonly phase: PhaseId;
  readonly atMs: number;
  readonly text: string;
}

type Status = Record<string, unknown> | null;

const field = (s: Status, k: string): unknown => (s === null ? undefined : s[k]);

function reasonOf(s: Status): string | null {
  const agent = field(s, 'pg_ha_agent');
  const last = typeof agent === 'object' && agent !== null ? (agent as { last_decision?: { reason?: unknown } }).last_decision : undefined;
  return typeof last?.reason === 'string' ? last.reason : null;
}

export interface WatchState {
  readonly leader: string | null;
  readonly failoverPending: boolean;
  readonly statuses: ReadonlyMap<string, Status>;
  /** This look's cluster view; null when etcd could not be read. */
  readonly cluster: ClusterView | null;
}

export class PhaseWatch {
  readonly events: PhaseEvent[] = [];
  private readonly seen = new Set<PhaseId>();
  /** Reasons the members gave while being watched (to spot a pg_rewind, for instance). */
  readonly reasons = new Set<string>();
  newLeader: string | null = null;

  constructor(
    private readonly ctx: CtlContext,
    private readonly oldLeader: string | null,
    private readonly members: readonly MemberView[],
    private readonly t0: number,
    private readonly mode: 'switchover' | 'failover' = 'switchover',
  ) {}

  private mark(phase: PhaseId, text: string): void {
    if (this.seen.has(phase)) return;
    this.seen.add(phase);
    const atMs = this.ctx.clock.monoMs() - this.t0;
    this.events.push({ phase, atMs, text });
    this.ctx.io.err(`  +${(atMs / 1000).toFixed(3)} s  ${text}\n`);
  }

  has(phase: PhaseId): boolean {
    return this.seen.has(phase);
  }

  /** One look at etcd and at every member; returns what it saw. */
  async poll(read: () => Promise<ClusterView>): Promise<WatchState> {
    const [cluster, statuses] = await Promise.all([
      read().catch(() => null),
      Promise.all(this.members.map(async (m) => [m.name, await memberStatus(this.ctx, m, 800)] as const)),
    ]);
    const map = new Map<string, Status>(statuses);
    for (const s of map.values()) {
      const r = reasonOf(s);
      if (r !== null) this.reasons.add(r);
    }
    const state: WatchState = {
      leader: cluster ? cluster.leader?.name ?? null : (this.newLeader ?? this.oldLeader),
      failoverPending: cluster ? cluster.failover !== null : true,
      statuses: map,
      cluster,
    };
    if (cluster) this.observe(state);
    return state;
  }

  private observe(st: WatchState): void {
    const old = this.oldLeader;
    if (st.failoverPending) this.mark('requested', 'request recorded in etcd (failover key)');
    const oldStatus = old === null ? null : st.statuses.get(old) ?? null;
    const oldReason = reasonOf(oldStatus);
    if (old !== null && oldReason !== null && /^switchover to /.test(oldReason)) {
      this.mark('job-started', `${old}: ${oldReason.replace(/^switchover to (\S+): .*/, 'switchover job started: CHECKPOINT, then a clean stop, handing over to $1')}`);
    }
    if (old !== null && oldStatus !== null && field(oldStatus, 'state') !== 'running' && st.leader === old) {
      this.mark('old-stopped', `${old}: postgresql stopped; waiting for the candidate to receive the shutdown checkpoint`);
    }
    if (st.leader === null && (old === null || this.seen.has('requested'))) {
      const how = this.mode === 'switchover' ? `released by ${old}` : `of ${old} expired or released`;
      this.mark('key-released', old === null ? 'no leader key' : `leader key ${how}`);
    }
    if (st.leader !== null && st.leader !== old) {
      this.newLeader = st.leader;
      this.mark('key-taken', `${st.leader} took the leader key`);
    }
    const nl = this.newLeader;
    const nlStatus = nl === null ? null : st.statuses.get(nl) ?? null;
    if (nl !== null && field(nlStatus, 'role') === 'primary' && field(nlStatus, 'state') === 'running') {
      this.mark('promoted', `${nl}: promoted, running as primary on timeline ${String(field(nlStatus, 'timeline') ?? '?')}`);
    }
    if (nl !== null && oldStatus !== null && field(oldStatus, 'role') === 'replica' && field(oldStatus, 'replication_state') === 'streaming'
      && field(oldStatus, 'timeline') === field(nlStatus, 'timeline')) {
      this.mark('old-following', `${old}: running as a replica, streaming from ${nl}`);
    }
    if (nl !== null && !st.failoverPending && this.seen.has('requested')) this.mark('request-cleared', 'failover key cleared by the new leader');
  }
}
