// Builds the etcd3 client from the agent's config (endpoints, auth, TLS) with an explicit fault
// policy, and translates the library's errors into DcsError. Nothing else touches etcd3 options.
import { readFileSync } from 'node:fs';
import {
  circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError, noop, retry,
  type CircuitBreakerPolicy, type IBackoff,
} from 'cockatiel';
import {
  ClientClosedError, Etcd3, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError, EtcdPermissionDeniedError, GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCOutOfRangeError,
  GRPCUnauthenticatedError, isRecoverableError, type IOptions,
} from 'etcd3';
import type { Logger } from 'pino';
import type { Etcd3Config } from '../config/types.js';
import type { MemberClient } from './etcd-members.js';
import { DcsError } from './port.js';
import { errorMessage } from '../errors.js';

export interface EtcdTimeouts {
  /** Whole call, retries included: the caller gets an answer or a DcsError by then. */
  readonly callTimeoutMs: number;
  /** One gRPC attempt against one endpoint; retries move to another endpoint. */
  readonly attemptTimeoutMs: number;
}

/**
 * A tick makes a few sequential etcd calls (snapshot, touch member, renew, status) and stops at
 * the first failure, so half of retry_timeout per call keeps a failing tick inside
 * retry_timeout. Half of that per attempt leaves room to try a second endpoint. The floors
 * matter on a loaded host: the first call on a fresh gRPC channel (name resolution + connect)
 * was measured at ~450 ms on the 2-core test machine.
 */
export function timeoutsFor(retryTimeoutSec: number): EtcdTimeouts {
  const callTimeoutMs = Math.max(2000, Math.round((retryTimeoutSec * 1000) / 2));
  return { callTimeoutMs, attemptTimeoutMs: Math.round(callTimeoutMs / 2) };
}

/** gRPC keepalive: etcd rejects pings more often than every 5 s (--grpc-keepalive-min-time). */
export const GRPC_KEEPALIVE_TIME_MS = 6000;
export const GRPC_KEEPALIVE_TIMEOUT_MS = 3000;
/** A broken endpoint is skipped for this long before one call probes it again. */
export const HOST_HALF_OPEN_AFTER_MS = 1000;

/**
 * Errors that every endpoint returns while etcd itself changes leader (etcd re-arms leases
 * then): retried, but not held against the endpoint, or every breaker would open at once.
 */
export function isLeaderTransition(err: unknown): boolean {
  const msg = errorMessage(err);
  return /not a primary lessor|leader changed|no leader|request timed out/i.test(msg);
}

function hostUrl(protocol: string, host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${protocol}://${h}:${port}`;
}

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DcsError('invalid', `etcd3.${what}: cannot read ${path}: ${(err as Error).message}`, { cause: err, retryable: false });
  }
}

/** Skips an endpoint after one transport failure, so the next attempt goes to another one. */
function hostBreaker(endpoint: string, log: Logger | undefined): CircuitBreakerPolicy {
  const breaker = circuitBreaker(handleWhen((e) => isRecoverableError(e) && !isLeaderTransition(e)), {
    halfOpenAfter: HOST_HALF_OPEN_AFTER_MS,
    breaker: new ConsecutiveBreaker(1),
  });
  breaker.onBreak((reason) => log?.warn({ endpoint, err: 'error' in reason ? reason.error.message : 'bad result' }, 'etcd endpoint marked down'));
  breaker.onReset(() => log?.info({ endpoint }, 'etcd endpoint back'));
  return breaker;
}

function baseOptions(cfg: Etcd3Config, hosts: string[], timeouts: EtcdTimeouts): IOptions {
  const opts: IOptions = {
    hosts,
    // No dialTimeout: etcd3 1.x accepts the option but never reads it. Connecting is bounded by
    // the per-attempt deadline below instead.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeouts.attemptTimeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
      // Own subchannels per channel: a channel the pool resets reconnects at once instead of
      // inheriting a shared subchannel's backoff.
      'grpc.use_local_subchannel_pool': 1,
    },
  };
  if (cfg.username !== undefined) opts.auth = { username: cfg.username, password: cfg.password ?? '' };
  if (cfg.cacert !== undefined || cfg.cert !== undefined || cfg.key !== undefined) {
    if (cfg.cacert === undefined) {
      throw new DcsError('invalid', 'etcd3.cert/key need etcd3.cacert as well', { retryable: false });
    }
    opts.credentials = {
      rootCertificate: readPem('cacert', cfg.cacert),
      ...(cfg.key === undefined ? {} : { privateKey: readPem('key', cfg.key) }),
      ...(cfg.cert === undefined ? {} : { certChain: readPem('cert', cfg.cert) }),
    };
  }
  return opts;
}

