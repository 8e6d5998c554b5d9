// The Dcs semantics, written once over a KvBackend (real etcd or the in-memory fake): one lease
// per agent shared by its member key and the leader key, leader txns, CAS intents, snapshots.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { LeaderStatus, MemberStatus } from '../core/cluster.js';
import { LeaseNotFoundError, type Compare, type KvBackend, type Op } from './backend.js';
import { ClusterStore } from './cluster-store.js';
import { encodeLeader, encodeStatus } from './codec-keys.js';
import { encodeMember } from './codec-member.js';
import { clusterPrefix, validateMemberName } from './keys.js';
import { LeaseKeeper } from './lease-keeper.js';
import { DcsError, type Dcs, type LeaseState } from './port.js';
import { asError } from '../errors.js';

export interface LeaseDcsOptions {
  readonly backend: KvBackend;
  readonly namespace: string;
  readonly scope: string;
  readonly name: string;
  readonly ttlSec: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Fixed safety margin; default max(1 s, 10 % of the TTL). */
  readonly leaseMarginMs?: number;
  /**
   * The one foreign lease a leader key naming this node may be re-attached from: the lease the
   * previous agent run on this data dir proved the key under (its fence guard's hand-over record).
   * null: none (the key is never re-attached; it expires with its lease). Undefined: any lease
   * (tests and tools that do not model restarts).
   */
  readonly reattachableLease?: string | null;
}

export function createLeaseDcs(opts: LeaseDcsOptions): Dcs {
  return new LeaseDcs(opts);
}

class LeaseDcs extends ClusterStore implements Dcs {
  private readonly name: string;
  private readonly clock: Clock;
  private readonly keeper: LeaseKeeper;
  /** Last member value written, to skip identical puts (each put wakes every watcher). */
  private lastMember: { value: string; lease: string; atMs: number } | null = null;
  /** The lease id under which the leader key was last proven ours; null when not leading. */
  private heldUnder: string | null = null;
  private readonly lostListeners = new Set<(cause: string) => void>();
  private readonly reattachable: string | null | undefined;
  /**
   * Send time of our last write that replicas count as a sign of life of the leader (the leader
   * key's create, heartbeat or re-attach, the status key, our member key). See leadership().
   */
  private visibleSendMs = -Infinity;

  constructor(opts: LeaseDcsOptions) {
    super(opts.backend, clusterPrefix(opts.namespace, opts.scope), opts.logger);
    validateMemberName(opts.name);
    const margin = opts.leaseMarginMs;
    if (margin !== undefined && (!(margin >= 0) || margin >= opts.ttlSec * 1000)) {
      throw new TypeError(`leaseMarginMs must be >= 0 and below the TTL (${opts.ttlSec} s), got ${margin}`);
    }
    this.name = opts.name;
    this.clock = opts.clock;
    this.reattachable = opts.reattachableLease;
    this.keeper = new LeaseKeeper(opts.backend, opts.clock, opts.logger, opts.ttlSec,
      margin === undefined ? undefined : () => margin);
    // etcd said the lease is gone (keepalive TTL <= 0, "lease not found" on a put): if the key
    // hung on it, leadership ended now, not at the next tick (S1, revoked or early-expired lease).
    this.keeper.subscribe((state) => {
      if (this.heldUnder !== null && state.leaseId !== this.heldUnder) this.endLeadership(`lease ${this.heldUnder} is gone in etcd`);
    });
  }

  private get leaderKey(): string {
    return this.key({ kind: 'leader' });
  }

  private get memberKey(): string {
    return this.key({ kind: 'member', name: this.name });
  }

  // ---- lease ---------------------------------------------------------------------------------

  lease(): LeaseState {
    return this.keeper.state();
  }

  onLeaseDeadline(listener: (state: LeaseState) => void): () => void {
    return this.keeper.subscribe(listener);
  }

  setTtl(ttlSec: number): void {
    this.keeper.setTtl(ttlSec);
  }

  /**
   * S2 across hosts: a replica that finds the leader key gone judges the former leader's deadline
   * from when it last saw one of that leader's keys change (src/core/former-leader.ts). A keepalive
   * that no visible write follows (a renewal during a promotion, a member touch with nothing new)
   * would move our deadline past what any replica can know. So leadership counts the lease only up
   * to the last visible write's send time + TTL - margin: a keepalive alone never extends it.
   */
  leadership(): LeaseState | null {
    const state = this.keeper.state();
    if (this.heldUnder === null || state.leaseId !== this.heldUnder) return null;
    const visible = this.keeper.deadlineFrom(this.visibleSendMs);
    return visible < state.validUntilMs ? { ...state, validUntilMs: visible } : state;
  }

