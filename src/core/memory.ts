// decide()'s memory: what Patroni keeps in object fields, handed from tick to tick in the
// Decision and back in the next DecideInput. Re-exported by decide-types.ts.
import type { Lsn } from './cluster.js';
import type { FinishedJob, JobKind } from './decide-types.js';

/** A switchover this leader aborted (it kept the key): why, for the log, /patroni and the API. */
export interface SwitchoverAbort {
  readonly candidate: string;
  readonly reason: string;
  /** Wall-clock ms of the abort (the API matches it with the request it is answering). */
  readonly wallAtMs: number;
  /** PostgreSQL still has to come back as primary (also in pause): cleared once it runs. */
  readonly restart: boolean;
}

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
  /**
   * The leader key's mod_revision when we last saw that leader hold it: a `stopped` mark in the
   * status key counts only when put after it (in the release of that term, not an older one).
   */
  readonly keyRev?: number;
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
  /**
   * Its member key, when we last saw one, had no `agent` field: a stranger (a Patroni member), not
   * one of our agents, whose fencing we know nothing of (sticky for that name).
   */
  readonly foreign?: true;
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
