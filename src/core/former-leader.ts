// S2, last clause: no promotion while the former primary may still be writable.
//
// The leader key can vanish long before the former leader's lease could have run out by its own
// rules: `etcdctl del`, a revoked lease, a stale etcd leader revoking leases on resume. If that
// leader's agent is frozen (SIGSTOP, a stalled VM), its PostgreSQL keeps accepting writes until
// its fence guard stops it at the lease deadline. A replica therefore remembers when it last saw
// that leader alive (a newer status key, which it puts every tick, or a newer member key) and, once
// the key is gone, promotes only with evidence that the former primary no longer accepts writes
// (its own answer, or the mark of its clean release), or once that leader's own deadline has passed: its deadline is the send
// time of its last acknowledged keepalive + ttl - margin, and that keepalive is sent in the same
// tick right after the status put we saw, so "seen alive" + ttl is later than it.
import type { DecideInput, LeaderSeen, Memory, PeerProbe } from './decide-types.js';
import { isPaused } from './decision.js';
import { mayBeRunningPrimary } from './eligibility.js';

function streamingNow(input: DecideInput): boolean {
  const local = input.local;
  return local.kind === 'running' && local.inRecovery && local.walReceiver?.status === 'streaming';
}

/**
 * Memory after this tick's observation (cleared while this node leads). Signs of life are also
 * read while the key is absent: after a cut from etcd, a status put we missed must count, or we
 * would judge the former leader by what we saw before the cut.
 */
export function trackLeader(input: DecideInput): Memory {
  const cluster = input.cluster;
  const memory = input.memory;
  if (!cluster) return memory;
  const leader = cluster.leader;
  if (leader?.name === input.self.name) return memory.leaderSeen === null ? memory : { ...memory, leaderSeen: null };
  const prev = memory.leaderSeen;
  const promoted = promotedSince(input, prev);
  const name = leader?.name ?? promoted?.name ?? prev?.name ?? claimedPrimary(input) ?? statusLeader(input);
  if (name === undefined) return memory;
  const same = prev !== null && prev.name === name;
  const statusRev = cluster.statusModRevision ?? 0;
  const memberRev = cluster.members.find((m) => m.name === name)?.modRevision ?? 0;
  // A first sighting counts as activity now: later than the truth, so it only ever waits longer.
  // A key that disappears (revision 0) is no sign of life.
  const alive = !same || statusRev > prev.statusRev || memberRev > prev.memberRev;
  const seen: LeaderSeen = {
    name,
    activityMs: alive ? input.nowMs : prev.activityMs,
    statusRev: Math.max(statusRev, same ? prev.statusRev : 0),
    memberRev: Math.max(memberRev, same ? prev.memberRev : 0),
    keySeenMs: leader || !same ? input.nowMs : prev.keySeenMs,
    ...keyRevOf(leader?.name === name ? leader.modRevision : undefined, same ? prev : null),
    // Sticky for one leader: in a host loss the stream ends at once while the key lives on to the
    // lease's end, and "our stream from it has ended" must still hold when the key goes.
    // A leader first named by the history key (promotedSince) never fed our stream.
    streaming: leader ? (same && prev.streaming) || streamingNow(input) : same && prev.streaming,
    // Paused at its last sign of life: as the cluster is now, or as its own member key says (a
    // leader that put it in pause and died or froze before it saw the resume never fences).
    paused: alive ? pausedAtSign(input, prev !== null && same ? prev : null, name, statusRev, memberRev) : prev.paused === true,
    ...leaseTtlOf(cluster.members.find((m) => m.name === name)?.leaseTtl, same ? prev : null),
    ...historyTlOf(input, same ? prev : null),
    ...foreignOf(input, name, same ? prev : null),
  };
  return { ...memory, leaderSeen: seen };
}

function foreignOf(input: DecideInput, name: string, prev: LeaderSeen | null): { foreign?: true } {
  const member = input.cluster?.members.find((m) => m.name === name);
  const foreign = member === undefined ? prev?.foreign === true : member.agent === undefined;
  return foreign ? { foreign: true } : {};
}

