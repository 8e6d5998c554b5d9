// The status snapshot: what the agent loop publishes after every tick, and the only thing the REST
// API's health path and /metrics read. It is a frozen object swapped atomically by the loop, so a
// request never waits on etcd or PostgreSQL and never sees half of a tick.
//
// Time-dependent answers ("am I a valid leader now?") are functions of (snapshot, nowMonoMs): a
// lease that expired after the last tick must answer 503 at once, not one loop_wait later.
import type { DynamicConfig, Tags, TagValue } from '../config/types.js';
import type { ClusterView, MemberRole } from '../core/cluster.js';
import type { JobBackoff } from '../core/decide-types.js';
import type { LocalPg, PgRunning } from '../core/local-pg.js';
import { publishedTags } from '../core/tags.js';
import type { EtcdMemberHealth } from '../dcs/etcd-members.js';
import type { AgentCounters } from './metrics.js';
import { emptyCounters } from './metrics.js';

export interface XlogPrimary {
  readonly location: number;
}

export interface XlogReplica {
  readonly received_location: number;
  readonly replayed_location: number;
  readonly replayed_timestamp: string | null;
  readonly paused: boolean;
}

/** One row of pg_stat_replication, with Patroni's field names. */
export interface ReplicationEntry {
  readonly application_name: string;
  readonly client_addr: string | null;
  readonly state: string;
  readonly sync_state: string;
}

/**
 * The node's status with Patroni's field names (the body of GET /patroni and of health GETs,
 * minus the parts computed at request time). Optional flags are absent rather than false, as
 * in Patroni.
 */
export interface NodeStatus {
  readonly state: string;
  readonly role: MemberRole;
  readonly postmaster_start_time?: string;
  readonly server_version?: number;
  readonly xlog?: XlogPrimary | XlogReplica;
  readonly timeline?: number;
  readonly replication_state?: string;
  readonly replication?: readonly ReplicationEntry[];
  readonly sync_standby?: true;
  /** Quorum mode: a voter of the leader's sync key (Patroni's quorum_standby). */
  readonly quorum_standby?: true;
  readonly pause?: true;
  readonly cluster_unlocked?: true;
  /** Epoch seconds of the last successful etcd read; 0 if never. */
  readonly dcs_last_seen: number;
  readonly tags?: Readonly<Record<string, TagValue>>;
  readonly database_system_identifier?: string;
  readonly pending_restart?: true;
  /** Keys of etcd's `config` the agent refuses and runs without (issue 22); absent when none. */
  readonly config_refused?: readonly { readonly key: string; readonly reason: string }[];
  readonly patroni: { readonly version: string; readonly scope: string; readonly name: string };
}

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
  });
}

export interface StartingInputs {
  readonly name: string;
  readonly scope: string;
  readonly agentVersion: string;
  readonly dynamic: DynamicConfig;
  readonly tags: Tags;
  readonly nowMonoMs: number;
}

