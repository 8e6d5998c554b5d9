// The node's status in Patroni's words (the body of GET /patroni and of the health GETs), built
// from what the loop observed in a tick: the `node` of the status snapshot (status.ts).
import type { TagValue } from '../config/types.js';
import type { ClusterView, MemberRole } from '../core/cluster.js';
import type { LocalPg, PgRunning } from '../core/local-pg.js';
import { publishedTags } from '../core/tags.js';
import type { StatusInputs } from './status.js';

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

/** The node status of a tick (see buildStatusSnapshot). Pure. */
export function buildNodeStatus(inputs: StatusInputs): NodeStatus {
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