function keyRevOf(now: number | undefined, prev: LeaderSeen | null): { keyRev?: number } {
  const rev = Math.max(now ?? 0, prev?.keyRev ?? 0);
  return rev > 0 ? { keyRev: rev } : {};
}

/**
 * Whether the leader was paused when it wrote the sign of life we see now: the cluster is paused
 * now, or its member key says it wrote in pause, or we last saw it paused and the puts we see now
 * are older than the config key's last change (the resume): etcd revisions are global, so a put
 * made before the resume was made in pause, also when its member key has expired since (seed 537:
 * a leader cut off in pause, never seeing the resume, its keys lapsed; its last status put,
 * read after the resume, counted as "not paused", and the expired member key as evidence).
 */
function pausedAtSign(input: DecideInput, prev: LeaderSeen | null, name: string, statusRev: number, memberRev: number): boolean {
  const member = input.cluster?.members.find((m) => m.name === name);
  // The status key is put by the key holder only, and has no lease (seed 582 of set 5: an agent
  // restarted after the resume, with no memory of the leader killed in pause, promoted beside it).
  // Only for the leader that put it: the newest history entry's (a Patroni member claiming primary,
  // never the status key's writer, was held as paused for ever, seed 451 of set 5).
  // The status names its writer since it carries `leader`; an older one's writer is the newest
  // promotion's (a bootstrap leader frozen in pause has none: seeds 774/939 of set 6 in pause).
  const status = input.cluster?.status;
  const statusPaused = status?.pause === true && (status.leader ?? newestHistory(input)?.newLeader) === name;
  if (isPaused(input) || member?.pause === true || statusPaused) return true;
  const configRev = input.cluster?.config?.modRevision;
  if (prev?.paused !== true || configRev === undefined) return false;
  const newStatus = statusRev > prev.statusRev ? statusRev : 0;
  const newMember = memberRev > prev.memberRev ? memberRev : 0;
  const signRev = Math.max(newStatus, newMember);
  return signRev > 0 && signRev < configRev;
}

function newestHistory(input: DecideInput): { timeline: number; newLeader?: string } | null {
  const entries = input.cluster?.history?.value ?? [];
  return entries.length === 0 ? null : (entries[entries.length - 1] ?? null);
}

function historyTlOf(input: DecideInput, prev: LeaderSeen | null): { historyTl?: number } {
  const tl = Math.max(newestHistory(input)?.timeline ?? 0, prev?.historyTl ?? 0);
  return tl > 0 ? { historyTl: tl } : {};
}

/**
 * With the key gone, a history entry newer than our last sighting names a leader promoted while we
 * did not look (frozen, cut off): that one, not the leader we remember, is the former primary that
 * may still be writable, and our first sight of its entry counts as its activity.
 */
function promotedSince(input: DecideInput, prev: LeaderSeen | null): { name: string } | null {
  const newest = newestHistory(input);
  const name = newest?.newLeader;
  if (newest === null || name === undefined || name === input.self.name) return null;
  if (prev === null) return newest.timeline + 1 >= ownTimeline(input) ? { name } : null;
  if (name === prev.name) return null;
  return newest.timeline > (prev.historyTl ?? 0) ? { name } : null;
}

/**
 * With no sighting at all (we led ourselves, or the agent restarted), the newest entry names the
 * leader that may still be writable: one that created our timeline (we followed it; seed 582 of
 * set 5: a restarted agent took the key vanished under a leader killed in pause for no leader at
 * all), or a promotion from our timeline or a later one that we never followed.
 */
function ownTimeline(input: DecideInput): number {
  const local = input.local;
  return local.kind === 'running' ? local.timeline : (local.control?.timeline ?? 0);
}

/**
 * The largest lease TTL that leader published: a smaller one later cannot shorten a deadline an
 * earlier lease may still hold.
 */
