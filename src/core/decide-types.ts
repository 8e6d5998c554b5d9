// The decision core's vocabulary: what it sees (DecideInput) and what it asks for (Action).
import type { DynamicConfig, Tags } from '../config/types.js';
import type { ClusterView, FailoverRequest, Lsn } from './cluster.js';
import type { LocalPg } from './local-pg.js';
import type { Memory } from './memory.js';
import type { OperatorRequest, RequestAnswer } from './requests.js';
import type { TimelineFile } from './timeline-catchup.js';

// decide()'s memory and what it holds live in memory.ts; re-exported so the vocabulary is one import.
export { EMPTY_MEMORY, type JobBackoff, type LeaderSeen, type Memory, type SwitchoverAbort } from './memory.js';

/** Where to reach a member, parsed from its member key. */
export interface MemberRef {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly apiUrl: string;
}

export interface SelfInfo {
  readonly name: string;
  /** Our own conn_url, to tell a previous incarnation of this node from a duplicate name. */
  readonly connUrl: string;
  readonly tags: Tags;
  /** The agent version string written into member keys ("pg-ha-agent/x.y.z"). */
  readonly agent: string;
  /**
   * postgresql.remove_data_directory_on_rewind_failure: after a rewind that failed for good,
   * re-clone (the old data directory kept aside, S5) instead of staying stopped. Absent: stay stopped.
   */
  readonly recloneOnRewindFailure?: boolean;
}

/** A peer's answer to GET /patroni, fetched by the loop when a leader race or a switchover needs it. */
export type PeerProbe =
  | {
      readonly name: string;
      readonly reachable: true;
      readonly role: 'primary' | 'replica' | 'other';
      readonly running: boolean;
      /**
       * Not known to run, but not down either: its agent says its postmaster runs but does not
       * answer (pg_ha_agent.pg_unresponsive). A primary so may still commit.
       */
      readonly mayRun?: true;
      readonly walPosition: Lsn | null;
      readonly timeline: number | null;
      readonly nofailover: boolean;
      readonly failoverPriority: number;
      readonly streaming: boolean;
      /** Its agent runs a job that starts PostgreSQL as this (our agents only). */
      readonly startingAs?: 'primary' | 'replica';
      /** Its PostgreSQL is stopped: the WAL its data directory holds (pg_control), from its agent. */
      readonly stoppedWal?: { readonly lsn: number; readonly timeline: number | null };
    }
  | { readonly name: string; readonly reachable: false; readonly error: string };

export type JobSpec =
  | { readonly kind: 'bootstrap' }
  | { readonly kind: 'clone'; readonly source: MemberRef }
  | { readonly kind: 'startPrimary' }
  | { readonly kind: 'startReplica'; readonly leader: MemberRef | null }
  /** Stop if needed, compare with the leader's timeline history, pg_rewind when diverged, start as replica. */
  | { readonly kind: 'rejoin'; readonly leader: MemberRef }
  /**
   * `announce`: the failover key to write just before the key is released, naming the candidate
   * this leader picked for a request that named none, so that the others (and this node) defer to it.
   */
  | { readonly kind: 'switchover'; readonly candidate: MemberRef; readonly failoverModRevision: number; readonly announce?: FailoverRequest }
  /** History entry first (S4), then pg_promote: in the background, so ticks keep renewing the lease. */
  | { readonly kind: 'promote'; readonly oldTimeline: number; readonly switchLsn: Lsn; readonly reason: string; readonly timelineFiles?: readonly TimelineFile[] }
  /** Operator requests (REST / agentctl): queued by the API, started by decide() (requests.ts). */
  | { readonly kind: 'restart'; readonly role: 'primary' | 'replica'; readonly leader: MemberRef | null }
  | { readonly kind: 'reinit'; readonly source: MemberRef };

export type JobKind = JobSpec['kind'];

export interface RunningJob {
  readonly spec: JobSpec;
  readonly startedMs: number;
}

export interface FinishedJob {
  readonly spec: JobSpec;
  readonly ok: boolean;
  readonly error?: string;
  /** The failure was transient (leader unreachable, ...), not a verdict on the data: try again. */
  readonly retryable?: boolean;
  /** Where a multi-step job failed ('history' for a promotion that could not be recorded). */
  readonly stage?: string;
  /** A rejoin found the data diverged and could not rewind it (the rewind-failure policy applies). */
  readonly rewindFailed?: boolean;
  /**
   * Switchover only: the key was released cleanly but nobody took it within the bound (pause),
   * and the candidate's PostgreSQL still answered as a replica.
   */
  readonly unclaimed?: boolean;
  readonly finishedMs: number;
}

