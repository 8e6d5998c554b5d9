// The observer's one query (one round trip) and the pure mapping of its row to PgRunning fields.
import type { ControlData, ReplicationRow, WalReceiver } from '../core/local-pg.js';
import { parseLsn } from '../core/lsn.js';
import { redactConninfo } from './conninfo.js';

export const OBSERVE_SQL = `
SELECT
  pg_catalog.pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_lsn()::text END AS current_lsn,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_flush_lsn()::text END AS flush_lsn,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
       ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS primary_timeline,
  pg_catalog.pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_catalog.pg_last_wal_replay_lsn()::text AS replay_lsn,
  to_json(pg_catalog.pg_last_xact_replay_timestamp()) #>> '{}' AS replay_ts,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  s.system_identifier::text AS system_identifier,
  c.timeline_id AS checkpoint_timeline,
  c.checkpoint_lsn::text AS checkpoint_lsn,
  c.redo_lsn::text AS redo_lsn,
  r.min_recovery_end_lsn::text AS min_recovery_end_lsn,
  r.min_recovery_end_timeline AS min_recovery_end_timeline,
  i.data_page_checksum_version AS checksum_version,
  to_json(pg_catalog.pg_postmaster_start_time()) #>> '{}' AS postmaster_start_time,
  pg_catalog.current_setting('server_version_num')::int AS server_version,
  pg_catalog.current_setting('primary_conninfo') AS primary_conninfo,
  pg_catalog.current_setting('primary_slot_name') AS primary_slot_name,
  (SELECT row_to_json(v) FROM (
     SELECT setting, sourcefile FROM pg_catalog.pg_settings WHERE name = 'synchronous_standby_names'
   ) v) AS sync_standby_names,
  (SELECT count(*) > 0 FROM pg_catalog.pg_settings WHERE pending_restart) AS pending_restart,
  (SELECT row_to_json(w) FROM (
     SELECT status, sender_host, sender_port, received_tli, slot_name FROM pg_catalog.pg_stat_wal_receiver
   ) w) AS wal_receiver,
  (SELECT coalesce(json_agg(row_to_json(x) ORDER BY x.application_name), '[]'::json) FROM (
     SELECT application_name, client_addr::text AS client_addr, state, sync_state,
            sent_lsn::text AS sent_lsn, write_lsn::text AS write_lsn,
            flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn
     FROM pg_catalog.pg_stat_replication
   ) x) AS replication
FROM pg_catalog.pg_control_system() s, pg_catalog.pg_control_checkpoint() c,
     pg_catalog.pg_control_recovery() r, pg_catalog.pg_control_init() i`;

export interface ObserveRow {
  readonly in_recovery: boolean;
  readonly current_lsn: string | null;
  readonly flush_lsn: string | null;
  readonly primary_timeline: number | null;
  readonly receive_lsn: string | null;
  readonly replay_lsn: string | null;
  readonly replay_ts: string | null;
  readonly replay_paused: boolean;
  readonly system_identifier: string;
  readonly checkpoint_timeline: number;
  readonly checkpoint_lsn: string;
  readonly redo_lsn: string;
  readonly min_recovery_end_lsn: string;
  readonly min_recovery_end_timeline: number;
  readonly checksum_version: number;
  readonly postmaster_start_time: string;
  readonly server_version: number;
  readonly primary_conninfo: string;
  readonly primary_slot_name: string;
  readonly pending_restart: boolean;
  /** Absent in rows from older fakes. */
  readonly sync_standby_names?: { setting: string; sourcefile: string | null } | null;
  readonly wal_receiver: {
    status: string;
    sender_host: string | null;
    sender_port: number | null;
    received_tli: number | null;
    slot_name: string | null;
  } | null;
  readonly replication: readonly {
    application_name: string;
    client_addr: string | null;
    state: string;
    sync_state: string;
    sent_lsn: string | null;
    write_lsn: string | null;
    flush_lsn: string | null;
    replay_lsn: string | null;
  }[];
}

function lsn(text: string | null | undefined): number | null {
  return text === null || text === undefined ? null : parseLsn(text);
}

export function controlFromRow(row: ObserveRow): ControlData {
  return {
    systemIdentifier: row.system_identifier,
    state: row.in_recovery ? 'in archive recovery' : 'in production',
    timeline: row.checkpoint_timeline,
    checkpointLsn: lsn(row.checkpoint_lsn) ?? 0,
    redoLsn: lsn(row.redo_lsn) ?? 0,
    minRecoveryEndLsn: lsn(row.min_recovery_end_lsn) ?? 0,
    minRecoveryEndTimeline: row.min_recovery_end_timeline,
    dataChecksums: row.checksum_version !== 0,
  };
}

function walReceiver(row: ObserveRow): WalReceiver | null {
  const w = row.wal_receiver;
  if (!w) return null;
  return {
    status: w.status,
    senderHost: w.sender_host,
    senderPort: w.sender_port,
    receivedTimeline: w.received_tli,
    slotName: w.slot_name,
  };
}

function replication(row: ObserveRow): ReplicationRow[] {
  return row.replication.map((r) => ({
    applicationName: r.application_name,
    clientAddr: r.client_addr,
    state: r.state,
    syncState: r.sync_state,
    sentLsn: lsn(r.sent_lsn),
    writeLsn: lsn(r.write_lsn),
    flushLsn: lsn(r.flush_lsn),
    replayLsn: lsn(r.replay_lsn),
  }));
}

/**
 * A replica's timeline: what its WAL receiver streams, else its last restartpoint. A primary's:
 * the timeline of its current WAL file (pg_control lags until the first checkpoint after a promotion).
 */
export function timelineOf(row: ObserveRow): number {
  if (!row.in_recovery) return row.primary_timeline ?? row.checkpoint_timeline;
  return Math.max(row.wal_receiver?.received_tli ?? 0, row.checkpoint_timeline, row.min_recovery_end_timeline);
}

export function runningFields(row: ObserveRow) {
  return {
    inRecovery: row.in_recovery,
    timeline: timelineOf(row),
    systemIdentifier: row.system_identifier,
    serverVersion: row.server_version,
    // to_json() gives ISO 8601 with microseconds, so equal start times compare equal as text.
    postmasterStartTime: row.postmaster_start_time,
    currentLsn: lsn(row.current_lsn),
    flushLsn: lsn(row.flush_lsn),
    receiveLsn: lsn(row.receive_lsn),
    replayLsn: lsn(row.replay_lsn),
    replayTimestamp: row.replay_ts,
    replayPaused: row.replay_paused,
    walReceiver: walReceiver(row),
    replication: replication(row),
    pendingRestart: row.pending_restart,
    primaryConninfo: row.primary_conninfo === '' ? null : redactConninfo(row.primary_conninfo),
    primarySlotName: row.primary_slot_name === '' ? null : row.primary_slot_name,
    syncStandbyNames: row.sync_standby_names?.setting ?? '',
    syncStandbyNamesOurs: /postgresql\.auto\.conf$/.test(row.sync_standby_names?.sourcefile ?? ''),
  } as const;
}
