// The etcd the core needs, in memory: revisions, leases that expire on the fake monotonic clock,
// and the Patroni keys (leader, members, initialize, config, failover, history, status).
import type { DynamicConfig } from '../../../src/config/types.js';
import type {
  ClusterView,
  FailoverRequest,
  HistoryEntry,
  LeaderStatus,
  LeaderView,
  MemberStatus,
  MemberView,
  Versioned,
} from '../../../src/core/cluster.js';

interface Lease {
  expiresAtMs: number;
}

export class FakeEtcd {
  revision = 1;
  private nextLease = 1;
  private readonly leases = new Map<string, Lease>();
  leader: LeaderView | null = null;
  readonly members = new Map<string, MemberView>();
  initialize: Versioned<string> | null = null;
  config: Versioned<DynamicConfig> | null = null;
  failover: Versioned<FailoverRequest> | null = null;
  history: Versioned<readonly HistoryEntry[]> | null = null;
  status: LeaderStatus | null = null;
  statusModRevision = 0;
  private cached: ClusterView | null = null;

  constructor(private readonly ttlMs: number) {}

  private bump(): number {
    this.cached = null;
    return ++this.revision;
  }

  leaseAlive(id: string | null, nowMs: number): boolean {
    if (id === null) return false;
    const l = this.leases.get(id);
    return l !== undefined && l.expiresAtMs > nowMs;
  }

  grant(nowMs: number): string {
    const id = String(this.nextLease++);
    this.leases.set(id, { expiresAtMs: nowMs + this.ttlMs });
    return id;
  }

  keepalive(id: string, nowMs: number): boolean {
    const l = this.leases.get(id);
    if (!l || l.expiresAtMs <= nowMs) return false;
    l.expiresAtMs = nowMs + this.ttlMs;
    return true;
  }

  rearmLeases(expiresAtMs: number): void {
    for (const l of this.leases.values()) l.expiresAtMs = Math.max(l.expiresAtMs, expiresAtMs);
  }

  /** Drop expired leases and every key attached to them. */
  expire(nowMs: number): void {
    for (const [id, l] of this.leases) {
      if (l.expiresAtMs > nowMs) continue;
      this.leases.delete(id);
      if (this.leader?.leaseId === id) {
        this.leader = null;
        this.bump();
      }
      for (const [name, m] of this.members) {
        if (m.leaseId === id) {
          this.members.delete(name);
          this.bump();
        }
      }
    }
  }

  acquire(name: string, leaseId: string, nowMs: number): boolean {
    if (this.leader !== null || !this.leaseAlive(leaseId, nowMs)) return false;
    const rev = this.bump();
    this.leader = { name, createRevision: rev, modRevision: rev, leaseId };
    return true;
  }

  /** The key must still name us; a re-granted lease is re-attached with a compare on the value. */
  renew(name: string, leaseId: string, nowMs: number): boolean {
    if (!this.keepalive(leaseId, nowMs)) return false;
    if (this.leader?.name !== name) return false;
    if (this.leader.leaseId !== leaseId) {
      this.leader = { ...this.leader, modRevision: this.bump(), leaseId };
    }
    return true;
  }

  release(name: string): boolean {
    if (this.leader?.name !== name) return false;
    this.leader = null;
    this.bump();
    return true;
  }

  putMember(status: MemberStatus, leaseId: string): void {
    this.members.set(status.name, { ...status, leaseId, modRevision: this.bump() });
  }

  createInitialize(value: string): boolean {
    if (this.initialize !== null) return false;
    this.initialize = { value, modRevision: this.bump() };
    return true;
  }

  deleteInitialize(): void {
    if (this.initialize === null) return;
    this.initialize = null;
    this.bump();
  }

  setConfig(value: DynamicConfig): void {
    this.config = { value, modRevision: this.bump() };
  }

  setFailover(value: FailoverRequest): void {
    this.failover = { value, modRevision: this.bump() };
  }

  deleteFailover(modRevision: number): boolean {
    if (this.failover?.modRevision !== modRevision) return false;
    this.failover = null;
    this.bump();
    return true;
  }

  appendHistory(entry: HistoryEntry): void {
    this.history = { value: [...(this.history?.value ?? []), entry], modRevision: this.bump() };
  }

  setStatus(status: LeaderStatus): void {
    this.status = status;
    this.statusModRevision = this.bump();
  }

  snapshot(): ClusterView {
    if (this.cached) return this.cached;
    this.cached = {
      revision: this.revision,
      initialize: this.initialize?.value ?? null,
      config: this.config,
      leader: this.leader,
      members: [...this.members.values()],
      failover: this.failover,
      sync: null,
      history: this.history,
      status: this.status,
      ...(this.status ? { statusModRevision: this.statusModRevision } : {}),
      invalid: [],
    };
    return this.cached;
  }
}