export type Action =
  /**
   * Ask the other members (GET /patroni) and decide again with their answers: this decision will
   * read them (the race, a key holder's re-check before a late promotion, a switchover). Only
   * returned while `peersProbed` is false, and only alone; the tick carries it out, not the executor.
   */
  | { readonly kind: 'probePeers'; readonly why: string }
  /**
   * Nothing to do now but a fresh tick at once: this tick's probes are too old to race on (the
   * former leader may have streamed WAL after them).
   */
  | { readonly kind: 'probeAgain' }
  /** Guard: on a lost compare the rest of the list is skipped and a new tick runs at once. */
  | {
    readonly kind: 'acquireLeader';
    /**
     * Take the key only if the `status` key (written by a leader every tick) is still at this
     * mod_revision (0: absent): no leader was active since the view the decision rests on. A tick
     * frozen between its read and its write must not act on a view a newer leader has overtaken.
     */
    readonly statusRev?: number;
    /**
     * And only while no member key was created after this revision (the view's): a member that
     * (re)registered since the read was not probed, and may hold more WAL (S2 d).
     */
    readonly viewRevision?: number;
    /**
     * And only while the `history` key is at this mod_revision (0: absent). Every promotion
     * appends its entry before pg_promote, but a new leader still promoting puts no `status`:
     * without this, a view older than a promotion whose key was deleted since could take the key
     * and promote beside it (the simulator, seed 220 of fault set 2).
     */
    readonly historyRev?: number;
  }
  /** Guard, as above. */
  | { readonly kind: 'renewLeader' }
  | { readonly kind: 'releaseLeader' }
  /** Guard: create-if-absent `initialize` ('' claims the bootstrap race; a sysid adopts existing data). */
  | { readonly kind: 'claimInitialize'; readonly systemId: string }
  | { readonly kind: 'setInitialize'; readonly systemId: string }
  | { readonly kind: 'deleteInitialize' }
  | { readonly kind: 'seedConfig' }
  | { readonly kind: 'promote'; readonly oldTimeline: number; readonly switchLsn: Lsn; readonly reason: string; readonly timelineFiles?: readonly TimelineFile[] }
  | { readonly kind: 'createSlots'; readonly members: readonly string[] }
  | { readonly kind: 'follow'; readonly leader: MemberRef }
  | { readonly kind: 'fence'; readonly reason: string }
  | { readonly kind: 'clearFence' }
  | { readonly kind: 'stop'; readonly mode: 'fast' | 'immediate' }
  | { readonly kind: 'startJob'; readonly job: JobSpec }
  /** Abort the running job (a forced reinitialize replaces it). */
  | { readonly kind: 'abortJob' }
  | { readonly kind: 'deleteFailover'; readonly modRevision: number }
  | { readonly kind: 'publishLeaderStatus' }
  /** Guard: compare mod_revision (0: must not exist), put the sync key. */
  | { readonly kind: 'writeSync'; readonly leader: string; readonly standbys: readonly string[]; readonly modRevision: number; readonly quorum?: number }
  /** Guard: compare mod_revision, delete the sync key. */
  | { readonly kind: 'deleteSync'; readonly modRevision: number }
  /** ALTER SYSTEM synchronous_standby_names + reload; null resets it to the configured value. */
  | { readonly kind: 'setSyncStandbyNames'; readonly value: string | null }
  /** Re-render the managed configuration from the dynamic config of `revision` and reload PostgreSQL. */
  | { readonly kind: 'applyDynamicConfig'; readonly revision: number }
  | { readonly kind: 'halt'; readonly exitCode: number };

export type ActionKind = Action['kind'];

export interface LeaseInfo {
  readonly leaseId: string | null;
  /** Monotonic ms until which this agent can prove its lease (see Dcs.lease()). */
  readonly validUntilMs: number;
}

export interface DecideInput {
  readonly self: SelfInfo;
  /** The effective dynamic config (the `config` key, or bootstrap.dcs before it exists). */
  readonly config: DynamicConfig;
  /** null when etcd could not be read this tick. */
  readonly cluster: ClusterView | null;
  readonly dcsError: string | null;
  readonly lease: LeaseInfo;
  /**
   * This agent run has published its member key: a live member, which never halts because a
   * newcomer uses its name or a stranger appears (SPEC 5.12). Absent: a newcomer.
   */
  readonly joined?: boolean;
  readonly local: LocalPg;
  /** The supervisor refuses to start PostgreSQL until the fence is cleared. */
  readonly fenced: boolean;
  readonly peers: ReadonlyMap<string, PeerProbe>;
  /**
   * false: the tick has not asked the peers yet, and decide() asks for them (a `probePeers`
   * decision) when it will read them. Absent or true: `peers` is all there is.
   */
  readonly peersProbed?: boolean;
  /** When this tick's probes were sent (monotonic ms); absent when it probed nobody. */
  readonly peersProbedAtMs?: number;
  readonly job: RunningJob | null;
  readonly memory: Memory;
  readonly nowMs: number;
  readonly wallNowMs: number;
  /** Kinds of the previous tick's actions that failed or were skipped (a guard lost before them). */
  readonly undone?: readonly Action['kind'][];
  /** Operator requests queued by the API since the last tick (restart, reinitialize). */
  readonly requests?: readonly OperatorRequest[];
}

export interface Decision {
  readonly actions: readonly Action[];
  readonly reason: string;
  readonly memory: Memory;
  /** One answer per request of the input: the job it started, or why not (the API returns it). */
  readonly answers?: readonly RequestAnswer[];
  /**
   * Monotonic ms (the input's clock): what this decision waits for ends then (a former leader's
   * lease deadline), so the loop looks again at that moment rather than up to `loop_wait` later.
   */
  readonly lookAgainAtMs?: number;
}
