// One node's connection to the fake etcd store (test/support/fakes/fake-store.ts, contract-tested against real
// etcd) on virtual time: a request reaches etcd after a delay and is applied there (even if the
// agent freezes meanwhile), the reply reaches the agent after another delay, so the send time of a
// keepalive is never its acknowledgement time. A cut node's calls and lost replies fail at the
// client's call deadline, as the etcd3 client's do. Abort signals are not honoured: the only ones
// the loop passes are real-time deadlines, and a crash drops the whole agent instead.
import type { Compare, KvBackend, Op, RangeResult, TxnResult, WatchHint } from '../../../src/dcs/backend.js';
import { timeoutsFor } from '../../../src/dcs/etcd-client.js';
import { DcsError } from '../../../src/dcs/port.js';
import type { SimNode, WorldState } from './model.js';
import type { Owner } from './vtime.js';

interface Link {
  readonly requestMs: number;
  readonly replyMs: number;
  readonly lost: boolean;
}

function link(w: WorldState, n: SimNode): Link {
  if (n.faults.etcdLossyUntilMs !== null) {
    return { requestMs: w.rng.int(1, 700), replyMs: w.rng.int(1, 800), lost: w.rng.chance(0.3) };
  }
  return { requestMs: w.rng.int(1, 4), replyMs: w.rng.int(1, 4), lost: false };
}

export class SimBackend implements KvBackend {
  private readonly deadlineMs: number;

  constructor(
    private readonly w: WorldState,
    private readonly node: SimNode,
    private readonly agent: Owner,
    private readonly inner: KvBackend,
  ) {
    this.deadlineMs = timeoutsFor(w.bootstrapDcs.retry_timeout).callTimeoutMs;
  }

  private reachable(): boolean {
    const f = this.node.faults;
    return f.etcdCutUntilMs === null && f.isolatedUntilMs === null;
  }

  private call<T>(what: string, op: () => Promise<T>): Promise<T> {
    const { w, agent } = this;
    const l = link(w, this.node);
    const timeout = (): never => {
      throw new DcsError('deadline', `${what}: deadline exceeded (${this.deadlineMs} ms)`);
    };
    if (!this.reachable()) return agent.deliver(this.deadlineMs, timeout);
    return new Promise<T>((resolve, reject) => {
      w.world.after(l.requestMs, () => {
        // The cut may have begun while the request was on its way.
        const result: Promise<{ ok: true; v: T } | { ok: false; e: unknown }> = this.reachable()
          ? op().then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }))
          : Promise.resolve({ ok: false as const, e: null });
        void result.then((r) => {
          if (l.lost || (!r.ok && r.e === null)) {
            agent.after(Math.max(0, this.deadlineMs - l.requestMs), () => reject(new DcsError('deadline', `${what}: deadline exceeded (${this.deadlineMs} ms)`)));
            return;
          }
          agent.after(l.replyMs, () => (r.ok ? resolve(r.v) : reject(r.e)));
        });
      });
    });
  }

  range(prefix: string): Promise<RangeResult> {
    return this.call('range', () => this.inner.range(prefix, { serializable: false }));
  }

  txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[]): Promise<TxnResult> {
    return this.call('txn', () => this.inner.txn(compares, success, failure));
  }

  leaseGrant(ttlSec: number): Promise<{ readonly id: string; readonly ttlSec: number }> {
    return this.call('lease grant', () => this.inner.leaseGrant(ttlSec));
  }

  leaseKeepAlive(id: string): Promise<{ readonly ttlSec: number }> {
    return this.call('lease keepalive', () => this.inner.leaseKeepAlive(id));
  }

  leaseRevoke(id: string): Promise<void> {
    return this.call('lease revoke', () => this.inner.leaseRevoke(id));
  }

  /** The store's watch (partition-aware: a healed node gets a resync hint), delivered on the agent's time. */
  async *watch(prefix: string, signal: AbortSignal): AsyncIterable<WatchHint> {
    for await (const hint of this.inner.watch(prefix, signal)) {
      await this.agent.deliver(this.w.rng.int(1, 4), () => undefined);
      yield hint;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
