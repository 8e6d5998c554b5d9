// The status snapshot: what the agent loop publishes after every tick, and the only thing the REST
// API's health path and /metrics read. It is a frozen object swapped atomically by the loop, so a
// request never waits on etcd or PostgreSQL and never sees half of a tick.
//
// Time-dependent answers ("am I a valid leader now?") are functions of (snapshot, nowMonoMs): a
// lease that expired after the last tick must answer 503 at once, not one loop_wait later.
//
// The node's Patroni-shaped status inside the snapshot is built in node-status.ts.
import type { DynamicConfig, Tags } from '../config/types.js';
import type { ClusterView, MemberRole } from '../core/cluster.js';
import type { JobBackoff } from '../core/decide-types.js';
import { stoppedWalPosition, type LocalPg } from '../core/local-pg.js';
import { laterWal, type WalMark } from '../core/seen-wal.js';
import type { EtcdMemberHealth } from '../dcs/etcd-members.js';
import type { AgentCounters } from './metrics.js';
import { emptyCounters } from './metrics.js';
import { buildNodeStatus, type NodeStatus } from './node-status.js';

export interface LastDecision {
  readonly reason: string;
  readonly actions: readonly string[];
  /** The last switchover this node aborted as leader (it stays in /patroni after the tick's reason changes). */
  readonly switchoverAborted?: { readonly to: string; readonly reason: string; readonly at: string };
}

export interface StatusSnapshot {
  readonly name: string;
  readonly scope: string;
  readonly agentVersion: string;
  readonly node: NodeStatus;
  /** The leader key names this node under this node's lease, as of the last tick. */
  readonly holdsLeader: boolean;
  /** Monotonic ms until which the lease is provably alive (-Infinity without a lease). */
  readonly leaseValidUntilMs: number;
  /** create_revision of the leader key (whoever holds it), null when unlocked or unknown. */
  readonly leaderTerm: number | null;
  readonly lastDecision: LastDecision;
  /** Monotonic ms at which the last tick completed (the start time before the first tick). */
  readonly lastTickMonoMs: number;
  /** The last etcd read of this tick succeeded. */
  readonly dcsOk: boolean;
  /** The last successful cluster view (possibly older than this tick when dcsOk is false). */
  readonly cluster: ClusterView | null;
  readonly paused: boolean;
  readonly ttlSec: number;
  readonly loopWaitSec: number;
  readonly maximumLagOnFailover: number;
  /** The leader's last published WAL position (the `status` key's optime). */
  readonly leaderOptime: number | null;
  readonly tags: Tags;
  readonly noloadbalance: boolean;
  readonly counters: AgentCounters;
  /** A repair job that keeps failing and waits before its next try (null when none). */
  readonly jobBackoff: JobBackoff | null;
  /** Each etcd member as the client sees it (added at request time, not by the loop). */
  readonly etcdMembers?: readonly EtcdMemberHealth[];
  /**
   * A job running now starts PostgreSQL, as this (added at request time from the job runner): a
   * racing peer must not read "stopped" as "no longer writable" while a primary start is under way.
   */
  readonly startingAs?: 'primary' | 'replica';
  /**
   * PostgreSQL is stopped: the WAL its data directory holds, from pg_control (a clean primary
   * stop's shutdown checkpoint; otherwise the last checkpoint, a lower bound). A race must not rank
   * out a member that holds more WAL only because it is stopped a moment (seed 301 of set 5).
   */
  readonly stoppedWal?: { readonly lsn: number; readonly timeline: number };
  /**
   * The agent cannot vouch for its PostgreSQL: the postmaster did not answer the tick's queries
   * (its open sessions may still commit), or no tick has observed it since the agent started.
   */
  readonly pgUnresponsive?: true;
}

/**
 * The snapshot as of now for the REST API: a postmaster that died since the tick shows as stopped,
 * and a start under way as starting. Pure (the caller reads the postmaster and the job runner).
 */
export function liveSnapshot(snap: StatusSnapshot, postmasterAlive: boolean, startingAs: 'primary' | 'replica' | null): StatusSnapshot {
  let out = snap;
  if (snap.node.state === 'running' && !postmasterAlive) {
    const { postmaster_start_time: _t, replication_state: _r, replication: _l, ...node } = snap.node;
    out = { ...snap, node: { ...node, state: 'stopped' } };
  }
  if (startingAs === null) return out;
  const node = out.node.state === 'stopped' ? { ...out.node, state: 'starting' } : out.node;
  return { ...out, node, startingAs };
}

/** The snapshot with the etcd client's per-member view, read now (no etcd call). */
export function withEtcdMembers(snap: StatusSnapshot, members: readonly EtcdMemberHealth[]): StatusSnapshot {
  return Object.freeze({ ...snap, etcdMembers: members });
}

/** The lease-safety warnings of the etcd members, one line each. */
export function etcdWarnings(snap: StatusSnapshot): string[] {
  return (snap.etcdMembers ?? []).flatMap((m) => (m.warning === null ? [] : [m.warning]));
}

