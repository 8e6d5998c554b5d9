// Who may take the leader key (S2), and who is the best candidate (SPEC 5.4).
import type { Lsn } from './cluster.js';
import type { DecideInput, PeerProbe } from './decide-types.js';
import { walPosition } from './local-pg.js';

export type Verdict = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly reason: string };

const yes = (detail: string): Verdict => ({ ok: true, detail });
const no = (reason: string): Verdict => ({ ok: false, reason });

function syncAllows(input: DecideInput, name: string): boolean {
  if (!input.config.synchronous_mode) return true;
  const sync = input.cluster?.sync?.value;
  if (!sync || sync.syncStandby.length === 0) return true;
  return sync.syncStandby.includes(name);
}

/** S2 (b), (c), (e) and the synchronous rule, for this node. */
export function selfEligibility(input: DecideInput): Verdict {
  const { local, self, config } = input;
  if (input.fenced) return no('postgresql is fenced');
  if (local.kind !== 'running') return no(`postgresql is ${local.kind}`);
  if (self.tags.nofailover === true) return no('tagged nofailover');
  if (!syncAllows(input, self.name)) return no('not the synchronous standby named in the sync key');
  const mine = walPosition(local);
  if (mine === null) return no('own wal position unknown');
  const optime = input.cluster?.status?.optime ?? null;
  if (optime !== null && local.inRecovery && optime - mine > config.maximum_lag_on_failover) {
    return no(`lagging ${optime - mine} bytes behind the last leader optime ${optime} (maximum_lag_on_failover ${config.maximum_lag_on_failover})`);
  }
  return yes(`wal position ${mine}`);
}

function peerEligible(input: DecideInput, p: Extract<PeerProbe, { reachable: true }>): boolean {
  return p.running && !p.nofailover && p.walPosition !== null && syncAllows(input, p.name);
}

/** Does the peer beat us? More WAL wins; then failover_priority (higher); then name (lower). */
function peerBeats(input: DecideInput, p: Extract<PeerProbe, { reachable: true }>, mine: Lsn): boolean {
  const theirs = p.walPosition ?? -1;
  if (theirs !== mine) return theirs > mine;
  const myPriority = input.self.tags.failover_priority ?? 1;
  if (p.failoverPriority !== myPriority) return p.failoverPriority > myPriority;
  return p.name < input.self.name;
}

/** S2 (d) and "abort if a peer still reports itself primary", over the members etcd lists. */
export function bestAmongPeers(input: DecideInput): Verdict {
  const mine = walPosition(input.local);
  if (mine === null) return no('own wal position unknown');
  const others = (input.cluster?.members ?? []).filter((m) => m.name !== input.self.name);
  let reachable = 0;
  for (const m of others) {
    const p = input.peers.get(m.name);
    if (!p || !p.reachable) continue;
    reachable++;
    if (p.role === 'primary' && p.running) return no(`member ${p.name} still reports itself primary`);
    if (peerEligible(input, p) && peerBeats(input, p, mine)) {
      return no(`member ${p.name} is a better candidate (wal ${p.walPosition} vs own ${mine}, priority ${p.failoverPriority})`);
    }
  }
  return yes(`most advanced of ${reachable + 1} reachable members at wal ${mine}`);
}

/** Could this peer take over in a switchover right now (healthy, streaming or caught up, eligible)? */
export function candidateHealthy(input: DecideInput, name: string): Verdict {
  const p = input.peers.get(name);
  if (!p) return no(`member ${name} was not probed`);
  if (!p.reachable) return no(`member ${name} is unreachable (${p.error})`);
  if (!p.running) return no(`member ${name} is not running`);
  if (p.role !== 'replica') return no(`member ${name} is not a replica`);
  if (p.nofailover) return no(`member ${name} is tagged nofailover`);
  if (!syncAllows(input, name)) return no(`member ${name} is not the synchronous standby`);
  return yes(`member ${name} is healthy at wal ${p.walPosition ?? 'unknown'}`);
}

/** The best switchover candidate among the probed replicas, or null. */
export function bestCandidate(input: DecideInput): string | null {
  let best: Extract<PeerProbe, { reachable: true }> | null = null;
  for (const p of input.peers.values()) {
    if (!p.reachable || p.name === input.self.name) continue;
    if (!candidateHealthy(input, p.name).ok) continue;
    if (
      best === null ||
      (p.walPosition ?? -1) > (best.walPosition ?? -1) ||
      ((p.walPosition ?? -1) === (best.walPosition ?? -1) &&
        (p.failoverPriority > best.failoverPriority ||
          (p.failoverPriority === best.failoverPriority && p.name < best.name)))
    ) {
      best = p;
    }
  }
  return best?.name ?? null;
}
