// The PgPort (src/loop/pg-port.ts) of one simulated node over the fake PostgreSQL model. A command
// takes effect on the world's time (PostgreSQL goes on while the agent is frozen) and its answer
// reaches the agent on the agent's time. Jobs fail as the real adapter's do: `retryable` when a
// peer was unreachable, a verdict otherwise.
import type { DynamicConfig } from '../../../src/config/types.js';
import { AgentError } from '../../../src/errors.js';
import type { Lsn } from '../../../src/core/cluster.js';
import type { MemberRef } from '../../../src/core/decide-types.js';
import type { ControlData, LocalPg } from '../../../src/core/local-pg.js';
import type { TimelineFile } from '../../../src/core/timeline-catchup.js';
import type { PgPort } from '../../../src/loop/pg-port.js';
import { completionDue, crash, emptyPg, finishPromote, observe, receive, requestPromote, startPrimary, startReplica, stopClean } from './fake-pg.js';
import { checkPromotion, checkStreamed, holdsKey } from './invariants.js';
import { FENCE_MAX_MS, byHost, byName, linked, log, nowMs, type SimNode, type WorldState } from './model.js';
import type { Owner } from './vtime.js';
import { walEnd } from './wal.js';

/** The real observer's bound on its query (src/postgres/pg-adapter.ts). */
const SQL_TIMEOUT_MS = 3_000;

/** What the real observer reports when its query times out on a live postmaster. */
function unresponsive(l: LocalPg): LocalPg {
  if (l.kind !== 'running') return l;
  return { kind: 'unresponsive', dataDir: l.dataDir, control: l.control, standbySignal: l.standbySignal, pid: l.pid, detail: `observation query timed out after ${SQL_TIMEOUT_MS} ms` };
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new SimPgError('aborted', true);
}

/** Fails as the real adapter's PgError does: the job runner reads `retryable` from an AgentError. */
export class SimPgError extends AgentError<'sim-pg'> {
  constructor(message: string, retryable = false) {
    super('sim-pg', message, { retryable });
  }
}

/** A fast shutdown: the walsenders hand every record, the shutdown checkpoint too, to connected replicas. */
export function cleanStop(w: WorldState, n: SimNode): void {
  const wasPrimary = n.pg.running && !n.pg.recovery;
  stopClean(n.pg);
  if (!wasPrimary) return;
  for (const r of w.nodes) {
    if (r !== n && r.pg.running && r.pg.streaming && r.pg.upstream === n.name && linked(r, n)) {
      receive(r.pg, n.pg, walEnd(n.pg.wal));
      checkStreamed(w, r, n);
    }
  }
}

/** pg_promote() finished inside PostgreSQL: a new timeline and a new writer of WAL. */
export function completePromotion(w: WorldState, n: SimNode): void {
  const oldTimeline = n.pg.tl;
  const switchLsn = walEnd(n.pg.wal);
  finishPromote(n.pg, w.nextUid++);
  // The key holder's new timeline is the cluster's history from now on, even if it stops again
  // before the next step looks (a switchover right after the promotion: seed 562 of set 4). So is
  // the line of the holder of a key the operator deleted: it promoted under that key (seed 422).
  if (holdsKey(w, n) || w.keyDeletedFrom === n.name) w.canonical = n.pg.wal;
  w.stats.promotions++;
  log(w, `${n.name} promoted: timeline ${oldTimeline} -> ${n.pg.tl} at ${switchLsn}`);
}

export class SimPg implements PgPort {
  constructor(private readonly w: WorldState, private readonly n: SimNode, private readonly agent: Owner) {}

  private get pg() {
    return this.n.pg;
  }

  /**
   * effect runs in PostgreSQL after `ms` (world time); its result or error reaches the agent then.
   * A job already aborted runs nothing, as the real adapter's commands give up before their lock.
   */
  private op<T>(ms: number, effect: () => T, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<T>((resolve, reject) => {
      this.w.world.after(ms, () => {
        // A node crash kills the agent's pg_ctl and its other children with it: a command of a
        // dead agent never takes effect (it would start a postmaster nobody guards).
        if (this.agent.dead) return;
        let r: { ok: true; v: T } | { ok: false; e: unknown };
        try {
          r = { ok: true, v: effect() };
        } catch (e) {
          r = { ok: false, e };
        }
        this.agent.after(0, () => (r.ok ? resolve(r.v) : reject(r.e)));
      });
    });
  }

  private hostOf = (name: string): string => byName(this.w, name)?.host ?? `${name}.unknown`;

  private peer(ref: MemberRef): SimNode | null {
    const p = byHost(this.w, ref.host);
    return p && p.pg.running && linked(this.n, p) ? p : null;
  }

  private canStart(): void {
    if (this.n.agent?.fenced) throw new SimPgError('postgresql is fenced');
    // As the real adapter's start-failed: PostgreSQL exited during startup is a verdict, not transient.
    if (this.n.faults.pgBrokenUntilMs !== null) throw new SimPgError('pg_ctl start: postmaster exited during startup');
    if (this.pg.dataDir === 'empty') throw new SimPgError('data directory is empty');
  }

