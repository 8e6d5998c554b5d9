// S2, last clause: no promotion while the former primary may still be writable.
//
// The leader key can vanish long before the former leader's lease could have run out by its own
// rules: `etcdctl del`, a revoked lease, a stale etcd leader revoking leases on resume. If that
// leader's agent is frozen (SIGSTOP, a stalled VM), its PostgreSQL keeps accepting writes until
// its fence guard stops it at the lease deadline. A replica therefore remembers when it last saw
// that leader alive (a change of the status key it puts every tick, of its member key or of the
// leader key) and, once the key is gone, promotes only with evidence that the former primary no
// longer accepts writes, or once that leader's own deadline has passed: its deadline is the send
// time of its last acknowledged keepalive + ttl - margin, and that keepalive is sent in the same
// tick right after the status put we saw, so "seen alive" + ttl is later than it.
import type { DecideInput, LeaderSeen, Memory } from './decide-types.js';

function streamingNow(input: DecideInput): boolean {
  const local = input.local;
  return local.kind === 'running' && local.inRecovery && local.walReceiver?.status === 'streaming';
}

/** Memory after this tick's observation of another leader (cleared while this node leads). */
export function trackLeader(input: DecideInput): Memory {
  const cluster = input.cluster;
  const leader = cluster?.leader ?? null;
  const memory = input.memory;
  if (!cluster || !leader) return memory;
  if (leader.name === input.self.name) return memory.leaderSeen === null ? memory : { ...memory, leaderSeen: null };
  const member = cluster.members.find((m) => m.name === leader.name);
  const signature = `${leader.modRevision}/${cluster.statusModRevision ?? '-'}/${member?.modRevision ?? '-'}`;
  const prev = memory.leaderSeen;
  // A first sighting counts as activity now: later than the truth, so it only ever waits longer.
  const same = prev !== null && prev.name === leader.name && prev.signature === signature;
  const seen: LeaderSeen = {
    name: leader.name, signature, activityMs: same ? prev.activityMs : input.nowMs, keySeenMs: input.nowMs, streaming: streamingNow(input),
  };
  return { ...memory, leaderSeen: seen };
}

/** The monotonic ms until which the former leader may still run writable, or null when none is known. */
export function formerLeaderDeadline(input: DecideInput): number | null {
  const seen = input.memory.leaderSeen;
  if (seen === null || seen.name === input.self.name) return null;
  return seen.activityMs + input.config.ttl * 1000;
}

/**
 * null when the former leader cannot be writable any more as far as we can tell; otherwise why
 * we wait. Evidence: its REST API answers and it does not report a running primary, or it cannot
 * be reached while our WAL stream (which ran while it held the key) has ended.
 */
export function formerLeaderMayWrite(input: DecideInput): string | null {
  const seen = input.memory.leaderSeen;
  const deadline = formerLeaderDeadline(input);
  if (seen === null || deadline === null || input.nowMs >= deadline) return null;
  const p = input.peers.get(seen.name);
  const until = `until its lease deadline in ${Math.round(deadline - input.nowMs)} ms`;
  if (p?.reachable === true) {
    if (!(p.role === 'primary' && p.running)) return null;
    return `former leader ${seen.name} may still be writable ${until} (it still reports itself primary); waiting for evidence`;
  }
  const stream = streamingNow(input);
  if (seen.streaming && !stream) return null;
  const why = p === undefined ? 'no member key to probe' : `unreachable: ${p.error}`;
  const wal = stream ? 'our wal stream still runs' : 'we were not streaming from it';
  return `former leader ${seen.name} may still be writable ${until} (${why}; ${wal}); waiting for evidence`;
}
