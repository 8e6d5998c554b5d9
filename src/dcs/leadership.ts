// Whether this agent leads, and until when: the lease its leader key was last proven under, the
// send time of its last write replicas count as a sign of life, which foreign lease the key may be
// re-attached from, and who to tell when leadership ends. LeaseDcs (lease-dcs.ts) proves and ends
// it from etcd's answers.
import type { Logger } from 'pino';
import type { LeaseKeeper } from './lease-keeper.js';
import { DcsError, type LeaseState } from './port.js';

export class Leadership {
  /** The lease id under which the leader key was last proven ours; null when not leading. */
  private heldUnder: string | null = null;
  private readonly lostListeners = new Set<(cause: string) => void>();
  /**
   * Send time of our last write that replicas count as a sign of life of the leader (the leader
   * key's create, heartbeat or re-attach, the status key, our member key). See current().
   */
  private visibleSendMs = -Infinity;

  /** See LeaseDcsOptions.reattachableLease. */
  constructor(private readonly keeper: LeaseKeeper, private readonly log: Logger, private readonly reattachable: string | null | undefined) {
    // etcd said the lease is gone (keepalive TTL <= 0, "lease not found" on a put): if the key
    // hung on it, leadership ended now, not at the next tick (S1, revoked or early-expired lease).
    keeper.subscribe((state) => {
      if (this.heldUnder !== null && state.leaseId !== this.heldUnder) this.end(`lease ${this.heldUnder} is gone in etcd`);
    });
  }

  /** The lease id under which the leader key was last proven ours; null when not leading. */
  get lease(): string | null {
    return this.heldUnder;
  }

  /**
   * S2 across hosts: a replica that finds the leader key gone judges the former leader's deadline
   * from when it last saw one of that leader's keys change (src/core/former-leader.ts). A keepalive
   * that no visible write follows (a renewal during a promotion, a member touch with nothing new)
   * would move our deadline past what any replica can know. So leadership counts the lease only up
   * to the last visible write's send time + TTL - margin: a keepalive alone never extends it.
   */
  current(): LeaseState | null {
    const state = this.keeper.state();
    if (this.heldUnder === null || state.leaseId !== this.heldUnder) return null;
    const visible = this.keeper.deadlineFrom(this.visibleSendMs);
    return visible < state.validUntilMs ? { ...state, validUntilMs: visible } : state;
  }

  sawVisible(sendMs: number): void {
    if (sendMs > this.visibleSendMs) this.visibleSendMs = sendMs;
  }

  onLost(listener: (cause: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  prove(leaseId: string): void {
    if (this.heldUnder !== leaseId) this.log.info({ leaseId }, 'leadership proven under lease');
    this.heldUnder = leaseId;
  }

  /**
   * A key naming us under another lease (we restarted) is moved onto ours only from the lease our
   * previous run handed over: that proves the key is ours, not a stranger's, a restored backup's
   * or an operator's put.
   */
  checkReattachable(keyLease: string | null | undefined): void {
    if (this.reattachable !== undefined && (keyLease === undefined || keyLease === null || keyLease !== this.reattachable)) {
      throw new DcsError('invalid', `the leader key names this node under lease ${keyLease ?? 'none'}, which this run cannot prove was its own`
        + ` (handed-over lease: ${this.reattachable ?? 'none'}); not re-attaching it: it ends with its lease`, { retryable: false });
    }
  }

  /** A voluntary release is not a loss: no listener fires for our own delete. */
  release(): void {
    this.heldUnder = null;
  }

  end(cause: string): void {
    if (this.heldUnder === null) return;
    this.heldUnder = null;
    this.log.warn({ cause }, 'leadership lost');
    for (const l of this.lostListeners) {
      try {
        l(cause);
      } catch {
        // One listener's failure must not keep the others from fencing.
      }
    }
  }
}
