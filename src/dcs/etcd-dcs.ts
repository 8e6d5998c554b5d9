// The production Dcs: the shared Dcs logic (lease-dcs.ts) over etcd through the etcd3 package.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { createEtcdClient, timeoutsFor, type EtcdTimeouts } from './etcd-client.js';
import { EtcdBackend } from './etcd-backend.js';
import { createLeaseDcs } from './lease-dcs.js';
import type { Dcs } from './port.js';

export interface EtcdDcsOptions {
  /** Uses etcd3.*, namespace, scope and name. */
  readonly config: Pick<Config, 'etcd3' | 'namespace' | 'scope' | 'name'>;
  /** Lease TTL: `ttl` from the dynamic config (bootstrap.dcs until the config key exists). */
  readonly ttlSec: number;
  /** Sizes the per-call deadlines so one tick's etcd work fits in retry_timeout. */
  readonly retryTimeoutSec: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Fixed lease safety margin; default max(1 s, 10 % of the TTL). */
  readonly leaseMarginMs?: number;
  /** Override the deadlines derived from retryTimeoutSec (tests). */
  readonly timeouts?: EtcdTimeouts;
}

export function createEtcdDcs(opts: EtcdDcsOptions): Dcs {
  const timeouts = opts.timeouts ?? timeoutsFor(opts.retryTimeoutSec);
  const log = opts.logger.child({ component: 'dcs' });
  const client = createEtcdClient(opts.config.etcd3, timeouts, log);
  log.info({
    endpoints: opts.config.etcd3.hosts.map((h) => `${h.host}:${h.port}`),
    protocol: opts.config.etcd3.protocol,
    auth: opts.config.etcd3.username !== undefined,
    ttlSec: opts.ttlSec,
    callTimeoutMs: timeouts.callTimeoutMs,
    attemptTimeoutMs: timeouts.attemptTimeoutMs,
  }, 'etcd client created');
  return createLeaseDcs({
    backend: new EtcdBackend(client, timeouts, log),
    namespace: opts.config.namespace,
    scope: opts.config.scope,
    name: opts.config.name,
    ttlSec: opts.ttlSec,
    clock: opts.clock,
    logger: log,
    ...(opts.leaseMarginMs === undefined ? {} : { leaseMarginMs: opts.leaseMarginMs }),
  });
}
