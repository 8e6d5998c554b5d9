// S4 and the replica that has not yet crossed to the cluster's newest timeline. Promoting a member
// on timeline T makes PostgreSQL name the new timeline "newest history file it knows + 1". A replica
// still on T while the history key says T+1 (or later) already exists would reuse a timeline number
// that exists on another branch, so such a member was kept out of the race. It may race, safely,
// when the history key is one unbroken chain from T to the newest timeline H and its WAL is a prefix
// of that chain (not past any switch point from T on): writing the history files T+1..H into its
// pg_wal first makes PostgreSQL pick H+1, a number nobody used.
import type { HistoryEntry, Lsn } from './cluster.js';
import { formatLsn } from './lsn.js';

/** One `0000000N.history` file to write into pg_wal before pg_promote, in PostgreSQL's format. */
export interface TimelineFile {
  readonly timeline: number;
  readonly content: string;
}

export type CatchUp =
  /** `newest`: the newest timeline number that will exist once `files` are written. */
  | { readonly ok: true; readonly newest: number; readonly files: readonly TimelineFile[] }
  | { readonly ok: false; readonly reason: string };

/**
 * `entries`: the history key's entries that are realized (see eligibility's `unrealized`), in key
 * order. `timeline`/`position`: where this replica's WAL ends.
 */
export function timelineCatchUp(entries: readonly HistoryEntry[], timeline: number, position: Lsn): CatchUp {
  const later = entries.filter((h) => h.timeline >= timeline);
  if (later.length === 0) return { ok: true, newest: timeline, files: [] };
  const first = later[0] as HistoryEntry;
  const behind = `timeline ${timeline} is behind the cluster's: ${first.newLeader ?? 'another member'} already promoted from timeline ${first.timeline} at ${first.switchLsn}`;
  const start = (entries[0] as HistoryEntry).timeline;
  if (entries.some((h, i) => h.timeline !== start + i)) return { ok: false, reason: `${behind}, and the history key is not one chain of timelines` };
  if (!later.some((h) => h.timeline === timeline)) return { ok: false, reason: `${behind}, and timeline ${timeline} is not in the history key's chain` };
  const past = later.find((h) => position > h.switchLsn);
  if (past) return { ok: false, reason: `${behind}; own wal ${position} is past the switch point ${past.switchLsn} of timeline ${past.timeline}` };
  const newest = (later[later.length - 1] as HistoryEntry).timeline + 1;
  const files: TimelineFile[] = [];
  for (let t = timeline + 1; t <= newest; t++) files.push({ timeline: t, content: historyFileText(entries.filter((h) => h.timeline < t)) });
  return { ok: true, newest, files };
}

/** What PostgreSQL's writeTimeLineHistory writes: "parentTLI<TAB>switchpoint<TAB>reason" per line. */
export function historyFileText(entries: readonly HistoryEntry[]): string {
  return entries.map((h) => `${h.timeline}\t${formatLsn(h.switchLsn)}\t${h.reason.replace(/[\r\n\t]+/g, ' ')}\n`).join('');
}

/** `00000002.history` for timeline 2. */
export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}
