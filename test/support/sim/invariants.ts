// The properties checked after every step (S1, S4), at every promotion (S2), and at the end of
// every quiet window (progress). Ground truth only: etcd's keys and leases as the store holds them,
// PostgreSQL's state and WAL as the model holds them; what an agent believes is not evidence.
import { isWritable } from './fake-pg.js';
import { FENCE_MAX_MS, PREFIX, startingAfterPauseKill, agentRuns, etcdView, leaderKey, linked, nowMs, paused, violation, type SimNode, type WorldState } from './model.js';
import { commonPrefix, isPrefix, walEnd } from './wal.js';

/**
 * n holds the leader key in etcd under the lease its agent keeps (or that a killed earlier run of
 * it kept, until the next run re-attaches the key), and etcd still has that lease.
 */
export function holdsKey(w: WorldState, n: SimNode): boolean {
  const key = leaderKey(w);
  if (key === null || key.name !== n.name || (w.store.leaseRemainingMs(key.lease) ?? 0) <= 0) return false;
  return key.lease === (n.agent?.lease().leaseId ?? null) || n.prevLeases.some((p) => p.leaseId === key.lease);
}

/** The latest lease deadline a run of n's agent proved (a killed run's still binds: its guard holds it). */
export function leaseDeadline(n: SimNode): number {
  return Math.max(n.agent?.lease().validUntilMs ?? Number.NEGATIVE_INFINITY, ...n.prevLeases.map((p) => p.validUntilMs));
}

/**
 * S1: a writable primary runs only while it holds the leader key under its own live lease, and
 * never past its lease deadline by more than a fence takes (the deadline is the send time of the
 * last acknowledged keepalive + ttl - margin; the margin covers the stop, FENCE_MAX_MS < 1 s). Exempt:
 * a node whose agent sees pause (SPEC 5.8), and the holder of an operator-deleted key, which a
 * frozen agent cannot retake: only the deadline binds it.
 */
export function checkS1(w: WorldState): void {
  for (const n of w.nodes) {
    if (!isWritable(n.pg)) {
      pausedWritable.delete(n);
      continue;
    }
    if (paused(n)) {
      pausedWritable.add(n);
      continue;
    }
    if (holdsKey(w, n)) pausedWritable.delete(n);
    const deadline = leaseDeadline(n);
    const late = nowMs(w) - deadline;
    if (late > FENCE_MAX_MS) {
      violation(w, `S1: ${n.name} is a writable primary ${late} ms past its lease deadline`);
    } else if (!holdsKey(w, n) && w.keyDeletedFrom !== n.name && !fenceUnderWay(w, n)) {
      violation(w, `S1: ${n.name} is a writable primary without holding the leader key (key: ${leaderKey(w)?.name ?? 'none'})`);
    }
  }
}

/**
 * Writable since a pause, and a fence sent less than a fence's time ago: the postmaster is on its
 * way down (seed 158 of set 6:
 * an agent resumed after a pause lifted while it was frozen found its PostgreSQL writable without
 * the key, could not take it back over a lossy link and fenced; the check fell inside the stop).
 */
function fenceUnderWay(w: WorldState, n: SimNode): boolean {
  const sent = n.pg.fenceSentAtMs;
  return pausedWritable.has(n) && sent !== undefined && nowMs(w) - sent <= FENCE_MAX_MS;
}

/**
 * Nodes writable while exempt by pause, until their PostgreSQL stops: only those get the fence's
 * time once the pause is over (a node that became writable without the key outside pause gets none).
 */
const pausedWritable = new WeakSet<SimNode>();

/** How much of a node's WAL is on the line of history the last valid leader wrote. */
const legit = (w: WorldState, n: SimNode): number => commonPrefix(n.pg.wal, w.canonical);

/**
 * S2 at the moment pg_promote is called: eligible, within maximum_lag_on_failover of the last
 * optime, and no reachable eligible member (one etcd lists) holds more of the cluster's history. A
 * requested (manual) candidate may be behind; the operator chose it.
 */
