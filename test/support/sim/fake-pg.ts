// A PostgreSQL state machine, just detailed enough for the decision core: data dir, timeline and
// its history, WAL (ground truth in segments), primary / replica / down, promote, streaming rules.
import type { ControlState, LocalPg } from '../../../src/core/local-pg.js';
import { shutdownCheckpointEnd } from '../../../src/core/lsn.js';
import { append, splice, walEnd, type Wal } from './wal.js';

/** A parent timeline and the LSN where it ended (a line of a `.history` file). */
export interface TimelineEntry {
  readonly tl: number;
  readonly end: number;
}

export interface FakePg {
  dataDir: 'empty' | 'initialized';
  sysid: string | null;
  wal: Wal;
  tl: number;
  history: TimelineEntry[];
  /** The newest timeline whose history file lies in pg_wal (a catch-up writes them); 0: none past tl. */
  timelineFiles: number;
  running: boolean;
  /** In recovery while running; standby.signal while stopped. */
  recovery: boolean;
  control: ControlState;
  /** pg_controldata "Latest checkpoint location": a clean stop's shutdown checkpoint starts here. */
  checkpointLsn: number;
  /** The node named in primary_conninfo. */
  upstream: string | null;
  streaming: boolean;
  promoteDoneAtMs: number | null;
  /** The primary incarnation writing now (ground truth for the WAL it writes). */
  writeUid: number | null;
  /** pg_postmaster_start_time(), ISO. */
  startedIso: string;
  /** When a fence (SIGQUIT, then SIGKILL) was last sent to this postmaster, on the world's clock. */
  fenceSentAtMs?: number;
}

export function emptyPg(): FakePg {
  return {
    dataDir: 'empty', sysid: null, wal: [], tl: 1, history: [], timelineFiles: 0, running: false, recovery: false,
    control: 'unknown', checkpointLsn: 0, upstream: null, streaming: false, promoteDoneAtMs: null, writeUid: null, startedIso: new Date(0).toISOString(),
  };
}

export const isWritable = (pg: FakePg): boolean => pg.running && !pg.recovery;

/** kill -9 or an immediate stop: no shutdown checkpoint. */
export function crash(pg: FakePg): void {
  if (!pg.running) return;
  pg.running = false;
  pg.control = pg.recovery ? 'in archive recovery' : 'in production';
  pg.streaming = false;
  pg.promoteDoneAtMs = null;
  pg.writeUid = null;
}

/** A clean (fast) stop: a primary writes its shutdown checkpoint record (of its real size) first. */
export function stopClean(pg: FakePg): void {
  if (!pg.running) return;
  const start = walEnd(pg.wal);
  pg.checkpointLsn = start;
  if (!pg.recovery && pg.writeUid !== null) pg.wal = append(pg.wal, pg.writeUid, shutdownCheckpointEnd(start) - start);
  pg.running = false;
  pg.control = pg.recovery ? 'shut down in recovery' : 'shut down';
  pg.streaming = false;
  pg.promoteDoneAtMs = null;
  pg.writeUid = null;
}

export function startPrimary(pg: FakePg, uid: number, nowMs: number): void {
  pg.running = true;
  pg.recovery = false;
  pg.upstream = null;
  pg.streaming = false;
  pg.writeUid = uid;
  pg.control = 'in production';
  pg.startedIso = new Date(nowMs).toISOString();
}

export function startReplica(pg: FakePg, upstream: string | null, nowMs: number): void {
  pg.running = true;
  pg.recovery = true;
  pg.upstream = upstream;
  pg.streaming = false;
  pg.writeUid = null;
  pg.control = 'in archive recovery';
  pg.startedIso = new Date(nowMs).toISOString();
}

export function requestPromote(pg: FakePg, doneAtMs: number): void {
  if (!pg.running || !pg.recovery || pg.promoteDoneAtMs !== null) return;
  pg.promoteDoneAtMs = doneAtMs;
  pg.streaming = false;
  pg.upstream = null;
}

/** End of recovery: a new timeline (the newest this data dir knows + 1; no WAL archive). */
export function finishPromote(pg: FakePg, uid: number): void {
  pg.history = [...pg.history, { tl: pg.tl, end: walEnd(pg.wal) }];
  pg.tl = Math.max(pg.tl, pg.timelineFiles) + 1;
  pg.recovery = false;
  pg.promoteDoneAtMs = null;
  pg.writeUid = uid;
  pg.control = 'in production';
}

export function write(pg: FakePg, n: number): void {
  if (isWritable(pg) && pg.writeUid !== null) pg.wal = append(pg.wal, pg.writeUid, n);
}

/**
 * Would PostgreSQL stream from `up`? Its own checks only: timeline numbers and switch points
 * from the upstream's history file, and "not ahead of the upstream's flush position".
 */
export function canStream(replica: FakePg, up: FakePg): boolean {
  if (!up.running || up.sysid !== replica.sysid) return false;
  const end = walEnd(replica.wal);
  if (replica.tl > up.tl) return false;
  if (replica.tl === up.tl) return end <= walEnd(up.wal);
  const entry = up.history.find((h) => h.tl === replica.tl);
  return entry !== undefined && end <= entry.end;
}

/** One streaming step: receive up to `upTo` of the upstream's WAL, switching timeline if needed. */
export function receive(replica: FakePg, up: FakePg, upTo: number): void {
  const at = walEnd(replica.wal);
  if (upTo > at) replica.wal = splice(replica.wal, at, up.wal, upTo);
  if (replica.tl !== up.tl) {
    replica.tl = up.tl;
    replica.history = [...up.history];
  }
}

export function observe(pg: FakePg, hostOf: (name: string) => string): LocalPg {
  const end = walEnd(pg.wal);
  const control = pg.dataDir === 'empty' || pg.sysid === null ? null : {
    systemIdentifier: pg.sysid,
    state: pg.control,
    timeline: pg.tl,
    checkpointLsn: pg.checkpointLsn,
    redoLsn: end,
    minRecoveryEndLsn: pg.recovery ? end : 0,
    minRecoveryEndTimeline: pg.recovery ? pg.tl : 0,
    dataChecksums: true,
  };
  const common = { dataDir: pg.dataDir, control, standbySignal: pg.recovery } as const;
  if (!pg.running || pg.sysid === null) return { kind: 'down', ...common };
  const host = pg.upstream === null ? null : hostOf(pg.upstream);
  return {
    kind: 'running',
    ...common,
    pid: 1000,
    inRecovery: pg.recovery,
    timeline: pg.tl,
    systemIdentifier: pg.sysid,
    serverVersion: 150007,
    postmasterStartTime: pg.startedIso,
    currentLsn: pg.recovery ? null : end,
    flushLsn: pg.recovery ? null : end,
    receiveLsn: pg.recovery ? end : null,
    replayLsn: pg.recovery ? end : null,
    replayTimestamp: null,
    replayPaused: false,
    walReceiver: pg.streaming && host !== null
      ? { status: 'streaming', senderHost: host, senderPort: 5432, receivedTimeline: pg.tl, slotName: null }
      : null,
    replication: [],
    pendingRestart: false,
    primaryConninfo: host === null ? null : `host=${host} port=5432 user=replicator`,
    primarySlotName: null,
  };
}

/** A requested promotion whose time has come (PostgreSQL still up). */
export function completionDue(pg: FakePg, nowMs: number): boolean {
  return pg.promoteDoneAtMs !== null && pg.running && nowMs >= pg.promoteDoneAtMs;
}
