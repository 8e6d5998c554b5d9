// The cluster's keys over a KvBackend, apart from leadership: reads (snapshot, watch), the
// compare-and-set intents (initialize, config, failover, sync) and the history append. LeaseDcs
// (lease-dcs.ts) adds the lease, the leader key and the member key on top.
import type { Logger } from 'pino';
import type { DynamicConfig } from '../config/types.js';
import type { ClusterView, FailoverRequest, HistoryEntry, SyncState } from '../core/cluster.js';
import type { Compare, KvBackend, Op, TxnResult } from './backend.js';
import { encodeConfig } from './codec-config.js';
import { decodeHistory, encodeFailover, encodeHistory, encodeInitialize, encodeSync } from './codec-keys.js';
import { relativeKey, type ClusterKey } from './keys.js';
import { DcsError, type DcsChangeHint, type SnapshotOptions } from './port.js';
import { buildClusterView } from './view.js';

const HISTORY_CAS_ATTEMPTS = 5;

export abstract class ClusterStore {
  protected closed = false;
  private readonly loggedInvalid = new Set<string>();

  constructor(protected readonly backend: KvBackend, protected readonly prefix: string, protected readonly log: Logger) {}

  protected key(k: ClusterKey): string {
    return this.prefix + relativeKey(k);
  }

  async initialize(systemId: string, signal?: AbortSignal): Promise<boolean> {
    // '' is Patroni's bootstrap claim: the winner of the race writes the identifier afterwards.
    if (!/^\d*$/.test(systemId)) {
      throw new DcsError('invalid', `initialize needs the system identifier as decimal digits, got ${JSON.stringify(systemId)}`, { retryable: false });
    }
    const key = this.key({ kind: 'initialize' });
    const value = encodeInitialize(systemId);
    const res = await this.txn([{ key, target: 'create', equals: 0 }], [{ op: 'put', key, value }], [], signal);
    return res.succeeded;
  }

  async deleteInitialize(signal?: AbortSignal): Promise<void> {
    await this.txn([], [{ op: 'delete', key: this.key({ kind: 'initialize' }) }], [], signal);
  }

  setConfig(config: DynamicConfig, expected: number | null, signal?: AbortSignal): Promise<boolean> {
    return this.cas({ kind: 'config' }, encodeConfig(config), expected, signal);
  }

  setFailover(req: FailoverRequest, expected: number | null, signal?: AbortSignal): Promise<boolean> {
    return this.cas({ kind: 'failover' }, encodeFailover(req), expected, signal);
  }

  deleteFailover(expected: number | null, signal?: AbortSignal): Promise<boolean> {
    return this.cas({ kind: 'failover' }, null, expected, signal);
  }

  setSync(sync: SyncState, expected: number | null, signal?: AbortSignal): Promise<boolean> {
    return this.cas({ kind: 'sync' }, encodeSync(sync), expected, signal);
  }

  deleteSync(expected: number | null, signal?: AbortSignal): Promise<boolean> {
    return this.cas({ kind: 'sync' }, null, expected, signal);
  }

  /** expected null: unconditional; 0: the key must not exist; n: its mod_revision must be n. */
  private async cas(k: ClusterKey, value: string | null, expected: number | null, signal?: AbortSignal): Promise<boolean> {
    const key = this.key(k);
    const compares: Compare[] = expected === null ? [] : [{ key, target: 'mod', equals: expected }];
    const op: Op = value === null ? { op: 'delete', key } : { op: 'put', key, value };
    return (await this.txn(compares, [op], [], signal)).succeeded;
  }

  async appendHistory(entry: HistoryEntry, signal?: AbortSignal): Promise<void> {
    const key = this.key({ kind: 'history' });
    for (let attempt = 0; attempt < HISTORY_CAS_ATTEMPTS; attempt++) {
      const cur = (await this.txn([], [{ op: 'get', key }], [], signal)).gets[0] ?? null;
      const decoded = cur === null ? null : decodeHistory(cur.value);
      if (decoded && !decoded.ok) this.log.warn({ key, reason: decoded.reason }, 'history key invalid, rewriting it');
      const entries = (decoded?.ok ? decoded.value : []).filter((e) => e.timeline !== entry.timeline);
      entries.push(entry);
      entries.sort((a, b) => a.timeline - b.timeline);
      const res = await this.txn(
        [{ key, target: 'mod', equals: cur?.modRevision ?? 0 }],
        [{ op: 'put', key, value: encodeHistory(entries) }],
        [],
        signal,
      );
      if (res.succeeded) return;
    }
    throw new DcsError('unavailable', `history changed concurrently ${HISTORY_CAS_ATTEMPTS} times`, { retryable: true });
  }

  async snapshot(opts?: SnapshotOptions): Promise<ClusterView> {
    this.checkOpen();
    const res = await this.backend.range(this.prefix, { serializable: opts?.stale === true, signal: opts?.signal });
    const records = res.kvs.map((kv) => ({ ...kv, key: kv.key.slice(this.prefix.length) }));
    const view = buildClusterView(res.revision, records);
    for (const bad of view.invalid) {
      const id = `${bad.key}@${bad.modRevision ?? 0}`;
      if (this.loggedInvalid.has(id)) continue;
      this.loggedInvalid.add(id);
      const what = bad.refusedKey !== undefined ? 'refused configuration key in etcd ignored; the rest of the configuration applies'
        : bad.unknownKeys !== undefined ? 'unknown configuration keys in etcd kept and ignored'
          : 'invalid value in etcd ignored';
      this.log.warn({ key: this.prefix + bad.key, reason: bad.reason, modRevision: bad.modRevision }, what);
    }
    return view;
  }

  async *changes(signal: AbortSignal): AsyncIterable<DcsChangeHint> {
    this.checkOpen();
    for await (const hint of this.backend.watch(this.prefix, signal)) {
      const keys = hint.keys.map((k) => k.slice(this.prefix.length));
      yield hint.resync ? { revision: hint.revision, keys, resync: true } : { revision: hint.revision, keys };
    }
  }

  protected txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[], signal?: AbortSignal): Promise<TxnResult> {
    this.checkOpen();
    return this.backend.txn(compares, success, failure, signal);
  }

  protected checkOpen(): void {
    if (this.closed) throw new DcsError('closed', 'the dcs client is closed', { retryable: false });
  }
}
