// The local lease deadline (SPEC S1): validUntil = monotonic SEND time of the last keepalive (or
// grant) etcd acknowledged + granted TTL - margin. Counting from the send time errs early: etcd
// started its own countdown no earlier than that. Only acknowledgements move the deadline; a
// failed or timed-out keepalive never touches it.
import type { LeaseState } from './port.js';

/**
 * Default safety margin: max(1 s, 10 % of the TTL). It must cover the fence stop (immediate
 * shutdown, then SIGKILL after a bound) plus the scheduling delay of the fence timer; 1 s is
 * generous for an immediate shutdown on a healthy host and 10 % scales with operators who pick a
 * long TTL because their hosts are slow.
 */
export function defaultLeaseMarginMs(ttlSec: number): number {
  return Math.max(1000, Math.round(ttlSec * 100));
}

export type LeaseListener = (state: LeaseState) => void;

const NO_LEASE: LeaseState = Object.freeze({ leaseId: null, grantedTtlSec: 0, validUntilMs: -Infinity });

export class LeaseTracker {
  private current: LeaseState = NO_LEASE;
  private readonly listeners = new Set<LeaseListener>();

  constructor(private readonly marginMs: (ttlSec: number) => number = defaultLeaseMarginMs) {}

  state(): LeaseState {
    return this.current;
  }

  /** A fresh lease: the grant reply counts as the first acknowledgement. */
  granted(leaseId: string, ttlSec: number, sendMonoMs: number): void {
    this.set({ leaseId, grantedTtlSec: ttlSec, validUntilMs: this.deadline(sendMonoMs, ttlSec) });
  }

  /**
   * etcd acknowledged a keepalive sent at sendMonoMs. Replies can overtake each other when two
   * keepalives overlap, so the deadline only ever moves forward for the same lease.
   */
  acknowledged(leaseId: string, ttlSec: number, sendMonoMs: number): void {
    if (this.current.leaseId !== leaseId) return;
    const validUntilMs = this.deadline(sendMonoMs, ttlSec);
    if (validUntilMs <= this.current.validUntilMs) return;
    this.set({ leaseId, grantedTtlSec: ttlSec, validUntilMs });
  }

  /** etcd said the lease is gone (keepalive TTL <= 0, or "lease not found"). */
  lost(leaseId: string): void {
    if (this.current.leaseId === leaseId) this.set(NO_LEASE);
  }

  subscribe(listener: LeaseListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The deadline a lease of ttlSec acknowledged for a request sent at sendMonoMs gives. */
  deadlineFor(sendMonoMs: number, ttlSec: number): number {
    return this.deadline(sendMonoMs, ttlSec);
  }

  private deadline(sendMonoMs: number, ttlSec: number): number {
    return sendMonoMs + ttlSec * 1000 - this.marginMs(ttlSec);
  }

  private set(next: LeaseState): void {
    this.current = Object.freeze(next);
    for (const l of this.listeners) {
      try {
        l(this.current);
      } catch {
        // A listener's failure must not break the lease bookkeeping of the others.
      }
    }
  }
}
