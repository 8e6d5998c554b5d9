// KvBackend over the etcd3 package's raw KV, Lease and Watch clients (no Lease object, no
// Election): every call gets a deadline and comes back as a value or a DcsError.
import {
  castGrpcError, EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCUnavailableError, Range,
  type Etcd3, type ICompare, type IKeyValue, type IRequestOp,
} from 'etcd3';
import type { Logger } from 'pino';
import type { Compare, KvBackend, Op, RangeResult, TxnResult, WatchHint } from './backend.js';
import { LeaseNotFoundError } from './backend.js';
import { isMemberFailure, toDcsError, type EtcdTimeouts } from './etcd-client.js';
import type { EtcdMembers, MemberClient } from './etcd-members.js';
import { watchPrefix } from './etcd-watch.js';
import { DcsError } from './port.js';
import type { KvRecord } from './view.js';
import { asError } from '../errors.js';

function record(kv: IKeyValue): KvRecord {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    lease: String(kv.lease || '0'),
  };
}

function toCompare(c: Compare): ICompare {
  const key = Buffer.from(c.key);
  switch (c.target) {
    case 'create': return { key, target: 'Create', result: 'Equal', create_revision: c.equals };
    case 'mod': return { key, target: 'Mod', result: 'Equal', mod_revision: c.equals };
    case 'value': return { key, target: 'Value', result: 'Equal', value: Buffer.from(c.equals) };
    case 'lease': return { key, target: 'Lease', result: 'Equal', lease: c.equals };
    case 'prefixCreatedBefore':
      return { key, range_end: Buffer.from(Range.prefix(c.key).end), target: 'Create', result: 'Less', create_revision: c.before };
  }
}

function toRequest(op: Op): IRequestOp {
  const key = Buffer.from(op.key);
  switch (op.op) {
    case 'put':
      return { request_put: { key, value: Buffer.from(op.value), ...(op.lease === undefined ? {} : { lease: op.lease }) } };
    case 'delete':
      return { request_delete_range: op.prefix ? { key, range_end: Range.prefix(op.key).end } : { key } };
    case 'get':
      return { request_range: { key } };
  }
}

/** Attempts per call, each on the next member in EtcdMembers.order(); the call deadline caps them too. */
const MAX_ATTEMPTS = 3;

export interface EtcdBackendDeps {
  readonly members: EtcdMembers;
  readonly clients: readonly MemberClient[];
  /** The pooled client over every endpoint that carries the watch. */
  readonly watchClient: Etcd3;
  readonly timeouts: EtcdTimeouts;
  readonly log: Logger;
}

export class EtcdBackend implements KvBackend {
  private closed = false;
  private readonly closing = new AbortController();
  private readonly members: EtcdMembers;
  private readonly timeouts: EtcdTimeouts;
  private readonly log: Logger;

  constructor(private readonly deps: EtcdBackendDeps) {
    this.members = deps.members;
    this.timeouts = deps.timeouts;
    this.log = deps.log;
  }

