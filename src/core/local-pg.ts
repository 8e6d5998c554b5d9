// What the agent knows about its own PostgreSQL after one observation. "Down" is data.
import type { Lsn } from './cluster.js';

/** pg_controldata "Database cluster state". */
export type ControlState =
  | 'starting up'
  | 'shut down'
  | 'shut down in recovery'
  | 'shutting down'
  | 'in crash recovery'
  | 'in archive recovery'
  | 'in production'
  | 'unknown';

export interface ControlData {
  readonly systemIdentifier: string;
  readonly state: ControlState;
  /** "Latest checkpoint's TimeLineID". */
  readonly timeline: number;
  /** "Latest checkpoint location". */
  readonly checkpointLsn: Lsn;
  /** "Latest checkpoint's REDO location". */
  readonly redoLsn: Lsn;
  /** "Minimum recovery ending location" (0 when none). */
  readonly minRecoveryEndLsn: Lsn;
  readonly minRecoveryEndTimeline: number;
  readonly dataChecksums: boolean;
}

export interface ReplicationRow {
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string;
  readonly syncState: string;
  readonly sentLsn: Lsn | null;
  readonly writeLsn: Lsn | null;
  readonly flushLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
}

export interface WalReceiver {
  readonly status: string;
  readonly senderHost: string | null;
  readonly senderPort: number | null;
  readonly receivedTimeline: number | null;
  readonly slotName: string | null;
}

interface Common {
  /** The data directory: absent or empty (needs bootstrap or clone), or holding a cluster. */
  readonly dataDir: 'empty' | 'initialized';
  /** From pg_controldata when the data dir is initialized; null otherwise or if it failed. */
  readonly control: ControlData | null;
  /** standby.signal present. */
  readonly standbySignal: boolean;
}

export interface PgDown extends Common {
  readonly kind: 'down';
}

/** The postmaster runs but did not answer the observation queries in time (hung, starting). */
export interface PgUnresponsive extends Common {
  readonly kind: 'unresponsive';
  readonly pid: number | null;
  readonly detail: string;
}

export interface PgRunning extends Common {
  readonly kind: 'running';
  readonly pid: number | null;
  readonly inRecovery: boolean;
  readonly timeline: number;
  readonly systemIdentifier: string;
  readonly serverVersion: number;
  /** ISO timestamp of pg_postmaster_start_time(). */
  readonly postmasterStartTime: string;
  /** Primary: pg_current_wal_lsn(). */
  readonly currentLsn: Lsn | null;
  /** Primary: pg_current_wal_flush_lsn(). */
  readonly flushLsn: Lsn | null;
  /** Replica: pg_last_wal_receive_lsn(). */
  readonly receiveLsn: Lsn | null;
  /** Replica: pg_last_wal_replay_lsn(). */
  readonly replayLsn: Lsn | null;
  /** Replica: pg_last_xact_replay_timestamp() (ISO) or null. */
  readonly replayTimestamp: string | null;
  readonly replayPaused: boolean;
  readonly walReceiver: WalReceiver | null;
  readonly replication: readonly ReplicationRow[];
  readonly pendingRestart: boolean;
  /** The primary_conninfo currently in effect (replica), for "already following X" checks. */
  readonly primaryConninfo: string | null;
  readonly primarySlotName: string | null;
  /** SHOW synchronous_standby_names. */
  readonly syncStandbyNames?: string;
  /** It comes from postgresql.auto.conf: the agent set it (ALTER SYSTEM) in synchronous mode. */
  readonly syncStandbyNamesOurs?: boolean;
}

export type LocalPg = PgDown | PgUnresponsive | PgRunning;

/**
 * The WAL a stopped data directory holds, from pg_control: its last checkpoint, and for a replica
 * shut down in recovery what it had replayed (minimum recovery end). A lower bound either way.
 */
export function stoppedWalPosition(control: ControlData): Lsn {
  return control.state === 'shut down in recovery' ? Math.max(control.checkpointLsn, control.minRecoveryEndLsn) : control.checkpointLsn;
}

/** The furthest WAL position this node has: written on a primary, received or replayed on a replica. */
export function walPosition(pg: LocalPg): Lsn | null {
  if (pg.kind !== 'running') return pg.control ? stoppedWalPosition(pg.control) : null;
  if (!pg.inRecovery) return pg.currentLsn;
  const r = pg.receiveLsn ?? 0;
  const p = pg.replayLsn ?? 0;
  return Math.max(r, p);
}
