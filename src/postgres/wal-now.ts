// GET /patroni's fresh WAL position (SPEC 5.4, S2 d): a peer racing for the leader key compares
// positions as they are when it asks, not as the last tick saw them (up to loop_wait old). One
// bounded query on a connection of its own; the health endpoints stay on the cached snapshot.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { FreshWal } from '../api/fresh-wal.js';
import { parseLsn } from '../core/lsn.js';
import { createSqlConnection, localTarget } from './sql.js';

const QUERY = `SELECT pg_catalog.pg_is_in_recovery() AS rec,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_lsn()::text END AS loc,
  pg_catalog.pg_last_wal_receive_lsn()::text AS rcv,
  pg_catalog.pg_last_wal_replay_lsn()::text AS rpl,
  CASE WHEN pg_catalog.pg_is_in_recovery()
       THEN GREATEST((SELECT received_tli FROM pg_catalog.pg_stat_wal_receiver),
                     (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()),
                     (SELECT min_recovery_end_timeline FROM pg_catalog.pg_control_recovery()))
       ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS tli`;

/** The timeline as the observer reads it (src/postgres/observe-query.ts timelineOf), in the same query as the positions. */
interface Row { rec: boolean; loc: string | null; rcv: string | null; rpl: string | null; tli: number | null }

export function createWalNow(config: Config, logger: Logger, timeoutMs = 500): { read: (signal?: AbortSignal) => Promise<FreshWal | null>; close: () => Promise<void> } {
  const sql = createSqlConnection({ target: localTarget(config), logger, timeoutMs, applicationName: 'pg-ha-agent rest' });
  const lsn = (t: string | null): number | null => (t ? parseLsn(t) : null);
  return {
    read: async (signal) => {
      const rows = await sql.query<Row>(QUERY, [], { timeoutMs, ...(signal ? { signal } : {}) });
      const r = rows[0];
      if (!r) return null;
      return { inRecovery: r.rec, location: lsn(r.loc), received: lsn(r.rcv), replayed: lsn(r.rpl), timeline: r.tli };
    },
    close: () => sql.close(),
  };
}
