// The decision core's vocabulary: what it sees (DecideInput) and what it asks for (Action).
import type { DynamicConfig, Tags } from '../config/types.js';
import type { ClusterView, Lsn } from './cluster.js';
import type { LocalPg } from './local-pg.js';
import type { OperatorRequest, RequestAnswer } from './requests.js';
import type { TimelineFile } from './timeline-catchup.js';

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
      readonly walPosition: Lsn | null;
      readonly timeline: number | null;
      readonly nofailover: boolean;
      readonly failoverPriority: number;
      readonly streaming: boolean;
      /** Its agent runs a job that starts PostgreSQL as this (our agents only). */
      readonly startingAs?: 'primary' | 'replica';
    }
  | { readonly name: string; readonly reachable: false; readonly error: string };

export type JobSpec =
  | { readonly kind: 'bootstrap' }
  | { readonly kind: 'clone'; readonly source: MemberRef }
  | { readonly kind: 'startPrimary' }
  | { readonly kind: 'startReplica'; readonly leader: MemberRef | null }
  /** Stop if needed, compare with the leader's timeline history, pg_rewind when diverged, start as replica. */
  | { readonly kind: 'rejoin'; readonly leader: MemberRef }
  | { readonly kind: 'switchover'; readonly candidate: MemberRef; readonly failoverModRevision: number }
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

/** A switchover this leader aborted (it kept the key): why, for the log, /patroni and the API. */
export interface SwitchoverAbort {
  readonly candidate: string;
  readonly reason: string;
  /** Wall-clock ms of the abort (the API matches it with the request it is answering). */
  readonly wallAtMs: number;
  /** PostgreSQL still has to come back as primary (also in pause): cleared once it runs. */
  readonly restart: boolean;
}

export type Action =
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

/** The same job failed again and again: it is not started again before notBeforeMs. */
export interface JobBackoff {
  readonly job: JobKind;
  /** The member the job aimed at (leader, clone source, candidate); another target starts afresh. */
  readonly target: string | null;
  /** The leader key holder when it last failed: a change of leader ends the backoff. */
  readonly leader: string | null;
  /** Failures in a row. */
  readonly failures: number;
  readonly delayMs: number;
  /** Monotonic ms. */
  readonly notBeforeMs: number;
  readonly error: string;
}

/** What Patroni keeps in object fields, passed explicitly from tick to tick. */
export interface Memory {
  /** Monotonic ms when the leader first saw its PostgreSQL down (crash restart window, SPEC 5.5). */
  readonly primaryDownSinceMs: number | null;
  /** Monotonic ms when this replica was told to follow the current leader. */
  readonly followSinceMs: number | null;
  readonly followLeader: string | null;
  /** The last rejoin / rewind failed: stay down and report (policy: no re-clone). */
  readonly rejoinFailed: { readonly leader: string; readonly error: string; readonly rewindFailed?: boolean } | null;
  readonly lastJob: FinishedJob | null;
  /** Our bootstrap failed: hand the race back and stop. */
  readonly bootstrapFailed: string | null;
  /** The last leader this node saw (for logs and "former leader" reasoning). */
  readonly lastLeader: string | null;
  /** A job that keeps failing backs off (exponential, capped); null after a success or a new leader. */
  readonly jobBackoff: JobBackoff | null;
  readonly switchoverAbort: SwitchoverAbort | null;
  /**
   * This node handed the leader key over in a switchover and its PostgreSQL has not run since:
   * in pause it rejoins `to` all the same, or takes the key back when nobody took it (unclaimed).
   */
  readonly handedOver: { readonly to: string; readonly unclaimed: boolean } | null;
  /** When this node last saw another leader alive (S2: no promotion while it may be writable). */
  readonly leaderSeen: LeaderSeen | null;
  /**
   * The leader's synchronous_standby_names when first seen, with its flush position then: a
   * newly named standby counts as synchronous only once it has flushed that far (Patroni's
   * _primary_flush_lsn), so every commit acknowledged before the change is on it too.
   */
  readonly syncBase: { readonly value: string; readonly lsn: Lsn; readonly ready?: readonly string[] } | null;
  /**
   * Monotonic ms when this node gave the key up for a successor because its PostgreSQL was down
   * (primary_start_timeout 0): its own PostgreSQL, a former primary, waits a loop for the successor
   * to lead and then rejoins it through the fork check, instead of starting read-only on its old
   * timeline at once.
   */
  readonly releasedForSuccessorMs: number | null;
  /**
   * The `config` key revision PostgreSQL's managed files were rendered from (null: not known yet;
   * the first one seen was rendered at start or follow).
   */
  readonly appliedConfigRevision: number | null;
  /**
   * Members whose agent answered "starting postgresql" with no WAL position yet, and since when
   * (monotonic ms): the race waits a bounded time for their position (starting-peers.ts).
   */
  readonly startingPeers?: Readonly<Record<string, number>>;
}

/** What a replica saw of the current (then former) leader, on the monotonic clock. */
export interface LeaderSeen {
  readonly name: string;
  /** Last time a sign of life appeared: a newer status key or member key of that leader. */
  readonly activityMs: number;
  /** The newest mod_revisions seen of those keys (0: never seen). */
  readonly statusRev: number;
  readonly memberRev: number;
  /** Last time the leader key was present. */
  readonly keySeenMs: number;
  /** This node's WAL receiver streamed while that leader held the key (sticky for that leader). */
  readonly streaming: boolean;
  /** The largest `lease_ttl` that leader's member key showed (0 or absent: unknown, config ttl). */
  readonly leaseTtlSec?: number;
  /**
   * The cluster was paused at that leader's last sign of life. A paused leader does not fence
   * itself (SPEC 5.8), so no lease deadline bounds how long it may stay writable once cut off.
   */
  readonly paused?: boolean;
  /**
   * The newest timeline of the history key when that leader was last tracked: an entry past it
   * names a leader promoted since, which we never saw holding the key (we were frozen or cut off).
   */
  readonly historyTl?: number;
}

export const EMPTY_MEMORY: Memory = {
  primaryDownSinceMs: null,
  followSinceMs: null,
  followLeader: null,
  rejoinFailed: null,
  lastJob: null,
  bootstrapFailed: null,
  lastLeader: null,
  jobBackoff: null,
  switchoverAbort: null,
  handedOver: null,
  leaderSeen: null,
  syncBase: null,
  releasedForSuccessorMs: null,
  appliedConfigRevision: null,
};

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
}
