// synchronous_standby_names read back and written in quorum mode (`ANY k (a,b,c)`), and the
// standbys eligible to be named, as Patroni's parse_sync_standby_names and current_state() do.
import type { DynamicConfig } from '../config/types.js';
import type { MemberView } from './cluster.js';
import type { PgRunning } from './local-pg.js';
import { STRICT_PLACEHOLDER, quoteStandbyName, syncCandidates, type SyncCandidate } from './sync-names.js';

export interface ParsedSsn {
  /** off: empty; priority: FIRST n (or a bare list, FIRST 1); quorum: ANY n. */
  readonly type: 'off' | 'priority' | 'quorum';
  readonly num: number;
  readonly members: readonly string[];
  readonly hasStar: boolean;
}

const OFF: ParsedSsn = { type: 'off', num: 0, members: [], hasStar: false };
const WITH_NUM = /^\s*(?:(FIRST|ANY)\s+)?(\d+)\s*\(([\s\S]*)\)\s*$/i;

/** The names of a standby list, unquoted ("a""b" is a"b), in the order written. */
function splitNames(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i] ?? '';
    if (quoted) {
      if (ch === '"' && list[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur.trim());
  return out.filter((n) => n !== '');
}

export function parseSyncStandbyNames(value: string): ParsedSsn {
  if (value.trim() === '') return OFF;
  const m = WITH_NUM.exec(value);
  const members = splitNames(m ? (m[3] ?? '') : value);
  const hasStar = members.includes('*');
  if (!m) return { type: 'priority', num: 1, members, hasStar };
  const type = (m[1] ?? '').toUpperCase() === 'ANY' ? 'quorum' : 'priority';
  return { type, num: Number(m[2]), members, hasStar };
}

/**
 * Patroni's set_synchronous_standby_names in quorum mode: `ANY num (sorted names)`, even for one
 * name; no names but num >= 1 (strict) names the placeholder that matches nobody, so commits
 * wait; no names and num 0 is '' (asynchronous).
 */
export function renderAny(names: Iterable<string>, num: number): string {
  const list = [...names].sort();
  if (list.length === 0) return num >= 1 ? `ANY ${num} (${STRICT_PLACEHOLDER})` : '';
  return `ANY ${num} (${list.map(quoteStandbyName).join(',')})`;
}

/**
 * Every streaming standby that may be named in quorum mode (not only synchronous_node_count of
 * them: the quorum spans them all), skipping those more than maximum_lag_on_syncnode behind;
 * a nofailover member only while fewer than synchronous_node_count others are (it could hold
 * the only copy of a commit yet never take over, which costs availability).
 */
export function quorumActive(local: PgRunning, members: readonly MemberView[], self: string, config: DynamicConfig): SyncCandidate[] {
  const candidates = syncCandidates(local, members, self, config.postgresql.parameters['synchronous_commit']);
  const maxLag = config.maximum_lag_on_syncnode;
  const ownLsn = local.flushLsn ?? local.currentLsn ?? 0;
  const maxLsn = candidates.length > 1 ? Math.max(...candidates.map((c) => c.lsn)) : ownLsn;
  const active: SyncCandidate[] = [];
  for (const c of candidates) {
    if (maxLag > 0 && maxLsn - c.lsn > maxLag) continue;
    if (c.nofailover && active.length >= Math.max(1, config.synchronous_node_count)) continue;
    active.push(c);
  }
  return active;
}