  observe(): Promise<LocalPg> {
    if (this.hung()) return this.op(SQL_TIMEOUT_MS, () => unresponsive(observe(this.pg, this.hostOf)));
    return this.op(this.w.rng.int(1, 3), () => observe(this.pg, this.hostOf));
  }

  /** A hung PostgreSQL (the pgHung fault): SQL times out, signals (stop, fence, reload) still work. */
  private hung(): boolean {
    return this.n.faults.pgHungUntilMs !== null && this.pg.running;
  }

  isFenced(): boolean {
    return this.n.agent?.fenced === true;
  }

  fence(reason: string): Promise<void> {
    if (this.n.agent) this.n.agent.fenced = true;
    if (this.pg.running) this.pg.fenceSentAtMs = nowMs(this.w);
    const latency = this.w.rng.int(20, FENCE_MAX_MS);
    return this.op(latency, () => {
      if (!this.pg.running) return;
      crash(this.pg);
      this.w.stats.fences++;
      log(this.w, `${this.n.name} fenced after ${latency} ms: ${reason}`);
    });
  }

  clearFence(): void {
    if (this.n.agent) this.n.agent.fenced = false;
  }

  promote(_timeoutMs?: number, signal?: AbortSignal): Promise<number> {
    const { w, n } = this;
    if (this.hung()) return this.op(SQL_TIMEOUT_MS, () => { throw new SimPgError('pg_promote: canceling statement due to statement timeout', true); }, signal);
    const delay = n.faults.slowPromoteMs + w.rng.int(20, 300);
    return this.op(1, () => {
      // As the real supervisor: a fence decided while the promotion was on its way wins.
      if (n.agent?.fenced === true) throw new SimPgError('postgresql is fenced');
      const pg = this.pg;
      // Requested already (by a previous agent run killed meanwhile): pg_promote(wait) waits for it.
      if (pg.running && pg.recovery && pg.promoteDoneAtMs !== null) return pg.promoteDoneAtMs - nowMs(w);
      // As the real supervisor: a primary already is reported with its timeline, not refused.
      if (pg.running && !pg.recovery) return 0;
      if (!pg.running) throw new SimPgError('pg_promote: could not connect to postgresql', true);
      n.faults.slowPromoteMs = 0;
      checkPromotion(w, n, `timeline ${pg.tl} at ${walEnd(pg.wal)}`);
      requestPromote(pg, nowMs(w) + delay);
      // The startup process ends recovery on its own: the agent's death does not stop it.
      w.world.after(delay, () => {
        if (n.pg === pg && completionDue(pg, nowMs(w))) completePromotion(w, n);
      });
      return delay;
    }, signal).then((wait) => this.op(Math.max(0, wait), () => {
      const pg = this.pg;
      if (completionDue(pg, nowMs(w))) completePromotion(w, n);
      if (!pg.running || pg.recovery) throw new SimPgError('pg_promote: postgresql did not leave recovery');
      return pg.tl;
    }));
  }

  writeTimelineFiles(files: readonly TimelineFile[]): Promise<void> {
    return this.op(1, () => {
      if (!this.pg.running) throw new SimPgError('postgresql is not running');
      for (const f of files) this.pg.timelineFiles = Math.max(this.pg.timelineFiles, f.timeline);
    });
  }

  /** As the real supervisor's follow: only a running replica is repointed. */
  follow(leader: MemberRef, signal?: AbortSignal): Promise<void> {
    return this.op(this.w.rng.int(5, 50), () => {
      if (!this.pg.running) throw new SimPgError(`cannot follow ${leader.name}: postgresql does not answer`, true);
      if (!this.pg.recovery) throw new SimPgError(`cannot follow ${leader.name}: postgresql is not a replica`);
      const up = byHost(this.w, leader.host);
      this.pg.upstream = up ? up.name : null;
      this.pg.streaming = false;
    }, signal);
  }

  stop(mode: 'fast' | 'immediate', _timeoutMs?: number, signal?: AbortSignal): Promise<'stopped' | 'already-stopped' | 'escalated'> {
    return this.op(this.w.rng.int(50, 500), () => {
      if (!this.pg.running) return 'already-stopped';
      if (mode === 'fast') cleanStop(this.w, this.n);
      else crash(this.pg);
      return 'stopped';
    }, signal);
  }

  checkpoint(signal?: AbortSignal): Promise<void> {
    return this.op(this.w.rng.int(10, 200), () => {
      if (!this.pg.running) throw new SimPgError('checkpoint: postgresql is not running');
    }, signal);
  }

  controlData(): Promise<ControlData | null> {
    return this.op(5, () => observe(this.pg, this.hostOf).control);
  }

  syncSlots(_members?: readonly string[], signal?: AbortSignal): Promise<void> {
    return this.op(5, () => undefined, signal);
  }

  peerReceiveLsn(peer: MemberRef, signal?: AbortSignal): Promise<Lsn | null> {
    return this.op(this.w.rng.int(1, 10), () => {
      const p = this.peer(peer);
      if (p === null) throw new SimPgError(`could not connect to ${peer.name}`, true);
      return p.pg.recovery ? walEnd(p.pg.wal) : null;
    }, signal);
  }