function checkHosts(cfg: Etcd3Config): void {
  if (cfg.hosts.length === 0) throw new DcsError('invalid', 'etcd3.hosts is empty', { retryable: false });
}

/** The pooled client over every endpoint: used for watches only (etcd3's watch manager reconnects by itself). */
export function etcdClientOptions(cfg: Etcd3Config, timeouts: EtcdTimeouts, log?: Logger): IOptions {
  checkHosts(cfg);
  return {
    ...baseOptions(cfg, cfg.hosts.map((h) => hostUrl(cfg.protocol, h.host, h.port)), timeouts),
    faultHandling: {
      // With one endpoint there is nowhere else to go: a breaker would only turn one slow call
      // into a second of instant failures.
      host: (endpoint) => (cfg.hosts.length > 1 ? hostBreaker(endpoint, log) : noop),
      global: retry(handleWhen(isRecoverableError), {
        maxAttempts: 3,
        backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }),
      }),
      // etcd3 types this as IBackoff but uses it as a factory (calls next() to reset), as its own
      // default `new ExponentialBackoff()` shows. Capped: a watch retries at least every 2 s.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>,
    },
  };
}

export function createEtcdClient(cfg: Etcd3Config, timeouts: EtcdTimeouts, log?: Logger): Etcd3 {
  return new Etcd3(etcdClientOptions(cfg, timeouts, log));
}

/**
 * One client per member, with no retry or breaker of the library's own: EtcdBackend chooses the
 * member for each attempt (etcd-members.ts) and retries on the next one itself.
 */
export function createMemberClients(cfg: Etcd3Config, timeouts: EtcdTimeouts): MemberClient[] {
  checkHosts(cfg);
  return cfg.hosts.map((h) => ({
    endpoint: hostUrl('', h.host, h.port).replace(/^:\/\//, ''),
    client: new Etcd3({ ...baseOptions(cfg, [hostUrl(cfg.protocol, h.host, h.port)], timeouts), faultHandling: { host: () => noop, global: noop } }),
  }));
}

/** The member failed us (transport, deadline, leader change): retry elsewhere. Not an answer from etcd. */
export function isMemberFailure(err: unknown): boolean {
  if (err instanceof EtcdLeaseInvalidError) return false;
  if (err instanceof Error && err.name === 'LeaseNotFoundError') return false;
  return toDcsError(err, 'etcd').retryable;
}

/** Library error -> DcsError with a stable code. The message never includes credentials. */
export function toDcsError(err: unknown, what: string): DcsError {
  if (err instanceof DcsError) return err;
  const msg = errorMessage(err);
  const opts = { cause: err };
  if (err instanceof ClientClosedError) return new DcsError('closed', `${what}: client closed`, { ...opts, retryable: false });
  if (
    err instanceof EtcdAuthenticationFailedError || err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCUnauthenticatedError || err instanceof EtcdInvalidAuthTokenError
  ) {
    return new DcsError('auth', `${what}: ${msg}`, { ...opts, retryable: false });
  }
  if (err instanceof GRPCDeadlineExceededError) return new DcsError('deadline', `${what}: ${msg}`, opts);
  if (err instanceof GRPCInvalidArgumentError || err instanceof GRPCOutOfRangeError) {
    return new DcsError('invalid', `${what}: ${msg}`, { ...opts, retryable: false });
  }
  // Broken circuits, UNAVAILABLE, "not a primary lessor" (gRPC Unknown while etcd changes
  // leader) and anything unclassified from the transport: try again next tick.
  const detail = isBrokenCircuitError(err) ? 'every endpoint failed recently' : msg;
  return new DcsError('unavailable', `${what}: ${detail}`, opts);
}