export function checkPromotion(w: WorldState, n: SimNode, label: string): void {
  const what = `S2: ${n.name} promoted (${label})`;
  const view = etcdView(w);
  if (n.tags.nofailover === true) violation(w, `${what} although tagged nofailover`);
  if (n.agent?.fenced === true) violation(w, `${what} while fenced`);
  // The former primary must be gone first (S2's last clause); a paused one is exempt as in S1.
  for (const x of w.nodes) {
    if (x !== n && isWritable(x.pg) && !pauseExempt(w, x)) violation(w, `${what} while ${x.name} is still a writable primary (two primaries)`);
  }
  if (view.failover?.value.member === n.name) return;
  const optime = view.status?.optime ?? null;
  const end = walEnd(n.pg.wal);
  const maxLag = n.agent?.dynamic().maximum_lag_on_failover ?? w.bootstrapDcs.maximum_lag_on_failover;
  if (optime !== null && optime - end > maxLag) violation(w, `${what} lagging ${optime - end} behind the last optime ${optime}`);
  const mine = legit(w, n);
  const listed = membersBeforeKey(w, n) ?? new Set(view.members.map((m) => m.name));
  // The members it can know of: those with a member key in etcd that answer its probes (and that
  // registered before it took the key: the acquire refuses a view older than any member key, so
  // one created after the acquire is in nobody's race).
  for (const x of w.nodes) {
    // A hung PostgreSQL answers no query: its position cannot be known, and it cannot be promoted.
    if (x === n || !listed.has(x.name) || !agentRuns(w, x) || !linked(n, x) || !x.pg.running || x.faults.pgHungUntilMs !== null || x.tags.nofailover === true) continue;
    if (unreachableWhenProbed(w, n, x)) continue;
    const theirs = legit(w, x);
    if (theirs > mine) violation(w, `${what} with ${mine} bytes of the cluster history while reachable ${x.name} had ${theirs}`);
  }
}

/** The members whose key was created before n's leader key, when n holds the key; else null. */
function membersBeforeKey(w: WorldState, n: SimNode): Set<string> | null {
  const kvs = w.store.dump(PREFIX);
  const leader = kvs.find((kv) => kv.key === `${PREFIX}leader`);
  if (!leader || leader.value !== n.name) return null;
  const members = kvs.filter((kv) => kv.key.startsWith(`${PREFIX}members/`) && kv.createRevision < leader.createRevision);
  return new Set(members.map((kv) => kv.key.slice(`${PREFIX}members/`.length)));
}

/**
 * A writable primary beside a promotion is exempt while its agent sees pause. One whose agent was
 * killed in pause never sees the resume: exempt only while the cluster is still paused.
 */
function pauseExempt(w: WorldState, x: SimNode): boolean {
  return x.agent !== null && !startingAfterPauseKill(x) ? paused(x) : x.killedInPause && w.pauseUntilMs !== null;
}

/** The candidate's last probe of x found no link (x's isolation ended after the probe was sent). */
function unreachableWhenProbed(w: WorldState, n: SimNode, x: SimNode): boolean {
  const at = w.probeFailedAt.get(`${n.name}>${x.name}`);
  return at !== undefined && nowMs(w) - at < PROBE_RECENT_MS;
}

/** A probe this recent belongs to the race being decided (probe timeout 2 s + the acquire). */
const PROBE_RECENT_MS = 5_000;

/** S4: whatever a replica just received must continue its own WAL, never a diverged branch. */
export function checkStreamed(w: WorldState, r: SimNode, up: SimNode): void {
  if (isPrefix(r.pg.wal, up.pg.wal)) return;
  const at = commonPrefix(r.pg.wal, up.pg.wal);
  violation(w, `S4: ${r.name} streams from ${up.name} although its WAL diverged at ${at} (own end ${walEnd(r.pg.wal)}, timeline ${r.pg.tl})`);
}

/** null when the cluster has exactly one leader and every other node streams from it (maybe cascaded). */
export function convergence(w: WorldState): string | null {
  const writable = w.nodes.filter((n) => isWritable(n.pg));
  if (writable.length !== 1) return `${writable.length} writable primaries (${writable.map((n) => n.name).join(', ')})`;
  const leader = writable[0] as SimNode;
  if (!holdsKey(w, leader)) return `${leader.name} is primary but the leader key is ${leaderKey(w)?.name ?? 'absent'}`;
  for (const n of w.nodes) {
    if (n === leader) continue;
    const why = n.agent?.lastReason ?? 'agent not running';
    if (!n.pg.running) return `${n.name}: postgresql is not running (${why})`;
    if (!n.pg.streaming) return `${n.name}: replica not streaming (${why})`;
    if (!isPrefix(n.pg.wal, leader.pg.wal)) return `${n.name}: WAL diverged from the leader at ${commonPrefix(n.pg.wal, leader.pg.wal)}`;
  }
  return null;
}