  peerInRecovery(peer: MemberRef): Promise<boolean | null> {
    return this.op(this.w.rng.int(1, 10), () => this.peer(peer)?.pg.recovery ?? null);
  }

  currentLsn(signal?: AbortSignal): Promise<Lsn | null> {
    return this.op(1, () => (this.pg.running && !this.pg.recovery ? walEnd(this.pg.wal) : null), signal);
  }

  bootstrap(_dynamic: DynamicConfig, signal?: AbortSignal): Promise<{ systemId: string }> {
    const { w } = this;
    return this.op(w.rng.int(500, 3_000), () => {
      const pg = this.pg;
      if (pg.dataDir !== 'empty') throw new SimPgError('data directory is not empty');
      if (w.rng.chance(0.1)) throw new SimPgError('initdb: exit code 1');
      pg.dataDir = 'initialized';
      pg.sysid = w.sysid;
      pg.wal = [{ uid: w.nextUid++, from: 0, to: 100 }];
      pg.tl = 1;
      pg.history = [];
      pg.timelineFiles = 0;
      startPrimary(pg, w.nextUid++, nowMs(w));
      return { systemId: w.sysid };
    }, signal);
  }

  clone(source: MemberRef, signal?: AbortSignal): Promise<void> {
    return this.op(this.w.rng.int(500, 3_000), () => {
      const src = this.peer(source);
      if (src === null) throw new SimPgError(`pg_basebackup: could not connect to ${source.name}`, true);
      const pg = this.pg;
      if (pg.dataDir !== 'empty') throw new SimPgError('data directory is not empty');
      Object.assign(pg, { dataDir: 'initialized', sysid: src.pg.sysid, wal: src.pg.wal, tl: src.pg.tl, history: [...src.pg.history], timelineFiles: src.pg.timelineFiles });
      pg.control = 'shut down in recovery';
      pg.checkpointLsn = walEnd(pg.wal);
      pg.recovery = true;
    }, signal);
  }

  startPrimary(signal?: AbortSignal): Promise<void> {
    return this.op(this.w.rng.int(300, 1_500), () => {
      this.canStart();
      if (!this.pg.running) startPrimary(this.pg, this.w.nextUid++, nowMs(this.w));
    }, signal);
  }

  startReplica(leader: MemberRef | null, signal?: AbortSignal): Promise<void> {
    return this.op(this.w.rng.int(300, 1_500), () => {
      this.canStart();
      if (!this.pg.running) startReplica(this.pg, leader ? byHost(this.w, leader.host)?.name ?? null : null, nowMs(this.w));
    }, signal);
  }

  /** Stop, compare with the leader's timeline history (as src/postgres/timeline.ts does), rewind if needed, start as replica. */
  rejoin(leader: MemberRef, signal?: AbortSignal): Promise<{ rewound: boolean }> {
    const { w, n } = this;
    return this.op(w.rng.int(500, 3_000), () => {
      try {
        this.canStart();
      } catch (err) {
        // Only a rewind verdict is final (src/postgres/rejoin.ts); a failed start is retried.
        throw new SimPgError((err as Error).message, true);
      }
      const up = this.peer(leader);
      if (up === null) throw new SimPgError(`could not connect to the leader ${leader.host}`, true);
      const pg = this.pg;
      cleanStop(w, n);
      // As src/postgres/rewind.ts fetchLeaderTimeline: the fork check needs the leader's timeline
      // as a primary; a key holder still in recovery (its promotion pending) is retried later.
      if (up.pg.recovery) throw new SimPgError(`${up.name} is not a primary; it cannot be the rewind source yet`, true);
      const fork = up.pg.history.find((h) => h.tl === pg.tl);
      const rewound = pg.tl > up.pg.tl || (pg.tl < up.pg.tl && (fork === undefined || walEnd(pg.wal) > fork.end));
      if (rewound) {
        Object.assign(pg, { wal: up.pg.wal, tl: up.pg.tl, history: [...up.pg.history], timelineFiles: up.pg.timelineFiles });
        w.stats.rewinds++;
        log(w, `${n.name} pg_rewind from ${up.name}`);
      }
      startReplica(pg, up.name, nowMs(w));
      return { rewound };
    }, signal);
  }

  applyDynamicConfig(_dynamic?: DynamicConfig, signal?: AbortSignal): Promise<void> {
    return this.op(5, () => undefined, signal);
  }

  setSyncStandbyNames(_value?: string | null, signal?: AbortSignal): Promise<void> {
    return this.op(5, () => undefined, signal);
  }

  moveDataAside(): Promise<string> {
    return this.op(50, () => {
      crash(this.pg);
      this.n.pg = emptyPg();
      return '/sim/data.moved';
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** What src/postgres/files.ts postmasterWriteState reads from postmaster.pid and standby.signal. */
  postmasterState(): { alive: boolean; mayBeWritable: boolean } {
    return { alive: this.pg.running, mayBeWritable: this.pg.running && !this.pg.recovery };
  }
}
