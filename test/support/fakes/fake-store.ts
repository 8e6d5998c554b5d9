// An in-memory etcd for unit tests and the deterministic simulator: revisions, create/mod
// revisions, leases that expire on a FakeClock, txns with compares, prefix watches, and per-node
// partitions. Everything is synchronous underneath; promises resolve without real timers.
import type { Compare, KvBackend, Op, RangeResult, TxnResult, WatchHint } from '../../../src/dcs/backend.js';
import { LeaseNotFoundError } from '../../../src/dcs/backend.js';
import type { FakeClock } from './fake-clock.js';
import { DcsError } from '../../../src/dcs/port.js';
import type { KvRecord } from '../../../src/dcs/view.js';

interface StoredKv {
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string;
}

interface FakeLease {
  readonly ttlSec: number;
  expiresAtMs: number;
}

interface FakeWatcher {
  readonly node: string;
  readonly prefix: string;
  pending: WatchHint | null;
  missed: boolean;
  wake: (() => void) | null;
}

export class FakeEtcdStore {
  private rev = 1;
  private nextLease = 0x694d_0000;
  private readonly kvs = new Map<string, StoredKv>();
  private readonly leases = new Map<string, FakeLease>();
  private readonly watchers = new Set<FakeWatcher>();
  private readonly cut = new Set<string>();
  private down = false;

  constructor(readonly clock: FakeClock) {
    clock.onAdvance(() => this.expireLeases());
  }

  get revision(): number {
    return this.rev;
  }

  /** Cut a node off (calls throw DcsError('unavailable'), keepalives stop) or heal it. */
  partition(node: string, isCut: boolean): void {
    if (isCut) {
      this.cut.add(node);
      return;
    }
    this.cut.delete(node);
    for (const w of this.watchers) {
      if (w.node === node && w.missed) {
        w.missed = false;
        this.push(w, { revision: this.rev, keys: [], resync: true });
      }
    }
  }

  /**
   * All of etcd unavailable (quorum lost): every call fails and no lease expires (no raft leader
   * to expire it). On return every lease is re-armed with its full TTL, as a new etcd leader does,
   * and every watch re-reads.
   */
  outage(isDown: boolean): void {
    if (this.down === isDown) return;
    this.down = isDown;
    if (isDown) return;
    for (const l of this.leases.values()) l.expiresAtMs = Math.max(l.expiresAtMs, this.clock.monoMs() + l.ttlSec * 1000);
    for (const w of this.watchers) if (!this.cut.has(w.node)) this.push(w, { revision: this.rev, keys: [], resync: true });
  }

  isPartitioned(node: string): boolean {
    return this.cut.has(node);
  }

  /** The KvBackend seen by one simulated node. */
  backendFor(node: string): KvBackend {
    return new FakeBackend(this, node);
  }

