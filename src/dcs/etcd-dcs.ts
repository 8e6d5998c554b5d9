// The production Dcs: the shared Dcs logic (lease-dcs.ts) over etcd through the etcd3 package.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { createEtcdClient, createMemberClients, timeoutsFor, type EtcdTimeouts } from './etcd-client.js';
import { EtcdBackend } from './etcd-backend.js';
import { EtcdMembers, type EtcdMemberHealth } from './etcd-members.js';
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
  /** See LeaseDcsOptions.reattachableLease (the agent passes its hand-over record's lease). */
  readonly reattachableLease?: string | null;
}

/** The etcd Dcs, plus what it knows about each etcd member (for /patroni, /metrics, agentctl). */
export interface EtcdDcs extends Dcs {
  /** Per member: up, in use, version, errors, lease-safety warning. Cheap; no etcd call. */
  etcdMembers(): EtcdMemberHealth[];
  /** Asks every member for its status now (version, leader); waits at most one attempt deadline. */
  refreshEtcdMembers(): Promise<EtcdMemberHealth[]>;
}

export function createEtcdDcs(opts: EtcdDcsOptions): EtcdDcs {
  const timeouts = opts.timeouts ?? timeoutsFor(opts.retryTimeoutSec);
  const log = opts.logger.child({ component: 'dcs' });
  const clients = createMemberClients(opts.config.etcd3, timeouts);
  const watchClient = createEtcdClient(opts.config.etcd3, timeouts, log);
  const members = new EtcdMembers(clients, log);
  log.info({
    endpoints: opts.config.etcd3.hosts.map((h) => `${h.host}:${h.port}`),
    protocol: opts.config.etcd3.protocol,
    auth: opts.config.etcd3.username !== undefined,
    ttlSec: opts.ttlSec,
    callTimeoutMs: timeouts.callTimeoutMs,
    attemptTimeoutMs: timeouts.attemptTimeoutMs,
  }, 'etcd client created');
  members.start();
  const dcs = createLeaseDcs({
    backend: new EtcdBackend({ members, clients, watchClient, timeouts, log }),
    namespace: opts.config.namespace,
    scope: opts.config.scope,
    name: opts.config.name,
    ttlSec: opts.ttlSec,
    clock: opts.clock,
    logger: log,
    ...(opts.leaseMarginMs === undefined ? {} : { leaseMarginMs: opts.leaseMarginMs }),
    ...(opts.reattachableLease === undefined ? {} : { reattachableLease: opts.reattachableLease }),
  });
  return Object.assign(dcs, {
    etcdMembers: () => members.health(),
    refreshEtcdMembers: () => members.refresh(),
  });
}
