// What the loop asks of the local PostgreSQL: one interface over the observer, the supervisor and
// the long jobs (bootstrap, clone, rejoin). The daemon adapts src/postgres to it; the simulator
// and unit tests use fakes.
import type { DynamicConfig } from '../config/types.js';
import type { Lsn } from '../core/cluster.js';
import type { MemberRef } from '../core/decide-types.js';
import type { ControlData, LocalPg } from '../core/local-pg.js';
import type { TimelineFile } from '../core/timeline-catchup.js';

export interface PgPort {
  observe(signal?: AbortSignal): Promise<LocalPg>;
  isFenced(): boolean;
  /** Immediate stop (SIGKILL of the postmaster after a bound); sticky until clearFence(). Never uses SQL. */
  fence(reason: string): Promise<void>;
  clearFence(): void;
  /** pg_promote(true, timeout), then verify it left recovery. Returns the new timeline. */
  promote(timeoutMs: number, signal?: AbortSignal): Promise<number>;
  /**
   * Before a catch-up promotion: write the timeline history files PostgreSQL lacks into pg_wal, so
   * that pg_promote picks a timeline number past them. Files already there are kept.
   */
  writeTimelineFiles(files: readonly TimelineFile[], signal?: AbortSignal): Promise<void>;
  /** Point a running replica at a new leader with a reload (no restart). */
  follow(leader: MemberRef, signal?: AbortSignal): Promise<void>;
  /**
   * 'escalated': the mode did not finish within timeoutMs and SIGQUIT/SIGKILL ended PostgreSQL.
   * The signal also ends the wait for a command in flight (a job's start or checkpoint holds the lock).
   */
  stop(mode: 'fast' | 'immediate', timeoutMs: number, signal?: AbortSignal): Promise<'stopped' | 'already-stopped' | 'escalated'>;
  checkpoint(signal?: AbortSignal): Promise<void>;
  controlData(): Promise<ControlData | null>;
  /** Keep one physical slot per other member on the primary. */
  syncSlots(members: readonly string[], signal?: AbortSignal): Promise<void>;
  /** A peer replica's pg_last_wal_receive_lsn(), asked of its PostgreSQL directly (switchover catch-up). */
  peerReceiveLsn(peer: MemberRef, signal?: AbortSignal): Promise<Lsn | null>;
  /** A peer's pg_is_in_recovery(), asked of its PostgreSQL directly; null when it does not answer. */
  peerInRecovery(peer: MemberRef, signal?: AbortSignal): Promise<boolean | null>;
  /** Current WAL position of a running primary (for status optime). */
  currentLsn(signal?: AbortSignal): Promise<Lsn | null>;

  bootstrap(dynamic: DynamicConfig, signal?: AbortSignal): Promise<{ systemId: string }>;
  clone(source: MemberRef, signal?: AbortSignal): Promise<void>;
  startPrimary(signal?: AbortSignal): Promise<void>;
  startReplica(leader: MemberRef | null, signal?: AbortSignal): Promise<void>;
  /** Stop if running, compare with the leader's timeline history, pg_rewind when diverged, start as replica. */
  rejoin(leader: MemberRef, signal?: AbortSignal): Promise<{ rewound: boolean }>;
  /**
   * Synchronous mode: ALTER SYSTEM SET synchronous_standby_names (null: RESET, back to the
   * configured value), then reload and wait until the server reports the new value.
   */
  setSyncStandbyNames(value: string | null, signal?: AbortSignal): Promise<void>;
  /** Re-render the managed configuration from a changed dynamic config and reload PostgreSQL. */
  applyDynamicConfig(dynamic: DynamicConfig, signal?: AbortSignal): Promise<void>;
  /** Explicit reinit (S5): move the data directory aside (never deleted) and leave an empty one. */
  moveDataAside(reason: string): Promise<string>;
  /** The next stop and start are one restart (callbacks report on_restart, not on_stop/on_start). */
  beginRestart?(): void;
  close(): Promise<void>;
}
