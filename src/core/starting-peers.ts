// S2 (d): a member that is starting PostgreSQL answers its REST API but has no WAL position yet,
// and the race would rank it out, although it may hold the most WAL: the former primary restarting
// read-only to compete (a crash, a fence), or a replica restarting. Once up, replicas may even
// stream its WAL on (cascading), so promoting before it answers loses commits it holds. The race
// waits for such a member, bounded by ttl from when it was first seen starting: a start that takes
// longer (long crash recovery) does not hold failover back for ever. Patroni ranks a starting
// member out at once.
import type { DecideInput, Memory, PeerProbe } from './decide-types.js';

type Reachable = Extract<PeerProbe, { reachable: true }>;

/** Starting and not answering yet (a position it reports comes from before the stop: not final). */
function startingWithoutWal(p: PeerProbe): p is Reachable {
  return p.reachable && p.startingAs !== undefined && !p.running && !p.nofailover;
}

/** Memory after this tick's probes: first-seen times of the members starting now; others dropped. */
export function trackStartingPeers(input: DecideInput): Memory {
  const before = input.memory.startingPeers ?? {};
  const now: Record<string, number> = {};
  for (const p of input.peers.values()) {
    if (startingWithoutWal(p)) now[p.name] = before[p.name] ?? input.nowMs;
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
    if (!startingWithoutWal(p)) continue;
    const left = (since[p.name] ?? input.nowMs) + boundMs - input.nowMs;
    if (left > 0) {
      return `member ${p.name} is starting postgresql (as ${p.startingAs ?? 'replica'}) and does not answer with its wal position yet; waiting up to ${Math.round(left)} ms for it`;
    }
  }
  return null;
}
