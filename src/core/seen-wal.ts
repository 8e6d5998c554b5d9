// A stopped data directory's WAL, as far as its own agent can vouch for it. pg_control alone says
// little: a replica's last restartpoint can be minutes old, so a replica whose PostgreSQL crashed
// (or cannot start) reported a position far behind what it had received, and a racing member
// promoted with less WAL than it held (simulator seed 319 of set 5). The furthest position the
// agent saw while PostgreSQL ran is a lower bound too, usually a close one: GET /patroni reports
// the later of the two as `pg_ha_agent.stopped_wal`, and the race waits for such a member.
import type { JobKind } from './decide-types.js';
import { walPosition, type LocalPg } from './local-pg.js';

export interface WalMark {
  readonly lsn: number;
  readonly timeline: number;
}

/** Jobs after which the data directory's WAL is no longer what was seen: replaced or rewound. */
const REWRITES_WAL: ReadonlySet<JobKind> = new Set<JobKind>(['bootstrap', 'clone', 'reinit', 'rejoin']);

/** The furthest WAL seen while PostgreSQL ran, after this tick's observation. */
export function nextSeenWal(prev: WalMark | null, local: LocalPg, job: JobKind | null): WalMark | null {
  if (job !== null && REWRITES_WAL.has(job)) return null;
  if (local.kind === 'down' && local.dataDir === 'empty') return null;
  if (local.kind !== 'running') return prev;
  const lsn = walPosition(local);
  return lsn === null ? prev : { lsn, timeline: local.timeline };
}

/** Two lower bounds of the same data directory's WAL: the later one (a newer timeline first). */
export function laterWal(a: WalMark, b: WalMark | null): WalMark {
  if (b === null) return a;
  if (b.timeline !== a.timeline) return b.timeline > a.timeline ? b : a;
  return b.lsn > a.lsn ? b : a;
}
