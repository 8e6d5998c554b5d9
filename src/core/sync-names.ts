// synchronous_standby_names as Patroni writes it, and the choice of synchronous standbys
// (Patroni's _ReplicaList / SyncHandler.current_state), as pure functions.
import type { DynamicConfig } from '../config/types.js';
import type { Lsn, MemberView } from './cluster.js';
import type { PgRunning } from './local-pg.js';

/**
 * Patroni's strict-mode value when no standby can be named: it matches no member, so commits
 * wait. '*' would let any walsender (a nosync member, a pg_basebackup) acknowledge them.
 */
export const STRICT_PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__';

const PLAIN_NAME = /^[A-Za-z_][A-Za-z_0-9$]*$/;

/** Patroni's quote_standby_name: plain identifiers as they are, anything else double-quoted. */
export function quoteStandbyName(name: string): string {
  const lower = name.toLowerCase();
  if (PLAIN_NAME.test(name) && lower !== 'first' && lower !== 'any') return name;
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Patroni's set_synchronous_standby_names for priority mode: one name as it is, several as
 * `n (a,b)` with n = all of them (PostgreSQL reads `n (...)` as FIRST n), sorted by name; an
 * empty set is '' (asynchronous) or, when commits must wait anyway (strict), the placeholder.
 */
export function renderSyncStandbyNames(names: readonly string[], strict: boolean): string {
  if (names.length === 0) return strict ? STRICT_PLACEHOLDER : '';
  const quoted = [...names].sort().map(quoteStandbyName);
  return quoted.length === 1 ? (quoted[0] ?? '') : `${quoted.length} (${quoted.join(',')})`;
}

/** A replica the primary streams to, seen through pg_stat_replication and its member key. */
export interface SyncCandidate {
  readonly name: string;
  /** pg_stat_replication.flush_lsn: what a commit waits for with synchronous_commit on. */
  readonly lsn: Lsn;
  readonly syncState: string;
  readonly priority: number;
  readonly nofailover: boolean;
}

/**
 * Streaming replicas that may become synchronous: a member key says running and not nosync
 * (nostream members never stream), pg_stat_replication shows a flush position. Ordered as
 * Patroni does: higher sync_priority, then the current sync state, then more WAL; members
 * tagged nofailover last (they could never take over).
 */
export function syncCandidates(local: PgRunning, members: readonly MemberView[], self: string, synchronousCommit?: unknown): SyncCandidate[] {
  const byName = new Map(members.filter((m) => m.name !== self && m.state === 'running' && m.tags.nosync !== true && m.tags.nostream !== true).map((m) => [m.name, m]));
  const column = lsnColumn(synchronousCommit);
  const out: SyncCandidate[] = [];
  for (const row of local.replication) {
    const m = byName.get(row.applicationName);
    const lsn = row[column];
    if (!m || lsn === null || row.state !== 'streaming') continue;
    if (out.some((c) => c.name === m.name)) continue;
    out.push({ name: m.name, lsn, syncState: row.syncState, priority: m.tags.sync_priority ?? 1, nofailover: m.tags.nofailover === true });
  }
  out.sort((a, b) => b.priority - a.priority || cmpDesc(a.syncState, b.syncState) || b.lsn - a.lsn);
  // Stable: keeps the order above within each group.
  return [...out.filter((c) => !c.nofailover), ...out.filter((c) => c.nofailover)];
}

/**
 * The position a commit waits for, as Patroni reads synchronous_commit: replay for remote_apply,
 * write for remote_write, flush otherwise. A standby that lags on that one holds commits up.
 */
function lsnColumn(synchronousCommit: unknown): 'replayLsn' | 'writeLsn' | 'flushLsn' {
  const v = typeof synchronousCommit === 'string' ? synchronousCommit.toLowerCase() : '';
  return v === 'remote_apply' ? 'replayLsn' : v === 'remote_write' ? 'writeLsn' : 'flushLsn';
}

function cmpDesc(a: string, b: string): number {
  return a === b ? 0 : a < b ? 1 : -1;
}

/**
 * The standbys the leader wants synchronous: up to synchronous_node_count candidates, skipping
 * those more than maximum_lag_on_syncnode behind the most advanced replica (the primary's own
 * flush position when there is only one), as Patroni's current_state() does.
 */
export function pickSyncStandbys(candidates: readonly SyncCandidate[], local: PgRunning, config: DynamicConfig): string[] {
  const maxLag = config.maximum_lag_on_syncnode;
  const ownLsn = local.flushLsn ?? local.currentLsn ?? 0;
  const maxLsn = candidates.length > 1 ? Math.max(...candidates.map((c) => c.lsn)) : ownLsn;
  const picked: string[] = [];
  for (const c of candidates) {
    if (picked.length >= Math.max(1, config.synchronous_node_count)) break;
    if (maxLag > 0 && maxLsn - c.lsn > maxLag) continue;
    picked.push(c.name);
  }
  return picked;
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function listNames(names: readonly string[]): string {
  return names.length === 0 ? 'none' : [...names].sort().join(', ');
}