  /** Test access: every key with its metadata, sorted. */
  dump(prefix = ''): KvRecord[] {
    this.expireLeases();
    return [...this.kvs.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, kv]) => ({ key, ...kv }));
  }

  /** Test access: how long a lease has left, or null when it is gone. */
  leaseRemainingMs(id: string): number | null {
    this.expireLeases();
    const l = this.leases.get(id);
    return l ? l.expiresAtMs - this.clock.monoMs() : null;
  }

  // ---- operations (called by FakeBackend after the partition check) --------------------------

  check(node: string, signal?: AbortSignal): void {
    if (signal?.aborted) throw new DcsError('deadline', 'call aborted', { cause: signal.reason });
    this.expireLeases();
    if (this.down) throw new DcsError('unavailable', 'etcd has no quorum');
    if (this.cut.has(node)) throw new DcsError('unavailable', `etcd unreachable from ${node} (partitioned)`);
  }

  range(prefix: string): RangeResult {
    return { revision: this.rev, kvs: this.dump(prefix) };
  }

  txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[]): TxnResult {
    const succeeded = compares.every((c) => this.compare(c));
    const ops = succeeded ? success : failure;
    for (const op of ops) {
      if (op.op === 'put' && op.lease !== undefined && op.lease !== '0' && !this.leases.has(op.lease)) {
        throw new LeaseNotFoundError(op.lease);
      }
    }
    const changed: string[] = [];
    const gets: (KvRecord | null)[] = [];
    const next = this.rev + 1;
    for (const op of ops) {
      if (op.op === 'get') {
        const kv = this.kvs.get(op.key);
        gets.push(kv ? { key: op.key, ...kv } : null);
      } else if (op.op === 'put') {
        const old = this.kvs.get(op.key);
        this.kvs.set(op.key, { value: op.value, createRevision: old?.createRevision ?? next, modRevision: next, lease: op.lease ?? '0' });
        changed.push(op.key);
      } else {
        const keys = op.prefix ? [...this.kvs.keys()].filter((k) => k.startsWith(op.key)) : [op.key];
        for (const k of keys) if (this.kvs.delete(k)) changed.push(k);
      }
    }
    this.commit(changed);
    return { succeeded, revision: this.rev, gets };
  }

  grant(ttlSec: number): { id: string; ttlSec: number } {
    const id = String(++this.nextLease);
    this.leases.set(id, { ttlSec, expiresAtMs: this.clock.monoMs() + ttlSec * 1000 });
    return { id, ttlSec };
  }

  keepAlive(id: string): { ttlSec: number } {
    const l = this.leases.get(id);
    if (!l) return { ttlSec: 0 };
    l.expiresAtMs = this.clock.monoMs() + l.ttlSec * 1000;
    return { ttlSec: l.ttlSec };
  }

  /** Revoke a lease and delete its keys in one revision (also used by expiry). */
  revoke(id: string): void {
    if (!this.leases.delete(id)) return;
    const changed: string[] = [];
    for (const [k, kv] of this.kvs) {
      if (kv.lease === id) {
        this.kvs.delete(k);
        changed.push(k);
      }
    }
    this.commit(changed);
  }

  /** Like the etcd watch, a new watcher first says "re-read" (once the node can reach etcd). */
  addWatcher(node: string, prefix: string): FakeWatcher {
    const cut = this.cut.has(node);
    const w: FakeWatcher = {
      node, prefix, missed: cut, wake: null,
      pending: cut ? null : { revision: this.rev, keys: [], resync: true },
    };
    this.watchers.add(w);
    return w;
  }

  removeWatcher(w: FakeWatcher): void {
    this.watchers.delete(w);
    w.wake?.();
  }

  // ---- internals -----------------------------------------------------------------------------

  private expireLeases(): void {
    if (this.down) return;
    const now = this.clock.monoMs();
    for (const [id, l] of [...this.leases]) if (l.expiresAtMs <= now) this.revoke(id);
  }

  private compare(c: Compare): boolean {
    const kv = this.kvs.get(c.key);
    switch (c.target) {
      case 'create': return (kv?.createRevision ?? 0) === c.equals;
      case 'mod': return (kv?.modRevision ?? 0) === c.equals;
      case 'value': return kv !== undefined && kv.value === c.equals;
      case 'lease': return (kv?.lease ?? '0') === c.equals;
      case 'prefixCreatedBefore':
        return [...this.kvs].every(([k, v]) => !k.startsWith(c.key) || v.createRevision < c.before);
    }
  }

  private commit(changed: readonly string[]): void {
    if (changed.length === 0) return;
    this.rev += 1;
    for (const w of this.watchers) {
      const keys = changed.filter((k) => k.startsWith(w.prefix));
      if (keys.length === 0) continue;
      if (this.cut.has(w.node)) w.missed = true;
      else this.push(w, { revision: this.rev, keys, resync: false });
    }
  }

  private push(w: FakeWatcher, hint: WatchHint): void {
    const p = w.pending;
    w.pending = p === null ? hint : {
      revision: Math.max(p.revision, hint.revision),
      keys: [...new Set([...p.keys, ...hint.keys])],
      resync: p.resync || hint.resync,
    };
    const wake = w.wake;
    w.wake = null;
    wake?.();
  }
}

class FakeBackend implements KvBackend {
  private closed = false;
  private readonly active = new Set<FakeWatcher>();
  constructor(private readonly store: FakeEtcdStore, private readonly node: string) {}

  private check(signal?: AbortSignal): void {
    if (this.closed) throw new DcsError('closed', 'the dcs client is closed', { retryable: false });
    this.store.check(this.node, signal);
  }

  async range(prefix: string, opts: { signal?: AbortSignal | undefined }): Promise<RangeResult> {
    this.check(opts.signal);
    return this.store.range(prefix);
  }

  async txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[], signal?: AbortSignal): Promise<TxnResult> {
    this.check(signal);
    return this.store.txn(compares, success, failure);
  }

  async leaseGrant(ttlSec: number, signal?: AbortSignal): Promise<{ id: string; ttlSec: number }> {
    this.check(signal);
    return this.store.grant(ttlSec);
  }

  async leaseKeepAlive(id: string, signal?: AbortSignal): Promise<{ ttlSec: number }> {
    this.check(signal);
    return this.store.keepAlive(id);
  }

  async leaseRevoke(id: string, signal?: AbortSignal): Promise<void> {
    this.check(signal);
    this.store.revoke(id);
  }

  async *watch(prefix: string, signal: AbortSignal): AsyncIterable<WatchHint> {
    if (this.closed) return;
    const w = this.store.addWatcher(this.node, prefix);
    this.active.add(w);
    const onAbort = (): void => this.store.removeWatcher(w);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted && !this.closed) {
        if (w.pending === null) await new Promise<void>((resolve) => { w.wake = resolve; });
        const hint = w.pending;
        w.pending = null;
        if (hint !== null && !signal.aborted) yield hint;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.active.delete(w);
      this.store.removeWatcher(w);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.active) this.store.removeWatcher(w);
  }
}