function leaseTtlOf(published: number | undefined, prev: LeaderSeen | null): { leaseTtlSec?: number } {
  const ttl = Math.max(published ?? 0, prev?.leaseTtlSec ?? 0);
  return ttl > 0 ? { leaseTtlSec: ttl } : {};
}

/**
 * A (re)started agent that finds no leader key knows nothing of the former leader: a member key
 * that still says primary (it lives on that member's lease) names one that may still be writable.
 */
function claimedPrimary(input: DecideInput): string | undefined {
  return input.cluster?.members.find((m) => m.name !== input.self.name && m.role === 'primary')?.name;
}

/**
 * Nor does a leader whose lease was revoked early: its leader key and member key went in one
 * revision. The lease-less status key still names the last key holder that put it (seeds 774
 * and 939 of set 6: a replica's agent restarted just then, with no memory of that frozen leader,
 * raced and promoted beside it). A clean release's put names nobody.
 */
function statusLeader(input: DecideInput): string | undefined {
  const name = input.cluster?.status?.leader;
  return name !== undefined && name !== input.self.name ? name : undefined;
}

/** The monotonic ms until which the former leader may still run writable, or null when none is known. */
export function formerLeaderDeadline(input: DecideInput): number | null {
  const seen = input.memory.leaderSeen;
  if (seen === null || seen.name === input.self.name) return null;
  // The leader's deadline follows the TTL its lease was granted with; the config's ttl may have
  // been lowered since (the lease keeps its TTL until granted again).
  return seen.activityMs + Math.max(input.config.ttl, seen.leaseTtlSec ?? 0) * 1000;
}

/**
 * null when the former leader cannot be writable any more as far as we can tell; otherwise why
 * we wait. Every member that may be that leader is checked: the one we remember, and any whose
 * member key still says primary (we may have missed a change of leader while frozen or cut off).
 */
export function formerLeaderMayWrite(input: DecideInput, automatic = true): string | null {
  const seen = input.memory.leaderSeen;
  if (seen !== null && withdrawnClaim(input, seen)) return null;
  if (automatic && seen !== null && seen.paused === true && seen.name !== input.self.name) return pausedLeaderMayWrite(input, seen);
  const deadline = formerLeaderDeadline(input);
  if (seen === null || deadline === null || input.nowMs >= deadline) return null;
  const until = `until its lease deadline in ${Math.round(deadline - input.nowMs)} ms`;
  const claimants = (input.cluster?.members ?? []).filter((m) => m.role === 'primary' && m.name !== input.self.name && m.name !== seen.name);
  for (const name of [seen.name, ...claimants.map((m) => m.name)]) {
    const why = noEvidence(input, seen, name);
    if (why !== null) return `former leader ${name} may still be writable ${until} (${why}); waiting for evidence`;
  }
  return null;
}

/**
 * A stranger (SPEC 5.12: reported, never a candidate) known only by its own member key's claim to
 * be primary, never by the leader key, the history or the status key, whose member key is gone:
 * the claim is withdrawn. Held as a paused former leader, it blocked every race for good once its
 * key was removed, for without a key it cannot even be probed (sim seed 450 of set 6). Our own
 * agents' keys lapse when they freeze or are cut off, so only a stranger's claim ends this way.
 */
function withdrawnClaim(input: DecideInput, seen: LeaderSeen): boolean {
  if (seen.foreign !== true || seen.keyRev !== undefined || input.cluster === null) return false;
  const named = input.cluster.members.some((m) => m.name === seen.name)
    || input.cluster.leader?.name === seen.name
    || input.cluster.status?.leader === seen.name
    || (input.cluster.history?.value ?? []).some((e) => e.newLeader === seen.name);
  return !named;
}

/**
 * The pause was lifted (or the key lapsed in pause) while the former leader was paused: it may be
 * cut off, unaware of the resume, and a paused agent does not fence (SPEC 5.8), so neither its
 * deadline nor its expired keys say it stopped. Only its own answer does: its REST API reachable
 * and not reporting a running primary. An operator's failover (requested candidate) is not held
 * by this: it keeps the deadline rule.
 */
