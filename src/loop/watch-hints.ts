// What an etcd watch hint asks of the agent: an answer from the lease keeper at once (our leader
// key may be gone), a tick now, or nothing (keys every agent rewrites every tick).
import type { Dcs, DcsChangeHint } from '../dcs/port.js';

/** A watch hint that names the leader key (or may have missed it). */
export function touchesLeaderKey(hint: DcsChangeHint): boolean {
  return hint.resync === true || hint.keys === undefined || hint.keys.includes('leader');
}

/**
 * Member keys and the leader's status are rewritten every tick by every agent: waking on them would
 * make the agents wake each other in a loop. The leader key, failover, config, initialize, sync and
 * history are what a tick must react to at once.
 */
export function wakesTheLoop(hint: DcsChangeHint): boolean {
  if (hint.resync === true || hint.keys === undefined) return true;
  return hint.keys.some((k) => !k.startsWith('members/') && k !== 'status');
}

/** Follows etcd's changes until the signal aborts: our leader key deleted or replaced is answered at once (S1). */
export async function followChanges(deps: {
  readonly dcs: Pick<Dcs, 'changes' | 'leadership' | 'checkLeadership'>;
  readonly wake: () => void;
  readonly onEnd: (err: unknown) => void;
}, signal: AbortSignal): Promise<void> {
  try {
    for await (const hint of deps.dcs.changes(signal)) {
      // Our leader key deleted or replaced (etcdctl del, a revoked lease): answered at once,
      // not at the next tick (S1).
      if (touchesLeaderKey(hint) && deps.dcs.leadership() !== null) void deps.dcs.checkLeadership().catch(() => false);
      if (wakesTheLoop(hint)) deps.wake();
    }
  } catch (err) {
    if (!signal.aborted) deps.onEnd(err);
  }
}
