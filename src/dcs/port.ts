// The Dcs port: everything the agent asks of etcd. Expected outcomes (a lost compare, an absent
// key) are values; only real failures (etcd unreachable, deadline exceeded) throw DcsError.
import type { DynamicConfig } from '../config/types.js';
import type {
  ClusterView,
  FailoverRequest,
  HistoryEntry,
  LeaderStatus,
  MemberStatus,
  SyncState,
} from '../core/cluster.js';
import { AgentError } from '../errors.js';

export interface LeaseState {
  /** Lease id (decimal string) or null before the first grant / after it was lost. */
  readonly leaseId: string | null;
  /** TTL etcd granted, seconds. */
  readonly grantedTtlSec: number;
  /**
   * Monotonic ms (Clock.monoMs) until which this agent can prove its lease is alive:
   * send time of the last keepalive etcd acknowledged + granted TTL - margin. -Infinity when
   * there is no lease. Never moved by a failed or timed-out keepalive.
   */
  readonly validUntilMs: number;
}

export interface SnapshotOptions {
  /** Reads are linearizable (quorum) unless `stale` asks for a serializable read of the local member. */
  readonly stale?: boolean;
  readonly signal?: AbortSignal;
}

/** A wake-up hint from `changes()`: something under the cluster prefix changed. */
export interface DcsChangeHint {
  readonly revision: number;
  /** Keys that changed, relative to the cluster prefix (e.g. 'leader', 'members/pg1'). */
  readonly keys?: readonly string[];
  /** Events may have been missed (reconnect, compaction): re-read the whole snapshot. */
  readonly resync?: boolean;
}

export interface Dcs {
  /** One read of the whole cluster prefix at one revision. */
  snapshot(opts?: SnapshotOptions): Promise<ClusterView>;

  /** Keep the agent's lease alive (grant one if there is none) and put members/<name> under it. */
  touchMember(status: MemberStatus, signal?: AbortSignal): Promise<void>;
  deleteMember(signal?: AbortSignal): Promise<void>;

  /** compare create_revision(leader) == 0 -> put name with our lease. */
  /**
   * statusRev: only while the `status` key is still at that mod_revision (0: absent);
   * viewRevision: only while no member key was created after that revision.
   */
  acquireLeader(signal?: AbortSignal, opts?: { readonly statusRev?: number; readonly viewRevision?: number; readonly historyRev?: number }): Promise<boolean>;
  /** keepalive + verify the key names us under our lease (re-attach on a re-granted lease). */
  renewLeader(signal?: AbortSignal): Promise<boolean>;
  /**
   * compare value == our name -> delete. With `lastLsn` (a clean stop's shutdown checkpoint), the
   * status key is put to that optime in the same transaction, as Patroni's delete_leader(last_lsn),
   * with `"stopped": <our name>`: a sign, newer than any pause, that the leader stopped its
   * PostgreSQL and let go, which a lease revoked early cannot leave.
   */
  releaseLeader(signal?: AbortSignal, opts?: { readonly lastLsn?: number }): Promise<boolean>;

  /** Local knowledge of the lease; never touches the network. */
  lease(): LeaseState;
  /** Called whenever validUntilMs changes (the fence timer listens here). */
  onLeaseDeadline(listener: (state: LeaseState) => void): () => void;
  /**
   * The lease under which the leader key was last proven ours (acquired, renewed or re-attached),
   * while that lease is still the one this agent keeps alive; null otherwise. Its deadline is the
   * one that counts for fencing (S1): a fresh lease the key is not attached to proves nothing.
   */
  leadership(): LeaseState | null;
  /**
   * Called at once when the leadership proven above ends without this agent releasing it: etcd
   * said the lease is gone (revoked, expired early), or `checkLeadership()` found the key deleted
   * or replaced.
   */
  onLeadershipLost(listener: (cause: string) => void): () => void;
  /** Read the leader key now; when leadership was held and the key is no longer ours under that lease, end it (listeners run). */
  checkLeadership(signal?: AbortSignal): Promise<boolean>;

  /** create-if-absent; returns true when this call created it. */
  initialize(systemId: string, signal?: AbortSignal): Promise<boolean>;
  deleteInitialize(signal?: AbortSignal): Promise<void>;

  /** expectedModRevision: 0 means "must not exist". Returns false when the compare failed. */
  setConfig(config: DynamicConfig, expectedModRevision: number | null, signal?: AbortSignal): Promise<boolean>;
  setFailover(req: FailoverRequest, expectedModRevision: number | null, signal?: AbortSignal): Promise<boolean>;
  deleteFailover(expectedModRevision: number | null, signal?: AbortSignal): Promise<boolean>;
  setSync(sync: SyncState, expectedModRevision: number | null, signal?: AbortSignal): Promise<boolean>;
  deleteSync(expectedModRevision: number | null, signal?: AbortSignal): Promise<boolean>;
  appendHistory(entry: HistoryEntry, signal?: AbortSignal): Promise<void>;
  setStatus(status: LeaderStatus, signal?: AbortSignal): Promise<void>;
  /**
   * The way out in pause: the status as it is, put again marked `"pause": true` with our name, if
   * the leader key still names us. Returns whether it was put.
   */
  markStatusPaused(signal?: AbortSignal): Promise<boolean>;

  /** Delete every key of the cluster (agentctl remove). */
  removeCluster(signal?: AbortSignal): Promise<void>;

  /**
   * Wake-up hints: yields after any change under the cluster prefix (coalesced). Survives
   * reconnects and compaction; ends when the signal aborts or the Dcs is closed. The first hint
   * of every (re)attached watch has `resync: true`.
   */
  changes(signal: AbortSignal): AsyncIterable<DcsChangeHint>;

  /** New lease TTL (the `ttl` dynamic key); takes effect at the next lease grant. */
  setTtl(ttlSec: number): void;

  close(): Promise<void>;
}

export type DcsErrorCode = 'unavailable' | 'deadline' | 'auth' | 'invalid' | 'closed';

export class DcsError extends AgentError<DcsErrorCode> {
  constructor(code: DcsErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(code, message, { cause: options?.cause, retryable: options?.retryable ?? (code === 'unavailable' || code === 'deadline') });
  }
}
