// Who may take the leader key (S2), and who is the best candidate (SPEC 5.4).
import type { HistoryEntry, Lsn } from './cluster.js';
import type { Action, DecideInput, PeerProbe } from './decide-types.js';
import { walPosition } from './local-pg.js';
import { quorumVotes } from './quorum.js';
import { syncAllows } from './sync.js';
import { timelineCatchUp, type CatchUp, type TimelineFile } from './timeline-catchup.js';

/** `catchUp`: the history files to write before pg_promote and the newest timeline they make known. */
export type Verdict =
  | { readonly ok: true; readonly detail: string; readonly catchUp?: { readonly newest: number; readonly files: readonly TimelineFile[] } }
  | { readonly ok: false; readonly reason: string };

const yes = (detail: string): Verdict => ({ ok: true, detail });
const no = (reason: string): Verdict => ({ ok: false, reason });

/** S2 (b), (c), (e) and the synchronous rule, for this node. */
export function selfEligibility(input: DecideInput): Verdict {
  const { local, self, config } = input;
  if (input.fenced) return no('postgresql is fenced');
  if (local.kind !== 'running') return no(`postgresql is ${local.kind}`);
  if (self.tags.nofailover === true) return no('tagged nofailover');
  if (!syncAllows(input, self.name)) return no(`synchronous mode: not listed in the sync key (${syncKeyText(input)})`);
  const mine = walPosition(local);
  if (mine === null) return no('own wal position unknown');
  const tl = timelineVerdict(input, local.timeline, mine, local.inRecovery);
  if (!tl.ok) return no(tl.reason);
  const optime = input.cluster?.status?.optime ?? null;
  if (optime !== null && local.inRecovery && optime - mine > config.maximum_lag_on_failover) {
    return no(`lagging ${optime - mine} bytes behind the last leader optime ${optime} (maximum_lag_on_failover ${config.maximum_lag_on_failover})`);
  }
  if (tl.files.length === 0) return yes(`wal position ${mine}`);
  return { ok: true, detail: `wal position ${mine}, a prefix of the cluster's timeline ${tl.newest} (history files ${tl.files.map((f) => f.timeline).join(',')} written before promoting)`, catchUp: tl };
}

/**
 * S4: promoting a member on timeline T creates T+1. When the history key shows T was already
 * promoted from, that timeline number exists on another branch; a replica of that branch would
 * later stream the new one as if it were its own (PostgreSQL compares timeline numbers only).
 * Patroni calls this check_timeline; here it is always on. A primary on T has written on its own
 * branch and never qualifies; a replica whose WAL is a prefix of the newer timelines qualifies
 * with the history files that make PostgreSQL pick a fresh number (timeline-catchup.ts).
 */
function timelineVerdict(input: DecideInput, timeline: number, position: Lsn, inRecovery: boolean): CatchUp {
  const entries = (input.cluster?.history?.value ?? []).filter((h) => !unrealized(input, h));
  const entry = entries.find((h) => h.timeline >= timeline);
  if (!entry) return { ok: true, newest: timeline, files: [] };
  if (!inRecovery) {
    return { ok: false, reason: `timeline ${timeline} is behind the cluster's: ${entry.newLeader ?? 'another member'} already promoted from timeline ${entry.timeline} at ${entry.switchLsn}` };
  }
  return timelineCatchUp(entries, timeline, position);
}

/**
 * A history entry whose new leader is still on the timeline it would have left (this node, or a
 * member whose running PostgreSQL says so): that promotion never completed (the entry is written
 * before promoting). A member whose PostgreSQL is not running reports the timeline of its last
 * observation, which a promotion that completed just before a fence or crash has not updated: its
 * entry stands.
 */
function unrealized(input: DecideInput, h: HistoryEntry): boolean {
  if (h.newLeader === undefined) return false;
  if (h.newLeader === input.self.name) return ownTimeline(input) === h.timeline;
  const p = input.peers.get(h.newLeader);
  return p !== undefined && p.reachable && p.running && p.timeline === h.timeline;
}

/** The timeline side of promoting this replica now: refused, or the history files to write first. */
export function promotionTimeline(input: DecideInput): CatchUp {
  const local = input.local;
  const mine = walPosition(local);
  if (local.kind !== 'running' || mine === null) return { ok: false, reason: 'own wal position unknown' };
  return timelineVerdict(input, local.timeline, mine, local.inRecovery);
}

