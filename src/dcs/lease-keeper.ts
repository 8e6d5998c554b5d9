// The agent's one lease: granted on first use, kept alive by explicit keepalives (never by a
// background stream), re-granted when etcd says it is gone. The deadline bookkeeping is in
// LeaseTracker; this class only talks to the backend.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { LeaseNotFoundError, type KvBackend } from './backend.js';
import { LeaseTracker, type LeaseListener } from './lease-tracker.js';
import type { LeaseState } from './port.js';

export function checkTtl(ttlSec: number): void {
  if (!Number.isInteger(ttlSec) || ttlSec < 2) throw new TypeError(`ttl must be an integer >= 2 seconds, got ${ttlSec}`);
}

export class LeaseKeeper {
  private readonly tracker: LeaseTracker;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly backend: KvBackend,
    private readonly clock: Clock,
    private readonly log: Logger,
    private ttlSec: number,
    marginMs: ((ttlSec: number) => number) | undefined,
  ) {
    checkTtl(ttlSec);
    this.tracker = new LeaseTracker(marginMs);
  }

  get ttl(): number {
    return this.ttlSec;
  }

  /** Takes effect at the next grant; the current lease keeps the TTL etcd granted it. */
  setTtl(ttlSec: number): void {
    checkTtl(ttlSec);
    this.ttlSec = ttlSec;
  }

  state(): LeaseState {
    return this.tracker.state();
  }

  /** The deadline counted from a request sent at sendMonoMs, with the current lease's TTL and margin. */
  deadlineFrom(sendMonoMs: number): number {
    const s = this.tracker.state();
    return s.leaseId === null ? -Infinity : this.tracker.deadlineFor(sendMonoMs, s.grantedTtlSec);
  }

  subscribe(listener: LeaseListener): () => void {
    return this.tracker.subscribe(listener);
  }

  /** Serialised, so concurrent callers never grant two leases. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Keepalive the current lease (grant one if there is none); returns its id. */
  ensure(signal?: AbortSignal): Promise<string> {
    return this.withLock(async () => {
      const id = this.tracker.state().leaseId;
      if (id === null) return this.grant(signal);
      const sendMs = this.clock.monoMs();
      const { ttlSec } = await this.backend.leaseKeepAlive(id, signal);
      if (ttlSec > 0) {
        this.tracker.acknowledged(id, ttlSec, sendMs);
        return id;
      }
      this.gone(id, 'keepalive');
      return this.grant(signal);
    });
  }

  /** Runs fn under a live lease; if etcd says that lease is gone, re-grants once and retries. */
  async with<T>(signal: AbortSignal | undefined, fn: (lease: string) => Promise<T>): Promise<T> {
    const lease = await this.ensure(signal);
    try {
      return await fn(lease);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      this.gone(err.leaseId, 'put');
      return fn(await this.ensure(signal));
    }
  }

  private async grant(signal?: AbortSignal): Promise<string> {
    const sendMs = this.clock.monoMs();
    const { id, ttlSec } = await this.backend.leaseGrant(this.ttlSec, signal);
    this.tracker.granted(id, ttlSec, sendMs);
    this.log.info({ leaseId: id, ttlSec }, 'lease granted');
    return id;
  }

  private gone(id: string, via: string): void {
    this.log.warn({ leaseId: id, via }, 'lease expired in etcd');
    this.tracker.lost(id);
  }
}
