// GET /patroni answers with the WAL position read at request time (as Patroni's /patroni queries
// PostgreSQL), so a leader race compares positions as they are now (S2 d). Bounded; when the
// query fails or is slow (PostgreSQL down, hung) the tick's cached snapshot is served unchanged.
import type { Lsn } from '../core/cluster.js';

export interface FreshWal {
  readonly inRecovery: boolean;
  /** pg_current_wal_lsn() on a primary. */
  readonly location: Lsn | null;
  readonly received: Lsn | null;
  readonly replayed: Lsn | null;
  /**
   * The timeline of that WAL, read with it: a replica that started streaming a newer timeline since
   * the last tick reports the new timeline's WAL, and a racing peer that paired it with the tick's
   * older timeline took it for WAL past the fork and ranked it out (seed 612 of set 5). Optional:
   * null keeps the tick's.
   */
  readonly timeline?: number | null;
}

export type ReadFreshWal = (signal?: AbortSignal) => Promise<FreshWal | null>;

type Body = Record<string, unknown>;
const isObj = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The cached body with role and xlog replaced by the fresh reading; `xlog_fresh` says which it is. */
export function overlayFreshWal(body: Body, fresh: FreshWal | null): Body {
  const agent = isObj(body['pg_ha_agent']) ? body['pg_ha_agent'] : {};
  if (fresh === null) return { ...body, pg_ha_agent: { ...agent, xlog_fresh: false } };
  const cached = isObj(body['xlog']) ? body['xlog'] : {};
  const xlog = fresh.inRecovery
    ? { ...cached, location: undefined, received_location: fresh.received ?? undefined, replayed_location: fresh.replayed ?? undefined }
    : { location: fresh.location ?? undefined };
  // `xlog_fresh: true` also says PostgreSQL answered just now: a peer reads it as running, whatever
  // `state` the last tick saw (src/loop/peers.ts), while the rest of the body stays the tick's.
  // Never lower than the tick's: a replica whose WAL receiver stopped reads its timeline from
  // pg_control, which lags until its next restartpoint, while the tick remembers what it streamed
  // (src/postgres/observer.ts); an older one made a requested failover candidate look forked.
  const cachedTl = typeof body['timeline'] === 'number' ? body['timeline'] : 0;
  const timeline = fresh.timeline === undefined || fresh.timeline === null ? {} : { timeline: Math.max(fresh.timeline, cachedTl) };
  return { ...body, role: fresh.inRecovery ? 'replica' : 'primary', ...timeline, xlog: JSON.parse(JSON.stringify(xlog)) as Body, pg_ha_agent: { ...agent, xlog_fresh: true } };
}

/** Read with a bound; null on any failure (the caller serves the cached snapshot). */
export async function readFreshWal(read: ReadFreshWal | undefined, timeoutMs: number): Promise<FreshWal | null> {
  if (!read) return null;
  try {
    return await read(AbortSignal.timeout(timeoutMs));
  } catch {
    return null;
  }
}