/**
 * The promote action. After a catch-up the history entry names the newest timeline the new one
 * follows by number (not the one its WAL branches from, which PostgreSQL's own file records), so
 * the key keeps Patroni's rule: the newest timeline is the last entry's plus one.
 */
export function promoteAction(input: DecideInput, catchUp: { readonly newest: number; readonly files: readonly TimelineFile[] } | undefined, reason: string): Action {
  const local = input.local;
  const timeline = local.kind === 'running' ? local.timeline : 0;
  const switchLsn = walPosition(local) ?? 0;
  if (!catchUp || catchUp.files.length === 0) return { kind: 'promote', oldTimeline: timeline, switchLsn, reason };
  return { kind: 'promote', oldTimeline: catchUp.newest, switchLsn, reason, timelineFiles: catchUp.files };
}

function peerEligible(input: DecideInput, p: Extract<PeerProbe, { reachable: true }>): boolean {
  return p.running && !p.nofailover && p.walPosition !== null && syncAllows(input, p.name);
}

function ownTimeline(input: DecideInput): number | null {
  const local = input.local;
  return local.kind === 'running' ? local.timeline : local.control?.timeline ?? null;
}

/**
 * Does the peer beat us? A newer timeline wins (WAL past a fork on an older timeline is a dead
 * branch, however long); then more WAL; then failover_priority (higher); then name (lower).
 */
function peerBeats(input: DecideInput, p: Extract<PeerProbe, { reachable: true }>, mine: Lsn, ties: boolean): boolean {
  const myTimeline = ownTimeline(input);
  if (p.timeline !== null && myTimeline !== null && p.timeline !== myTimeline) return p.timeline > myTimeline;
  const theirs = p.walPosition ?? -1;
  if (theirs !== mine) return theirs > mine;
  if (!ties) return false;
  const myPriority = input.self.tags.failover_priority ?? 1;
  if (p.failoverPriority !== myPriority) return p.failoverPriority > myPriority;
  return p.name < input.self.name;
}

/**
 * A reachable member that says it is primary and whose PostgreSQL runs, or one whose PostgreSQL
 * may run in any role: its agent cannot reach it (state "unknown"), so its backends may still
 * commit, and the role it reports is a guess (seed 867 of set 6: a hung primary reported as a
 * replica by its restarted agent, which had lost the key, cleared a promotion beside it).
 */
export function mayBeRunningPrimary(p: PeerProbe): boolean {
  return p.reachable && ((p.role === 'primary' && p.running) || p.mayRun === true);
}

/**
 * "Abort if a peer still reports itself primary": the name of such a reachable member, or null.
 * Only a running one: a primary in an unknown state is judged by the former-leader rule, whose
 * deadline (its guard fences by then) keeps a hung member from holding failover back for ever.
 */
export function runningPrimaryPeer(input: DecideInput): string | null {
  for (const m of input.cluster?.members ?? []) {
    if (m.name === input.self.name) continue;
    const p = input.peers.get(m.name);
    if (p && p.reachable && p.role === 'primary' && p.running) return p.name;
  }
  return null;
}

/**
 * S4: a reachable member on a newer timeline than the newest our promotion would know of, eligible
 * or not, proves that promoting us would create a timeline number that already exists (its
 * promotion may be missing from the history key when etcd was unreachable right after it).
 * `newest`: the newest timeline our history files make known (a catch-up), else our own.
 */
export function newerTimelinePeer(input: DecideInput, newest?: number): string | null {
  const own = ownTimeline(input);
  if (own === null) return null;
  const mine = Math.max(own, newest ?? own);
  for (const m of input.cluster?.members ?? []) {
    if (m.name === input.self.name) continue;
    const p = input.peers.get(m.name);
    if (p && p.reachable && p.timeline !== null && p.timeline > mine) return `member ${p.name} is on timeline ${p.timeline}, newer than ours ${mine}`;
  }
  return null;
}