export interface StatusInputs {
  readonly name: string;
  readonly scope: string;
  readonly agentVersion: string;
  readonly local: LocalPg;
  /** The last successful cluster view (null if etcd was never read). */
  readonly cluster: ClusterView | null;
  readonly dcsOk: boolean;
  /** Wall-clock epoch ms of the last successful etcd read, null if never. */
  readonly dcsLastSeenWallMs: number | null;
  readonly holdsLeader: boolean;
  readonly leaseValidUntilMs: number;
  /** The dynamic configuration in effect (etcd's `config`, else bootstrap.dcs). */
  readonly dynamic: DynamicConfig;
  readonly tags: Tags;
  /** Patroni state word when the loop knows better than the observation (starting, stopping, ...). */
  readonly pgState?: string;
  /** The role the agent runs PostgreSQL in when it cannot be observed (PostgreSQL down). */
  readonly pgRole?: MemberRole;
  readonly lastDecision: LastDecision;
  readonly tickMonoMs: number;
  readonly counters: AgentCounters;
  readonly jobBackoff?: JobBackoff | null;
  /** The furthest WAL seen while PostgreSQL ran (src/core/seen-wal.ts). */
  readonly seenWal?: WalMark | null;
}

/** Build the snapshot the loop publishes after a tick. Pure. */
export function buildStatusSnapshot(inputs: StatusInputs): StatusSnapshot {
  const { cluster, dynamic } = inputs;
  const node = buildNodeStatus(inputs);
  return Object.freeze({
    name: inputs.name,
    scope: inputs.scope,
    agentVersion: inputs.agentVersion,
    node,
    holdsLeader: inputs.holdsLeader,
    leaseValidUntilMs: inputs.leaseValidUntilMs,
    leaderTerm: cluster?.leader?.createRevision ?? null,
    lastDecision: Object.freeze({ ...inputs.lastDecision, actions: [...inputs.lastDecision.actions] }),
    lastTickMonoMs: inputs.tickMonoMs,
    dcsOk: inputs.dcsOk,
    cluster,
    paused: dynamic.pause === true,
    ttlSec: dynamic.ttl,
    loopWaitSec: dynamic.loop_wait,
    maximumLagOnFailover: dynamic.maximum_lag_on_failover,
    leaderOptime: cluster?.status?.optime ?? null,
    tags: inputs.tags,
    noloadbalance: inputs.tags.noloadbalance === true,
    counters: inputs.counters,
    jobBackoff: inputs.jobBackoff ?? null,
    ...stoppedWalOf(inputs.local, inputs.seenWal ?? null),
    ...(inputs.local.kind === 'unresponsive' ? { pgUnresponsive: true as const } : {}),
  });
}

function stoppedWalOf(local: LocalPg, seen: WalMark | null): { stoppedWal?: WalMark } {
  if (local.kind !== 'down' || !local.control) return {};
  return { stoppedWal: laterWal({ lsn: stoppedWalPosition(local.control), timeline: local.control.timeline }, seen) };
}

export interface StartingInputs {
  readonly name: string;
  readonly scope: string;
  readonly agentVersion: string;
  readonly dynamic: DynamicConfig;
  readonly tags: Tags;
  readonly nowMonoMs: number;
}

/**
 * What the API serves before the first tick completes: not a leader, PostgreSQL state unknown.
 * Unknown is not stopped: an agent restarted in place beside a hung primary answered "stopped" here
 * for its first tick's 3 s, and a replica took that for evidence that the former leader no longer
 * writes (sim seed 867 of set 6, on real processes in unresponsive-leader.test.ts).
 */
export function startingSnapshot(inputs: StartingInputs): StatusSnapshot {
  return buildStatusSnapshot({
    ...inputs,
    local: { kind: 'unresponsive', pid: null, detail: 'not observed yet', dataDir: 'initialized', control: null, standbySignal: false },
    cluster: null,
    dcsOk: false,
    dcsLastSeenWallMs: null,
    holdsLeader: false,
    leaseValidUntilMs: Number.NEGATIVE_INFINITY,
    pgState: 'starting',
    pgRole: 'uninitialized',
    lastDecision: { reason: 'agent starting', actions: [] },
    tickMonoMs: inputs.nowMonoMs,
    counters: emptyCounters(),
  });
}

/** This node holds the leader key under a lease still valid by its own deadline, now. */
export function isValidLeaderNow(snap: StatusSnapshot, nowMonoMs: number): boolean {
  return snap.holdsLeader && nowMonoMs < snap.leaseValidUntilMs;
}

/** Seconds of provable lease left (0 when not the leader or expired). */
export function leaseSecondsLeft(snap: StatusSnapshot, nowMonoMs: number): number {
  if (!snap.holdsLeader || !Number.isFinite(snap.leaseValidUntilMs)) return 0;
  return Math.max(0, (snap.leaseValidUntilMs - nowMonoMs) / 1000);
}