/** What the API serves before the first tick completes: not a leader, PostgreSQL state unknown. */
export function startingSnapshot(inputs: StartingInputs): StatusSnapshot {
  return buildStatusSnapshot({
    ...inputs,
    local: { kind: 'down', dataDir: 'initialized', control: null, standbySignal: false },
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

function buildNodeStatus(inputs: StatusInputs): NodeStatus {
  const { local, cluster, dynamic } = inputs;
  const running = local.kind === 'running' ? local : null;
  const role = running ? runningRole(running, inputs.pgRole) : inputs.pgRole ?? roleFromDisk(local);
  const sysid = running ? running.systemIdentifier : local.control?.systemIdentifier;
  const unlocked = !inputs.dcsOk || cluster === null || cluster.leader === null;
  const tags = publishedTags(inputs.tags);
  const node: NodeStatus = {
    state: inputs.pgState ?? stateWord(local),
    role,
    ...(running ? runningFields(running) : {}),
    ...(running && role === 'replica' && isSyncStandby(inputs) ? { sync_standby: true as const } : {}),
    ...(running && role === 'replica' && isQuorumStandby(inputs) ? { quorum_standby: true as const } : {}),
    ...(dynamic.pause === true ? { pause: true as const } : {}),
    ...(unlocked ? { cluster_unlocked: true as const } : {}),
    dcs_last_seen: inputs.dcsLastSeenWallMs === null ? 0 : Math.floor(inputs.dcsLastSeenWallMs / 1000),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    ...(sysid ? { database_system_identifier: sysid } : {}),
    ...(running?.pendingRestart ? { pending_restart: true as const } : {}),
    ...configRefused(cluster),
    patroni: { version: inputs.agentVersion, scope: inputs.scope, name: inputs.name },
  };
  return Object.freeze(node);
}

function configRefused(cluster: ClusterView | null): Pick<NodeStatus, 'config_refused'> {
  const refused = (cluster?.invalid ?? []).flatMap((bad) => (bad.refusedKey === undefined ? [] : [{ key: bad.refusedKey, reason: bad.reason }]));
  return refused.length === 0 ? {} : { config_refused: refused };
}

function runningRole(pg: PgRunning, hint: MemberRole | undefined): MemberRole {
  if (!pg.inRecovery) return 'primary';
  // A standby leader runs in recovery too; only the loop knows it is one.
  return hint === 'standby_leader' ? 'standby_leader' : 'replica';
}

function roleFromDisk(local: LocalPg): MemberRole {
  if (local.dataDir === 'empty') return 'uninitialized';
  const state = local.control?.state;
  if (state === 'in archive recovery' || state === 'shut down in recovery') return 'replica';
  if (state === 'in production' || state === 'shut down' || state === 'in crash recovery') {
    return local.standbySignal ? 'replica' : 'primary';
  }
  return local.standbySignal ? 'replica' : 'uninitialized';
}

function stateWord(local: LocalPg): string {
  switch (local.kind) {
    case 'running':
      return 'running';
    case 'unresponsive':
      return 'unknown';
    case 'down':
      return 'stopped';
    default: {
      const never: never = local;
      return never;
    }
  }
}

type RunningFields = Pick<NodeStatus,
  'postmaster_start_time' | 'server_version' | 'xlog' | 'timeline' | 'replication_state' | 'replication'>;

function runningFields(pg: PgRunning): RunningFields {
  const xlog: XlogPrimary | XlogReplica = pg.inRecovery
    ? {
        received_location: pg.receiveLsn ?? pg.replayLsn ?? 0,
        replayed_location: pg.replayLsn ?? 0,
        replayed_timestamp: pg.replayTimestamp,
        paused: pg.replayPaused,
      }
    : { location: pg.flushLsn ?? pg.currentLsn ?? 0 };
  const replication: ReplicationEntry[] = pg.replication.map((r) => ({
    application_name: r.applicationName,
    client_addr: r.clientAddr,
    state: r.state,
    sync_state: r.syncState,
  }));
  const streaming = pg.inRecovery && pg.walReceiver?.status === 'streaming';
  return {
    postmaster_start_time: pg.postmasterStartTime,
    server_version: pg.serverVersion,
    xlog,
    timeline: pg.timeline,
    ...(streaming ? { replication_state: 'streaming' } : {}),
    ...(replication.length > 0 ? { replication } : {}),
  };
}

function isSyncStandby(inputs: StatusInputs): boolean {
  const sync = inputs.cluster?.sync?.value;
  return inputs.dynamic.synchronous_mode === true && sync !== undefined && sync.syncStandby.includes(inputs.name);
}


/** Patroni's quorum_standby: quorum mode, and a voter of the sync key the current leader wrote. */
function isQuorumStandby(inputs: StatusInputs): boolean {
  const sync = inputs.cluster?.sync?.value;
  const leader = inputs.cluster?.leader?.name;
  return inputs.dynamic.synchronous_mode === 'quorum' && sync !== undefined && leader !== undefined && sync.leader === leader && sync.syncStandby.includes(inputs.name);
}
