// The cluster as read from etcd at one revision. Domain spelling (camelCase); the dcs codecs
// translate to and from Patroni's JSON.
import type { DynamicConfig, Tags } from '../config/types.js';

/** A WAL position as a plain number of bytes (Patroni stores it as an integer). */
export type Lsn = number;

export type MemberRole =
  | 'primary'
  | 'replica'
  | 'standby_leader'
  | 'uninitialized'
  | 'demoted';

export interface MemberStatus {
  readonly name: string;
  /** postgres://host:port/postgres */
  readonly connUrl: string;
  /** http://host:port/patroni */
  readonly apiUrl: string;
  /** Patroni's PostgreSQL state words: running, stopped, starting, crashed, creating replica, ... */
  readonly state: string;
  readonly role: MemberRole;
  readonly version?: string;
  readonly xlogLocation?: Lsn;
  readonly receiveLsn?: Lsn;
  readonly replayLsn?: Lsn;
  readonly timeline?: number;
  readonly replicationState?: string;
  readonly tags: Tags;
  readonly pendingRestart?: boolean;
  /** Written (true) while the cluster is paused, as Patroni does; `patronictl pause --wait` reads it. */
  readonly pause?: boolean;
  /** Set by pg-ha-agent ("pg-ha-agent/<version>"); Patroni members lack it (SPEC 2). */
  readonly agent?: string;
  /** pg-ha-agent extension: the reason for the member's last decision. */
  readonly reason?: string;
  /**
   * pg-ha-agent extension (`lease_ttl`): the TTL etcd granted the lease this member's keys hang
   * on. It can differ from the config's ttl after a change at run time (the lease keeps its TTL
   * until it is granted again), and a former leader's deadline follows the lease, not the config.
   */
  readonly leaseTtl?: number;
  /** pg-ha-agent extension (`pending_job_backoff`): a repair job that keeps failing and waits. */
  readonly jobBackoff?: MemberJobBackoff;
  /** pg-ha-agent extension: the last switchover this member aborted as leader, and why. */
  readonly switchoverAborted?: SwitchoverAborted;
}

export interface MemberJobBackoff {
  readonly job: string;
  readonly target: string | null;
  readonly failures: number;
  /** As of the member key's last update (every tick). */
  readonly retryInSeconds: number;
  readonly error: string;
}

export interface SwitchoverAborted {
  readonly to: string;
  readonly reason: string;
  /** ISO 8601 */
  readonly at: string;
}

export interface MemberView extends MemberStatus {
  readonly modRevision: number;
  /** Lease id (decimal string) the member key is attached to; '0' when none. */
  readonly leaseId: string;
}

export interface LeaderView {
  readonly name: string;
  /** The term / fencing token. */
  readonly createRevision: number;
  readonly modRevision: number;
  readonly leaseId: string;
}

export interface FailoverRequest {
  /** The current leader that must hand over (switchover); absent for a failover. */
  readonly leader?: string;
  /** The candidate; absent means "the best one". */
  readonly member?: string;
  /** ISO 8601; absent means now. */
  readonly scheduledAt?: string;
}

export interface SyncState {
  readonly leader: string | null;
  readonly syncStandby: readonly string[];
  readonly quorum?: number;
}

/** [timeline, switch_lsn, reason, timestamp, new_leader] in Patroni's JSON. */
export interface HistoryEntry {
  readonly timeline: number;
  readonly switchLsn: Lsn;
  readonly reason: string;
  readonly timestamp?: string;
  readonly newLeader?: string;
}

export interface LeaderStatus {
  readonly optime: Lsn | null;
  /**
   * The leader put this status while the cluster was paused (pg-ha-agent's extension, `"pause":
   * true`). The status key has no lease: it outlives a leader killed or cut off in pause, and tells
   * an agent that never saw that leader (restarted since) that nothing fences it.
   */
  readonly pause?: boolean;
  /**
   * pg-ha-agent's extension `"stopped": "<name>"`: put in the transaction in which that leader
   * released its key after a clean stop (its shutdown checkpoint is `optime`). Evidence for the
   * replicas that its PostgreSQL is stopped: a lease revoked early removes the key without it, and
   * the status key has no lease.
   */
  readonly stopped?: string;
  /**
   * pg-ha-agent's extension `"leader": "<name>"`: the key holder that put this status (every
   * status put and heartbeat of a leader carries it; the clean release's put does not). The status
   * key has no lease, so a revoke cannot erase it: an agent that never saw that leader (restarted
   * since) learns from it which member may still be writable after the leader key is gone.
   */
  readonly leader?: string;
  readonly slots?: Readonly<Record<string, Lsn>>;
  readonly retainSlots?: readonly string[];
}

export interface Versioned<T> {
  readonly value: T;
  readonly modRevision: number;
}

export interface InvalidKey {
  readonly key: string;
  readonly reason: string;
  /** mod_revision of the bad value, so a compare-and-set can overwrite it. */
  readonly modRevision?: number;
  /** Set when the value was used without this refused key (config; issue 22), not treated as absent. */
  readonly refusedKey?: string;
  /** Set when the value was used with these unknown keys kept and ignored (config; issue 13), not treated as absent. */
  readonly unknownKeys?: readonly string[];
}

export interface ClusterView {
  /** The etcd revision this view was read at. */
  readonly revision: number;
  /** The database system identifier, as a decimal string. */
  readonly initialize: string | null;
  readonly config: Versioned<DynamicConfig> | null;
  /**
   * The `config` key's text as stored, also when it could not be decoded (then `config` is null,
   * or the agent's last valid one): PATCH /config repairs what is stored (issue 13).
   */
  readonly configStored?: Versioned<string>;
  readonly leader: LeaderView | null;
  readonly members: readonly MemberView[];
  readonly failover: Versioned<FailoverRequest> | null;
  readonly sync: Versioned<SyncState> | null;
  readonly history: Versioned<readonly HistoryEntry[]> | null;
  readonly status: LeaderStatus | null;
  /** mod_revision of the status key: the leader puts it every tick, so a change shows it was alive. */
  readonly statusModRevision?: number;
  /**
   * Keys whose value could not be parsed; they are treated as absent and logged. Entries with
   * `refusedKey` are the exception: the key's value is used without that refused key.
   */
  readonly invalid: readonly InvalidKey[];
}
