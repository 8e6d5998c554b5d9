// The in-memory Dcs for unit tests and the simulator: the same Dcs logic as production
// (lease-dcs.ts) over the FakeEtcdStore. Several fake Dcs (one per simulated node) share a store.
import { pino, type Logger } from 'pino';
import type { FakeClock } from './fake-clock.js';
import { FakeEtcdStore } from './fake-store.js';
import { createLeaseDcs } from '../../../src/dcs/lease-dcs.js';
import type { Dcs } from '../../../src/dcs/port.js';

export interface FakeDcsOptions {
  readonly scope: string;
  readonly name: string;
  readonly ttlSec: number;
  readonly clock: FakeClock;
  /** Shared by every simulated node; a private one is made when absent. */
  readonly store?: FakeEtcdStore;
  /** Default '/service/' (Patroni's). */
  readonly namespace?: string;
  readonly logger?: Logger;
  readonly leaseMarginMs?: number;
  /** See LeaseDcsOptions.reattachableLease. */
  readonly reattachableLease?: string | null;
}

export interface FakeDcs extends Dcs {
  readonly store: FakeEtcdStore;
}

export function createFakeDcs(opts: FakeDcsOptions): FakeDcs {
  const store = opts.store ?? new FakeEtcdStore(opts.clock);
  if (store.clock !== opts.clock) throw new TypeError('createFakeDcs: the store was made with another FakeClock');
  const dcs = createLeaseDcs({
    backend: store.backendFor(opts.name),
    namespace: opts.namespace ?? '/service/',
    scope: opts.scope,
    name: opts.name,
    ttlSec: opts.ttlSec,
    clock: opts.clock,
    // Tests that do not care about the log get a disabled one (not a root logger of the app).
    logger: opts.logger ?? pino({ enabled: false }),
    ...(opts.leaseMarginMs === undefined ? {} : { leaseMarginMs: opts.leaseMarginMs }),
    ...(opts.reattachableLease === undefined ? {} : { reattachableLease: opts.reattachableLease }),
  });
  return Object.assign(dcs, { store });
}
