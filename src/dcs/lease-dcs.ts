// The Dcs semantics, written once over a KvBackend (real etcd or the in-memory fake): one lease
// per agent shared by its member key and the leader key, leader txns, CAS intents, snapshots.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { LeaderStatus, MemberStatus } from '../core/cluster.js';
import { LeaseNotFoundError, type Compare, type KvBackend, type Op } from './backend.js';
import { ClusterStore } from './cluster-store.js';
import { decodeStatus, encodeLeader, encodeStatus } from './codec-keys.js';
import { encodeMember } from './codec-member.js';
import { clusterPrefix, validateMemberName } from './keys.js';
import { LeaseKeeper } from './lease-keeper.js';
import { Leadership } from './leadership.js';
import { DcsError, type Dcs, type LeaseState } from './port.js';
import type { KvRecord } from './view.js';
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
  private readonly lead: Leadership;
  /** Last member value written, to skip identical puts (each put wakes every watcher). */
  private lastMember: { value: string; lease: string; atMs: number } | null = null;
  /** The status we last put as leader: the heartbeat puts it again (see leaderHeartbeat). */
  private lastStatus: LeaderStatus | null = null;

  constructor(opts: LeaseDcsOptions) {
    super(opts.backend, clusterPrefix(opts.namespace, opts.scope), opts.logger);
    validateMemberName(opts.name);
    const margin = opts.leaseMarginMs;
    if (margin !== undefined && (!(margin >= 0) || margin >= opts.ttlSec * 1000)) {
      throw new TypeError(`leaseMarginMs must be >= 0 and below the TTL (${opts.ttlSec} s), got ${margin}`);
    }
    this.name = opts.name;
    this.clock = opts.clock;
    this.keeper = new LeaseKeeper(opts.backend, opts.clock, opts.logger, opts.ttlSec,
      margin === undefined ? undefined : () => margin);
    this.lead = new Leadership(this.keeper, this.log, opts.reattachableLease);
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

  /** The lease as far as replicas can know it is alive (S2 across hosts; see Leadership.current()). */
  leadership(): LeaseState | null {
    return this.lead.current();
  }

  onLeadershipLost(listener: (cause: string) => void): () => void {
    return this.lead.onLost(listener);
  }

  async checkLeadership(signal?: AbortSignal): Promise<boolean> {
    const held = this.lead.lease;
    if (held === null) return false;
    const cur = (await this.txn([], [{ op: 'get', key: this.leaderKey }], [], signal)).gets[0] ?? null;
    if (cur !== null && cur.value === this.name && cur.lease === held) return true;
    // Only if nothing proved or ended it while we read.
    if (this.lead.lease === held) this.lead.end(cur === null ? 'leader key deleted' : `leader key now holds ${cur.value} under lease ${cur.lease ?? 'none'}`);
    return false;
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
      this.lead.sawVisible(sentMs);
      this.lead.prove(used);
      // A status from an earlier term of ours is not this term's to repeat (leaderHeartbeat).
      this.lastStatus = null;
      this.log.info({ revision: res.revision, leaseId: used }, 'leader key acquired');
      return true;
    }
    const holder = res.gets[0] ?? null;
    // Already ours under our lease (an earlier attempt landed although its answer was lost).
    if (holder !== null && holder.value === this.name && holder.lease === used) {
      this.lead.prove(used);
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
    // The member-key heartbeat goes before the keepalive, never after it (see leaderHeartbeat).
    await this.leaderHeartbeat(signal);
    const lease = await this.keeper.ensure(signal);
    const cur = (await this.txn([], [{ op: 'get', key: this.leaderKey }], [], signal)).gets[0] ?? null;
    if (cur === null || cur.value !== this.name) {
      this.log.warn({ holder: cur?.value ?? null }, 'leader key no longer ours');
      this.lead.end(cur === null ? 'leader key absent at renewal' : `leader key held by ${cur.value}`);
      return false;
    }
    if (cur.lease === lease) {
      this.lead.prove(lease);
      return true;
    }
    return this.reattachLeader(cur, signal);
  }

  /**
   * The heartbeat before the keepalive (see leadership()): a sign of life replicas see no later
   * than the keepalive's send. Our member key is put again under the lease (it shows we run), and
   * the `status` key, while the leader key names us, with the status we last put: only the status
   * put counts as visible, because it has no lease. A lease revoked early (`etcdctl lease revoke`,
   * a resumed stale etcd leader) erases every leased put at once, and a replica that missed the
   * last one would judge our deadline too early (the simulator's fault set 6, seed 8).
   */
  private async leaderHeartbeat(signal?: AbortSignal): Promise<void> {
    const held = this.lead.lease;
    const last = this.lastMember;
    if (held === null || this.keeper.state().leaseId !== held) return;
    const sentMs = this.clock.monoMs();
    // A failed heartbeat only means this renewal does not extend leadership (see leadership()):
    // the keepalive still runs, so etcd keeps our keys while the deadline holds. "lease not
    // found" is left to the keepalive to find out for the keeper.
    const quiet = (err: unknown): false => {
      if (!(err instanceof LeaseNotFoundError)) this.log.debug({ err: asError(err) }, 'leader heartbeat failed');
      return false;
    };
    if (last !== null && last.lease === held) {
      const beat = await this.txn([], [{ op: 'put', key: this.memberKey, value: last.value, lease: held }], [], signal).then(() => true, quiet);
      if (beat) this.lastMember = { ...last, atMs: sentMs };
    }
    const value = await this.ownStatus(signal).catch(quiet);
    if (value === false) return;
    const put = await this.txn(
      [{ key: this.leaderKey, target: 'value', equals: this.name }],
      [{ op: 'put', key: this.key({ kind: 'status' }), value }],
      [], signal,
    ).then((r) => r.succeeded, quiet);
    if (put) this.lead.sawVisible(sentMs);
  }

  private async statusText(signal?: AbortSignal): Promise<string | null> {
    return (await this.txn([], [{ op: 'get', key: this.key({ kind: 'status' }) }], [], signal)).gets[0]?.value ?? null;
  }

  /**
   * The status as it is, put by us: our last status put, or before it (a leader whose PostgreSQL
   * has not run yet) the key's value with our name in it (LeaderStatus.leader), no one's stopped mark.
   */
  private async ownStatus(signal?: AbortSignal, extra: { readonly pause?: true } = {}): Promise<string> {
    if (this.lastStatus !== null) return encodeStatus({ ...this.lastStatus, ...extra });
    const text = await this.statusText(signal);
    const cur = text === null ? null : decodeStatus(text);
    const { stopped: _stopped, ...rest } = cur?.ok === true ? cur.value : { optime: null };
    return encodeStatus({ ...rest, leader: this.name, ...extra });
  }

  async markStatusPaused(signal?: AbortSignal): Promise<boolean> {
    const value = await this.ownStatus(signal, { pause: true });
    const res = await this.txn(
      [{ key: this.leaderKey, target: 'value', equals: this.name }],
      [{ op: 'put', key: this.key({ kind: 'status' }), value }],
      [], signal,
    );
    return res.succeeded;
  }

  /**
   * The key names us under another lease (we restarted): move it onto ours, guarded by value and
   * mod_revision so a concurrent change wins. Only from the lease our previous run handed over.
   */
  private async reattachLeader(cur: KvRecord, signal?: AbortSignal): Promise<boolean> {
    this.lead.checkReattachable(cur.lease);
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
      this.lead.sawVisible(sentMs);
      this.lead.prove(used);
    }
    return res.succeeded;
  }

  async releaseLeader(signal?: AbortSignal, opts: { readonly lastLsn?: number } = {}): Promise<boolean> {
    this.lead.release();
    this.lastStatus = null;
    const status: Op[] = opts.lastLsn === undefined ? [] : [{ op: 'put', key: this.key({ kind: 'status' }), value: encodeStatus({ optime: opts.lastLsn, stopped: this.name }) }];
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
      // Not a visible write for leadership (see leaderHeartbeat): a revoked lease erases it.
      this.lastMember = { value, lease, atMs: now };
    });
  }

  async deleteMember(signal?: AbortSignal): Promise<void> {
    this.lastMember = null;
    await this.txn([], [{ op: 'delete', key: this.memberKey }], [], signal);
  }

  async setStatus(status: LeaderStatus, signal?: AbortSignal): Promise<void> {
    const sentMs = this.clock.monoMs();
    const own = { ...status, leader: this.name };
    await this.txn([], [{ op: 'put', key: this.key({ kind: 'status' }), value: encodeStatus(own) }], [], signal);
    this.lastStatus = own;
    this.lead.sawVisible(sentMs);
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
