// S2 (d): a member that is starting PostgreSQL answers its REST API but has no WAL position yet,
// and the race would rank it out, although it may hold the most WAL: the former primary restarting
// read-only to compete (a crash, a fence), or a replica restarting. Once up, replicas may even
// stream its WAL on (cascading), so promoting before it answers loses commits it holds. The race
// waits for such a member, bounded by ttl from when it was first seen starting: a start that takes
// longer (long crash recovery) does not hold failover back for ever. Patroni ranks a starting
// member out at once.
// The same holds for a member whose agent answers while its PostgreSQL is stopped, with more WAL
// than ours in its data directory (pg_control, GET /patroni's pg_ha_agent.stopped_wal): the former
// primary of a switchover whose candidate did not take the key waits a loop before it starts
// read-only (seed 301 of set 5), and one whose start failed restarts read-only. Its agent starts it
// to compete; until then the race would rank it out and lose the commits it holds.
import type { DecideInput, Memory, PeerProbe } from './decide-types.js';
import { walPosition } from './local-pg.js';

type Reachable = Extract<PeerProbe, { reachable: true }>;

/** Starting and not answering yet (a position it reports comes from before the stop: not final). */
function startingWithoutWal(p: PeerProbe): boolean {
  return p.reachable && p.startingAs !== undefined && !p.running && !p.nofailover;
}

/**
 * What a stopped member holds: its pg_control position, or the last position its agent saw it
 * running with (a postmaster that stopped since the agent's last tick); WAL only grows, so either
 * is a lower bound.
 */
function stoppedWalOf(p: Reachable): { lsn: number; timeline: number | null } | null {
  if (p.stoppedWal !== undefined) return p.stoppedWal;
  return p.walPosition === null ? null : { lsn: p.walPosition, timeline: p.timeline };
}

/** Stopped with more WAL than ours, on our timeline or a later one. */
function stoppedAhead(input: DecideInput, p: PeerProbe): p is Reachable {
  if (!p.reachable || p.running || p.nofailover) return false;
  const theirs = stoppedWalOf(p);
  const mine = walPosition(input.local);
  const local = input.local;
  const ownTl = local.kind === 'running' ? local.timeline : (local.control?.timeline ?? 0);
  return theirs !== null && mine !== null && theirs.lsn > mine && (theirs.timeline ?? 0) >= ownTl;
}

function heldFor(input: DecideInput, p: PeerProbe): p is Reachable {
  return startingWithoutWal(p) || stoppedAhead(input, p);
}

/**
 * The clock a held member is waited on: one for it stopped, kept across its starts (a member whose
 * starts keep failing holds the race back once, not at every attempt), and one per start, begun
 * when that start is first seen: a start begun after the stopped wait ran out is still waited for
 * (seed 57 of set 6: a member whose start failed for 40 s began one more as the race gave up on
 * it; the race promoted on a probe taken during that start, 0.2 s before it answered with more WAL).
 */
function clockOf(p: PeerProbe): string {
  return startingWithoutWal(p) ? `${p.name}/starting` : p.name;
}

/** Memory after this tick's probes: first-seen times of the members waited for now; others dropped. */
export function trackStartingPeers(input: DecideInput): Memory {
  const before = input.memory.startingPeers ?? {};
  const now: Record<string, number> = {};
  for (const p of input.peers.values()) {
    if (!heldFor(input, p)) continue;
    const clock = clockOf(p);
    now[clock] = before[clock] ?? input.nowMs;
    const stopped = before[p.name];
    if (stopped !== undefined) now[p.name] = stopped;
  }
  const same = Object.keys(now).length === Object.keys(before).length && Object.entries(now).every(([k, v]) => before[k] === v);
  if (same) return input.memory;
  return { ...input.memory, startingPeers: now };
}

/** Why the race waits for a starting member, or null (none, or each started longer than ttl ago). */
export function startingPeerWait(input: DecideInput): string | null {
  const since = input.memory.startingPeers ?? {};
  const boundMs = input.config.ttl * 1000;
  for (const p of input.peers.values()) {
    if (!heldFor(input, p)) continue;
    const until = (since[clockOf(p)] ?? input.nowMs) + boundMs;
    const left = until - input.nowMs;
    if (left <= 0) {
      // The wait ran out after our probes were taken (a probe timeout on another member): what
      // they showed of this member is older than the bound, and it may have started since.
      const at = input.peersProbedAtMs;
      if (at !== undefined && at < until) return `the wait for member ${p.name} ran out ${Math.round(input.nowMs - until)} ms after our probes were taken; asking again`;
      continue;
    }
    if (startingWithoutWal(p)) {
      return `member ${p.name} is starting postgresql (as ${p.startingAs ?? 'replica'}) and does not answer with its wal position yet; waiting up to ${Math.round(left)} ms for it`;
    }
    return `member ${p.name} is stopped with more wal (${stoppedWalOf(p)?.lsn ?? 0} vs own ${walPosition(input.local) ?? 0}) and its agent answers; waiting up to ${Math.round(left)} ms for it to start and compete`;
  }
  return null;
}
