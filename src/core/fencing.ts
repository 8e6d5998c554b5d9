// When the fence enforcers (the agent's fence timer and the separate guard process) are armed, at
// which deadline, and what to do the moment leadership ends early. Pure: the loop feeds it what the
// postmaster and the lease keeper say right now, not what the last tick observed.

/** After SIGQUIT, how long a fence waits before SIGKILL of the postmaster and every backend. */
export const FENCE_KILL_AFTER_MS = 300;

export interface ArmingInput {
  /** The operator holds the fence (SPEC 5.8): as etcd says, or, until etcd is read, as the previous run last saw it. */
  readonly paused: boolean;
  /**
   * What this run has read of the cluster: 'read' (a view from etcd), 'pending' (its first read has
   * not ended yet), 'unreadable' (a read failed and none succeeded). Absent: 'read'.
   */
  readonly etcd?: 'read' | 'pending' | 'unreadable';
  /** A live postmaster whose data dir has no standby.signal: it may accept writes. */
  readonly postmasterMayBeWritable: boolean;
  /** A live postmaster at all (a replica being promoted counts while we lead). */
  readonly postmasterAlive: boolean;
  /** Deadline of the lease the leader key is proven attached to; null when not proven. */
  readonly leadershipDeadlineMs: number | null;
  /**
   * The deadline a previous agent run handed over through the guard, while this run has not yet
   * proven the key for itself (restart in place); null otherwise.
   */
  readonly handedOverDeadlineMs: number | null;
  /**
   * A job that starts PostgreSQL writable runs now (start as primary, bootstrap, restart as
   * primary): between pg_ctl start and the next arming nothing would guard it, and an agent frozen
   * in that window would leave a primary writable past its lease.
   */
  readonly startingWritable?: boolean;
}

export interface Arming {
  readonly armed: boolean;
  /** Monotonic ms; -Infinity: fence now. */
  readonly deadlineMs: number;
  readonly reason: string;
}

/**
 * S1: armed whenever PostgreSQL may run writable, at the deadline of the lease the leader key is
 * attached to. A leader's replica being promoted is armed too (the guard must outlive an agent that
 * dies mid-promotion), and so is a running PostgreSQL under a deadline handed over by a previous run. Writable without any proven lease is armed at -Infinity: fence now.
 */
export function fenceArming(i: ArmingInput): Arming {
  if (i.paused) return { armed: false, deadlineMs: -Infinity, reason: 'paused: the operator holds the fence (SPEC 5.8)' };
  // A deadline handed over by a previous run counts the same way: that run armed it for a
  // PostgreSQL it may have been promoting, and a promotion requested before it died completes
  // without it (seed 514: the new run, finding PostgreSQL still in recovery, disarmed the guard).
  const promoting = i.postmasterAlive && (i.leadershipDeadlineMs !== null || i.handedOverDeadlineMs !== null);
  const starting = i.startingWritable === true && i.leadershipDeadlineMs !== null;
  if (!i.postmasterMayBeWritable && !promoting && !starting) return { armed: false, deadlineMs: -Infinity, reason: 'postgresql cannot accept writes' };
  if (i.leadershipDeadlineMs !== null) return { armed: true, deadlineMs: i.leadershipDeadlineMs, reason: 'leader key proven under our lease' };
  if (i.handedOverDeadlineMs !== null) {
    return { armed: true, deadlineMs: i.handedOverDeadlineMs, reason: 'deadline handed over by the previous agent run; leader key not yet re-attached' };
  }
  // Before the first read ends, the key may well be ours (a restart whose guard died with it): the
  // first tick proves it or not. A failed read proves nothing, and nothing else holds a deadline.
  if (i.etcd === 'pending') return { armed: false, deadlineMs: -Infinity, reason: 'waiting for the first etcd read' };
  if (i.etcd === 'unreadable') return { armed: true, deadlineMs: -Infinity, reason: 'postgresql may accept writes, etcd has not been read since start, and no deadline was handed over' };
  return { armed: true, deadlineMs: -Infinity, reason: 'postgresql may accept writes but no leader key is proven ours' };
}

export type LeadershipLossResponse =
  | { readonly kind: 'retake'; readonly reason: string }
  | { readonly kind: 'fence'; readonly reason: string }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * The lease or the leader key ended before our deadline (a revoked lease, a deleted key, a resumed
 * stale etcd leader). Never a tick of deciding while writable without a lease: take the key back at
 * once with one create-if-absent transaction (it succeeds only while nobody else holds it), and if
 * that did not succeed at once, fence. Only a PostgreSQL that may be writable (or is about to be:
 * a writable start or a promotion under way) answers so: a read-only one taking the key back would
 * hold it with less WAL than a replica may have, for a node that did not even know it had lost it
 * (seed 543: cut off while another member led, it took the key back on its first keepalive).
 */
export function onLeadershipLost(i: {
  readonly cause: string;
  readonly paused: boolean;
  /** A postmaster runs without standby.signal (postmaster.pid, read now). */
  readonly postmasterMayBeWritable: boolean;
  /**
   * A job is starting PostgreSQL writable or promoting it (ArmingInput.startingWritable): not
   * writable yet, but it will accept writes within the second; ignoring the loss would leave it
   * writable without a key while a replica, finding it stopped or in recovery, promotes.
   */
  readonly startingWritable?: boolean;
  readonly retake: 'not tried' | 'failed' | 'won';
}): LeadershipLossResponse {
  if (i.paused) return { kind: 'none', reason: `leadership lost (${i.cause}); paused, so no automatic action` };
  if (!i.postmasterMayBeWritable && i.startingWritable !== true) {
    return { kind: 'none', reason: `leadership lost (${i.cause}); postgresql is not running writable and no job makes it so` };
  }
  if (i.retake === 'won') return { kind: 'none', reason: `leadership lost (${i.cause}); leader key taken back under a fresh lease` };
  if (i.retake === 'not tried') return { kind: 'retake', reason: `leadership lost (${i.cause}); taking the leader key back at once (create-if-absent)` };
  return { kind: 'fence', reason: `leadership lost (${i.cause}) and the key could not be taken back at once: fencing` };
}