  private sawVisible(sendMs: number): void {
    if (sendMs > this.visibleSendMs) this.visibleSendMs = sendMs;
  }

  onLeadershipLost(listener: (cause: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  async checkLeadership(signal?: AbortSignal): Promise<boolean> {
    const held = this.heldUnder;
    if (held === null) return false;
    const cur = (await this.txn([], [{ op: 'get', key: this.leaderKey }], [], signal)).gets[0] ?? null;
    if (cur !== null && cur.value === this.name && cur.lease === held) return true;
    // Only if nothing proved or ended it while we read.
    if (this.heldUnder === held) this.endLeadership(cur === null ? 'leader key deleted' : `leader key now holds ${cur.value} under lease ${cur.lease ?? 'none'}`);
    return false;
  }

  private proveLeadership(leaseId: string): void {
    if (this.heldUnder !== leaseId) this.log.info({ leaseId }, 'leadership proven under lease');
    this.heldUnder = leaseId;
  }

  private endLeadership(cause: string): void {
    if (this.heldUnder === null) return;
    this.heldUnder = null;
    this.log.warn({ cause }, 'leadership lost');
    for (const l of this.lostListeners) {
      try {
        l(cause);
      } catch {
        // One listener's failure must not keep the others from fencing.
      }
    }
  }

  // ---- leader --------------------------------------------------------------------------------

  async acquireLeader(signal?: AbortSignal, opts: { readonly statusRev?: number; readonly viewRevision?: number; readonly historyRev?: number } = {}): Promise<boolean> {
    this.checkOpen();
    let used = '';
    let sentMs = 0;
    const statusKey = this.key({ kind: 'status' });
    const compares: Compare[] = [{ key: this.leaderKey, target: 'create', equals: 0 }];
    if (opts.statusRev !== undefined) compares.push({ key: statusKey, target: 'mod', equals: opts.statusRev });
    if (opts.historyRev !== undefined) compares.push({ key: this.key({ kind: 'history' }), target: 'mod', equals: opts.historyRev });
    if (opts.viewRevision !== undefined) compares.push({ key: this.key({ kind: 'member', name: '' }), target: 'prefixCreatedBefore', before: opts.viewRevision + 1 });
    const res = await this.keeper.with(signal, (lease) => {
      used = lease;
      sentMs = this.clock.monoMs();
      return this.txn(
        compares,
        [{ op: 'put', key: this.leaderKey, value: encodeLeader(this.name), lease }],
        [{ op: 'get', key: this.leaderKey }, { op: 'get', key: statusKey }],
        signal,
      );
    });
    if (res.succeeded) {
      this.sawVisible(sentMs);
      this.proveLeadership(used);
      this.log.info({ revision: res.revision, leaseId: used }, 'leader key acquired');
      return true;
    }
    const holder = res.gets[0] ?? null;
    // Already ours under our lease (an earlier attempt landed although its answer was lost).
    if (holder !== null && holder.value === this.name && holder.lease === used) {
      this.proveLeadership(used);
      return true;
    }
    if (holder === null && (opts.statusRev !== undefined || opts.viewRevision !== undefined || opts.historyRev !== undefined)) {
      this.log.info({ statusRevSeen: opts.statusRev ?? null, statusRevNow: res.gets[1]?.modRevision ?? 0, viewRevision: opts.viewRevision ?? null, historyRevSeen: opts.historyRev ?? null },
        'leader key not taken: the cluster changed since the view this decision rests on (a leader\'s status, a promotion\'s history entry, or a member registered)');
      return false;
    }
    this.log.info({ holder: holder?.value ?? null }, 'leader race lost');
    return false;
  }

  async renewLeader(signal?: AbortSignal): Promise<boolean> {
    this.checkOpen();
    // The heartbeat before the keepalive (see leadership()): our member key put again under the
    // lease the leader key is proven under, so replicas see a sign of life no later than the
    // keepalive's send. The member key, not the leader key: replicas' loops do not wake on it.
    const held = this.heldUnder;
    const last = this.lastMember;
    if (held !== null && last !== null && last.lease === held && this.keeper.state().leaseId === held) {
      const sentMs = this.clock.monoMs();
      // A failed heartbeat only means this renewal does not extend leadership (see leadership()):
      // the keepalive still runs, so etcd keeps our keys while the deadline holds. "lease not
      // found" is left to the keepalive to find out for the keeper.
      const beat = await this.txn([], [{ op: 'put', key: this.memberKey, value: last.value, lease: held }], [], signal).then(
        () => true,
        (err: unknown) => {
          if (!(err instanceof LeaseNotFoundError)) this.log.debug({ err: asError(err) }, 'leader heartbeat failed');
          return false;
        },
      );
      if (beat) {
        this.sawVisible(sentMs);
        this.lastMember = { ...last, atMs: sentMs };
      }
    }
    const lease = await this.keeper.ensure(signal);
    const cur = (await this.txn([], [{ op: 'get', key: this.leaderKey }], [], signal)).gets[0] ?? null;
    if (cur === null || cur.value !== this.name) {
      this.log.warn({ holder: cur?.value ?? null }, 'leader key no longer ours');
      this.endLeadership(cur === null ? 'leader key absent at renewal' : `leader key held by ${cur.value}`);
      return false;
    }
    if (cur.lease === lease) {
      this.proveLeadership(lease);
      return true;
    }
    // The key names us under another lease (we restarted): move it onto ours, guarded by value and
    // mod_revision so a concurrent change wins. Only from the lease our previous run handed over:
    // that proves the key is ours, not a stranger's, a restored backup's or an operator's put.
    if (this.reattachable !== undefined && (cur.lease === undefined || cur.lease === null || cur.lease !== this.reattachable)) {
      throw new DcsError('invalid', `the leader key names this node under lease ${cur.lease ?? 'none'}, which this run cannot prove was its own`
        + ` (handed-over lease: ${this.reattachable ?? 'none'}); not re-attaching it: it ends with its lease`, { retryable: false });
    }
    let used = '';
    let sentMs = 0;
    const res = await this.keeper.with(signal, (l) => {
      used = l;
      sentMs = this.clock.monoMs();
      return this.txn(
        [{ key: this.leaderKey, target: 'value', equals: this.name }, { key: this.leaderKey, target: 'mod', equals: cur.modRevision }],
        [{ op: 'put', key: this.leaderKey, value: encodeLeader(this.name), lease: l }],
        [],
        signal,
      );
    });
    this.log.info({ fromLeaseId: cur.lease, toLeaseId: used, succeeded: res.succeeded }, 'leader key re-attached');
    if (res.succeeded) {
      this.sawVisible(sentMs);
      this.proveLeadership(used);
    }
    return res.succeeded;
  }

  async releaseLeader(signal?: AbortSignal, opts: { readonly lastLsn?: number } = {}): Promise<boolean> {
    // A voluntary release is not a loss: no listener fires for our own delete.
    this.heldUnder = null;
    const status: Op[] = opts.lastLsn === undefined ? [] : [{ op: 'put', key: this.key({ kind: 'status' }), value: encodeStatus({ optime: opts.lastLsn }) }];
    const res = await this.txn(
      [{ key: this.leaderKey, target: 'value', equals: this.name }],
      [{ op: 'delete', key: this.leaderKey }, ...status],
      [],
      signal,
    );
    this.log.info({ released: res.succeeded, lastLsn: opts.lastLsn ?? null }, 'leader key release');
    return res.succeeded;
  }

  // ---- member --------------------------------------------------------------------------------

  async touchMember(status: MemberStatus, signal?: AbortSignal): Promise<void> {
    if (status.name !== this.name) {
      throw new DcsError('invalid', `touchMember got status for "${status.name}", this agent is "${this.name}"`, { retryable: false });
    }
    this.checkOpen();
    const value = encodeMember(status);
    await this.keeper.with(signal, async (lease) => {
      const now = this.clock.monoMs();
      const last = this.lastMember;
      // Re-put an unchanged value at most once per TTL, to repair an external delete.
      if (last && last.value === value && last.lease === lease && now - last.atMs < this.keeper.ttl * 1000) return;
      await this.txn([], [{ op: 'put', key: this.memberKey, value, lease }], [], signal);
      this.sawVisible(now);
      this.lastMember = { value, lease, atMs: now };
    });
  }

  async deleteMember(signal?: AbortSignal): Promise<void> {
    this.lastMember = null;
    await this.txn([], [{ op: 'delete', key: this.memberKey }], [], signal);
  }

  async setStatus(status: LeaderStatus, signal?: AbortSignal): Promise<void> {
    const sentMs = this.clock.monoMs();
    await this.txn([], [{ op: 'put', key: this.key({ kind: 'status' }), value: encodeStatus(status) }], [], signal);
    this.sawVisible(sentMs);
  }

  async removeCluster(signal?: AbortSignal): Promise<void> {
    this.lastMember = null;
    await this.txn([], [{ op: 'delete', key: this.prefix, prefix: true }], [], signal);
    this.log.warn({ prefix: this.prefix }, 'cluster keys removed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The lease is not revoked: revoking would drop the leader key while PostgreSQL may still
    // run as primary. Releasing leadership is the loop's decision (releaseLeader).
    await this.backend.close();
  }

}