function pausedLeaderMayWrite(input: DecideInput, seen: LeaderSeen): string | null {
  const p = input.peers.get(seen.name);
  const writes = p?.reachable === true ? stillWrites(p) : null;
  if (p?.reachable === true && writes === null) return null;
  const why = p === undefined ? 'not probed' : p.reachable ? writes : `unreachable: ${p.error}`;
  return `former leader ${seen.name} was paused when last seen alive and a paused agent does not fence (${why}); waiting for evidence that it stopped accepting writes`;
}

/**
 * What a reachable former leader's answer says against "no longer writable", or null. A start as
 * primary under way counts: its PostgreSQL is down now and writable a moment later. So does a
 * primary whose state is neither running nor down.
 */
function stillWrites(p: Extract<PeerProbe, { reachable: true }>): string | null {
  // Also when its agent answers but cannot reach its PostgreSQL, whatever role it reports (seeds
  // 572 of set 5 and 867 of set 6): its backends may still commit.
  if (mayBeRunningPrimary(p)) return p.running ? 'it still reports itself primary' : `it reports itself ${p.role} with postgresql in an unknown state`;
  return p.startingAs === 'primary' ? 'it is starting postgresql as primary' : null;
}

/**
 * Evidence that `name` stopped accepting writes: its REST API answers and it does not report a
 * running primary; or it released its key after a clean stop (the `stopped` mark the release puts
 * in the status key, after the key revision we last saw it hold). Nothing else counts before its
 * deadline. Its keys vanishing does not: a lease revoked early (`etcdctl lease revoke`, a resumed
 * stale etcd leader) removes the leader key and the member key together while that leader's agent
 * still holds the deadline of its last keepalive, and if it is cut off (or frozen) it cannot know;
 * an ended WAL stream is what a partition looks like too. (An earlier rule took "unreachable, our
 * stream ended and its member key gone" for a host loss: the simulator's fault set 6, seeds 3 and
 * 12, promoted beside a cut-off leader whose lease was revoked, two writable primaries until its
 * guard fenced.) Returns null with evidence, else what is missing.
 */
function noEvidence(input: DecideInput, seen: LeaderSeen, name: string): string | null {
  const p = input.peers.get(name);
  if (p?.reachable === true) return stillWrites(p);
  if (releasedStopped(input, seen, name)) return null;
  const stream = streamingNow(input);
  const listed = (input.cluster?.members ?? []).some((m) => m.name === name);
  return [
    p === undefined ? 'not probed' : `unreachable: ${p.error}`,
    stream ? 'our wal stream still runs' : seen.streaming ? 'our wal stream ended' : 'we were not streaming from it',
    ...(listed ? ['its member key is still alive'] : []),
  ].join('; ');
}

/** `name` released the key after a clean stop in the term we watched (the status key's `stopped` mark). */
function releasedStopped(input: DecideInput, seen: LeaderSeen, name: string): boolean {
  const status = input.cluster?.status;
  if (status?.stopped !== name || seen.name !== name || seen.keyRev === undefined) return false;
  return (input.cluster?.statusModRevision ?? 0) > seen.keyRev;
}

/**
 * The race rests on the peers' WAL positions. A former leader cleared by its deadline (no other
 * evidence) may have written and streamed until then, so positions probed before the deadline are
 * not final; a tick that spent its probe timeout on an unreachable member decides on them up to
 * 2 s later. Such probes are sent again first. Returns why, or null.
 */
export function probedBeforeDeadline(input: DecideInput): string | null {
  const seen = input.memory.leaderSeen;
  const deadline = formerLeaderDeadline(input);
  const at = input.peersProbedAtMs;
  if (seen === null || deadline === null || at === undefined || input.nowMs < deadline || at >= deadline) return null;
  return `the peers were probed ${Math.round(deadline - at)} ms before former leader ${seen.name}'s deadline passed (it may have streamed wal after); probing again`;
}
