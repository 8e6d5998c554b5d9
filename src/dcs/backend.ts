// The narrow KV/lease/watch surface the Dcs logic needs from etcd. Two implementations: the etcd3
// adapter (etcd-backend.ts) and the in-memory fake store (test/support/fakes/fake-store.ts). The
// Dcs semantics (leases, leader txns, CAS writes, codecs) live once, in lease-dcs.ts, on top of this.
import type { KvRecord } from './view.js';
import { AgentError } from '../errors.js';

/** Full keys (with the cluster prefix) go in and come out of a backend. */
export type Compare =
  | { readonly key: string; readonly target: 'create'; readonly equals: number }
  | { readonly key: string; readonly target: 'mod'; readonly equals: number }
  | { readonly key: string; readonly target: 'value'; readonly equals: string }
  | { readonly key: string; readonly target: 'lease'; readonly equals: string }
  /** Every key under the prefix `key` was created before revision `before` (true when none exists). */
  | { readonly key: string; readonly target: 'prefixCreatedBefore'; readonly before: number };

export type Op =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: 'delete'; readonly key: string; readonly prefix?: boolean }
  | { readonly op: 'get'; readonly key: string };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** For each `get` op of the branch that ran, the record (null when absent). */
  readonly gets: readonly (KvRecord | null)[];
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly KvRecord[];
}

export interface WatchHint {
  readonly revision: number;
  /** Full keys that changed; empty on a resync hint. */
  readonly keys: readonly string[];
  /** Events may have been missed (compaction, reconnect, partition healed): re-read everything. */
  readonly resync: boolean;
}

/** A put referenced a lease etcd no longer has (expired or revoked). */
export class LeaseNotFoundError extends AgentError<'lease-not-found'> {
  constructor(readonly leaseId: string) {
    super('lease-not-found', `lease ${leaseId} not found`, { retryable: true });
  }
}

export interface KvBackend {
  range(prefix: string, opts: { readonly serializable: boolean; readonly signal?: AbortSignal | undefined }): Promise<RangeResult>;
  /** Throws LeaseNotFoundError when a put names a dead lease. */
  txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[], signal?: AbortSignal): Promise<TxnResult>;
  leaseGrant(ttlSec: number, signal?: AbortSignal): Promise<{ readonly id: string; readonly ttlSec: number }>;
  /** ttlSec <= 0 means etcd no longer knows the lease. */
  leaseKeepAlive(id: string, signal?: AbortSignal): Promise<{ readonly ttlSec: number }>;
  leaseRevoke(id: string, signal?: AbortSignal): Promise<void>;
  /** Coalescing wake-up hints for changes under prefix; ends when signal aborts. */
  watch(prefix: string, signal: AbortSignal): AsyncIterable<WatchHint>;
  close(): Promise<void>;
}