  /** Races the call against its deadline and the caller's signal; translates errors. */
  private call<T>(what: string, signal: AbortSignal | undefined, fn: (c: Etcd3) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DcsError('closed', `${what}: the dcs client is closed`, { retryable: false }));
    const ms = this.timeouts.callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      const timer = setTimeout(() => finish(() => reject(new DcsError('deadline', `${what}: no answer from etcd within ${ms} ms`))), ms);
      const onAbort = (): void => finish(() => reject(new DcsError('deadline', `${what}: aborted`, { cause: signal?.reason })));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.attempts(what, fn, () => done).then(
        (v) => finish(() => resolve(v)),
        (e: unknown) => finish(() => reject(e instanceof LeaseNotFoundError ? e : toDcsError(e, what))),
      );
    });
  }

  /** One attempt per member, in the order EtcdMembers gives: the one in use first. */
  private async attempts<T>(what: string, fn: (c: Etcd3) => Promise<T>, gaveUp: () => boolean): Promise<T> {
    const order = this.members.order();
    let lastErr: unknown = new DcsError('unavailable', `${what}: no etcd member tried`);
    for (let i = 0; i < MAX_ATTEMPTS && !this.closed && !gaveUp(); i++) {
      const m = order[i % order.length]!;
      try {
        const v = await this.attempt(m, fn);
        this.members.succeeded(m);
        return v;
      } catch (err) {
        if (!isMemberFailure(err)) throw err;
        lastErr = err;
        if (!this.closed && !gaveUp()) this.members.failed(m, err);
        this.log.debug({ endpoint: m.endpoint, what, attempt: i + 1, err: asError(err) }, 'etcd attempt failed');
        // Another member next: no pause. The same member again (one endpoint): a short one.
        if (order.length === 1) await new Promise((r) => setTimeout(r, 50 * (i + 1)));
      }
    }
    throw lastErr;
  }

  /**
   * gRPC enforces the attempt deadline (and the etcd3 client one more on a first authentication,
   * which comes before the call); the backstop only guards against a call that never settles.
   */
  private attempt<T>(m: MemberClient, fn: (c: Etcd3) => Promise<T>): Promise<T> {
    const ms = 2 * this.timeouts.attemptTimeoutMs + 250;
    return new Promise<T>((resolve, reject) => {
      const backstop = setTimeout(() => reject(new GRPCDeadlineExceededError(`no answer from ${m.endpoint} within ${ms} ms`)), ms);
      fn(m.client).then(
        (v) => { clearTimeout(backstop); resolve(v); },
        (e: unknown) => { clearTimeout(backstop); reject(e); },
      );
    });
  }

  range(prefix: string, opts: { serializable: boolean; signal?: AbortSignal | undefined }): Promise<RangeResult> {
    return this.call('range', opts.signal, async (c) => {
      const r = Range.prefix(prefix);
      const res = await c.kv.range({ key: r.start, range_end: r.end, serializable: opts.serializable });
      return { revision: Number(res.header.revision), kvs: res.kvs.map(record) };
    });
  }

  txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[], signal?: AbortSignal): Promise<TxnResult> {
    return this.call('txn', signal, async (c) => {
      let res;
      try {
        res = await c.kv.txn({
          compare: compares.map(toCompare),
          success: success.map(toRequest),
          failure: failure.map(toRequest),
        });
      } catch (err) {
        const lease = [...success, ...failure].find((o) => o.op === 'put' && o.lease !== undefined);
        if (err instanceof EtcdLeaseInvalidError && lease?.op === 'put') throw new LeaseNotFoundError(lease.lease ?? '0');
        throw err;
      }
      const ops = res.succeeded ? success : failure;
      const gets = ops.flatMap((op, i) => {
        if (op.op !== 'get') return [];
        const kv = res.responses[i]?.response_range?.kvs[0];
        return [kv ? record(kv) : null];
      });
      return { succeeded: res.succeeded, revision: Number(res.header.revision), gets };
    });
  }

  leaseGrant(ttlSec: number, signal?: AbortSignal): Promise<{ id: string; ttlSec: number }> {
    return this.call('lease grant', signal, async (c) => {
      const res = await c.leaseClient.leaseGrant({ TTL: ttlSec, ID: 0 });
      if (res.error) throw new GRPCUnavailableError(`lease grant refused: ${res.error}`);
      return { id: String(res.ID), ttlSec: Number(res.TTL) };
    });
  }

  leaseKeepAlive(id: string, signal?: AbortSignal): Promise<{ ttlSec: number }> {
    return this.call('lease keepalive', signal, async (c) => ({ ttlSec: await this.keepAliveOnce(c, id) }));
  }

  /**
   * One keepalive on a short-lived stream: write the id, take the first answer, end the stream.
   * The etcd3 Lease object's own stream (and its `lost` event) is not used on purpose.
   */
  private async keepAliveOnce(client: Etcd3, id: string): Promise<number> {
    const ms = this.timeouts.attemptTimeoutMs;
    const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + ms });
    return new Promise<number>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(backstop);
        // end() before anything else: a stream that is no longer writable is not reported to
        // etcd3's fault handling, so our own cleanup never counts as a member failure.
        stream.end();
        f();
      };
      const backstop = setTimeout(() => finish(() => {
        stream.cancel();
        reject(new GRPCDeadlineExceededError('keepalive attempt timed out'));
      }), ms + 200);
      stream.on('data', (res) => finish(() => resolve(Number(res.TTL))));
      stream.on('error', (err) => finish(() => reject(castGrpcError(err))));
      stream.on('end', () => finish(() => reject(new GRPCUnavailableError('keepalive stream ended without an answer'))));
      stream.write({ ID: id });
    });
  }

  leaseRevoke(id: string, signal?: AbortSignal): Promise<void> {
    return this.call('lease revoke', signal, async (c) => {
      try {
        await c.leaseClient.leaseRevoke({ ID: id });
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError)) throw err;
      }
    });
  }

  watch(prefix: string, signal: AbortSignal): AsyncIterable<WatchHint> {
    return watchPrefix(this.deps.watchClient, prefix, AbortSignal.any([signal, this.closing.signal]), this.log);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Watches detach first, so etcd3's watch manager has nothing left to reconnect.
    this.closing.abort();
    this.members.close();
    this.deps.watchClient.close();
    for (const m of this.deps.clients) m.client.close();
  }
}