/** Could this peer take the key itself by the rules it applies to itself (S2 b, c, e, sync)? */
export function peerCouldLead(input: DecideInput, p: PeerProbe | undefined): boolean {
  if (!p || !p.reachable || !peerEligible(input, p) || p.walPosition === null) return false;
  if (p.timeline !== null && !timelineVerdict(input, p.timeline, p.walPosition, p.role === 'replica').ok) return false;
  const optime = input.cluster?.status?.optime ?? null;
  return optime === null || p.role !== 'replica' || optime - p.walPosition <= input.config.maximum_lag_on_failover;
}

/**
 * S2 (d) and "abort if a peer still reports itself primary", over the members etcd lists.
 * `ties: false` only counts a peer that holds more WAL (or a newer timeline), not one that merely
 * wins a tie on failover_priority or name.
 */
export function bestAmongPeers(input: DecideInput, opts: { ties?: boolean; newest?: number } = {}): Verdict {
  const mine = walPosition(input.local);
  if (mine === null) return no('own wal position unknown');
  const primary = runningPrimaryPeer(input);
  if (primary !== null) return no(`member ${primary} still reports itself primary`);
  const newer = newerTimelinePeer(input, opts.newest);
  if (newer !== null) return no(newer);
  const others = (input.cluster?.members ?? []).filter((m) => m.name !== input.self.name);
  let reachable = 0;
  for (const m of others) {
    const p = input.peers.get(m.name);
    if (!p || !p.reachable) continue;
    reachable++;
    if (peerEligible(input, p) && peerBeats(input, p, mine, opts.ties ?? true)) {
      const myTimeline = ownTimeline(input);
      const on = p.timeline !== null && myTimeline !== null && p.timeline !== myTimeline ? `timeline ${p.timeline} vs own ${myTimeline}, ` : '';
      return no(`member ${p.name} is a better candidate (${on}wal ${p.walPosition} vs own ${mine}, priority ${p.failoverPriority})`);
    }
  }
  const votes = quorumVotes(input, mine);
  if (!votes.ok) return no(votes.reason);
  return yes(`most advanced of ${reachable + 1} reachable members at wal ${mine}${votes.detail === '' ? '' : `, ${votes.detail}`}`);
}

/** Could this peer take over in a switchover right now (healthy, streaming or caught up, eligible)? */
export function candidateHealthy(input: DecideInput, name: string): Verdict {
  const p = input.peers.get(name);
  if (!p) return no(`member ${name} was not probed`);
  if (!p.reachable) return no(`member ${name} is unreachable (${p.error})`);
  if (!p.running) return no(`member ${name} is not running`);
  if (p.role !== 'replica') return no(`member ${name} is not a replica`);
  if (p.nofailover) return no(`member ${name} is tagged nofailover`);
  if (!syncAllows(input, name)) return no(`member ${name} is not a ${input.config.synchronous_mode === 'quorum' ? 'quorum' : 'synchronous'} standby (${syncKeyText(input)})`);
  return yes(`member ${name} is healthy at wal ${p.walPosition ?? 'unknown'}`);
}

/** The best switchover candidate among the probed replicas, or null. */
export function bestCandidate(input: DecideInput): string | null {
  let best: Extract<PeerProbe, { reachable: true }> | null = null;
  for (const p of input.peers.values()) {
    if (!p.reachable || p.name === input.self.name) continue;
    if (!candidateHealthy(input, p.name).ok) continue;
    if (
      best === null ||
      (p.walPosition ?? -1) > (best.walPosition ?? -1) ||
      ((p.walPosition ?? -1) === (best.walPosition ?? -1) &&
        (p.failoverPriority > best.failoverPriority ||
          (p.failoverPriority === best.failoverPriority && p.name < best.name)))
    ) {
      best = p;
    }
  }
  return best?.name ?? null;
}

/** "leader pg1, sync_standby pg2" for reasons. */
export function syncKeyText(input: DecideInput): string {
  const sync = input.cluster?.sync?.value;
  if (!sync) return 'no sync key';
  const quorum = input.config.synchronous_mode === 'quorum' ? `, quorum ${sync.quorum ?? 0}` : '';
  return `sync key: leader ${sync.leader ?? 'none'}, sync_standby ${sync.syncStandby.length > 0 ? sync.syncStandby.join(',') : 'none'}${quorum}`;
}
