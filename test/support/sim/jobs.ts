// Background jobs on the fakes: they take a few steps and then succeed or fail, as the real
// JobRunner's do; the loop is woken when one ends and sees it in memory.lastJob.
import type { JobSpec } from '../../../src/core/decide-types.js';
import { receive, startPrimary, startReplica, stopClean } from './fake-pg.js';
import { checkStreamed } from './invariants.js';
import { STEP_MS, byHost, etcdReachable, linked, log, type SimNode, type WorldState } from './model.js';
import { walEnd } from './wal.js';

const SWITCHOVER_CATCH_UP_MS = 15_000;

/** A failure that says nothing about the data (a peer was unreachable): the job reports it retryable. */
class Transient extends Error {}

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

export function startJob(w: WorldState, n: SimNode, spec: JobSpec): void {
  if (n.agent.job) throw new Error(`${n.name}: job ${n.agent.job.spec.kind} is already running`);
  const steps = spec.kind === 'bootstrap' || spec.kind === 'clone' || spec.kind === 'rejoin' ? w.rng.int(2, 6) : w.rng.int(1, 3);
  n.agent.job = { spec, startedMs: w.nowMs, dueMs: w.nowMs + steps * STEP_MS, target: null, deadlineMs: w.nowMs + SWITCHOVER_CATCH_UP_MS };
}

/** Advance the node's job; called once per step while its agent runs. */
export function advanceJob(w: WorldState, n: SimNode): void {
  const job = n.agent.job;
  if (!job || w.nowMs < job.dueMs) return;
  let error: string | null;
  let retryable = false;
  try {
    error = job.spec.kind === 'switchover' ? switchoverStep(w, n, job.spec) : finish(w, n, job.spec);
  } catch (err) {
    if (!(err instanceof Transient)) throw err;
    error = err.message;
    retryable = true;
  }
  if (error === 'pending') return;
  n.agent.job = null;
  n.agent.finished = { spec: job.spec, ok: error === null, finishedMs: w.nowMs, ...(error === null ? {} : { error, retryable }) };
  n.agent.nextTickMs = w.nowMs; // the loop wakes when a job ends
  log(w, `${n.name} job ${job.spec.kind} ${error === null ? 'done' : `failed: ${error}`}`);
}

function canStart(w: WorldState, n: SimNode): string | null {
  if (n.agent.fenced) return 'postgresql is fenced';
  if (n.faults.pgBrokenUntilMs !== null) return 'pg_ctl start: postmaster exited during startup';
  if (n.pg.dataDir === 'empty') return 'data directory is empty';
  return null;
}

function finish(w: WorldState, n: SimNode, spec: Exclude<JobSpec, { kind: 'switchover' }>): string | null {
  const pg = n.pg;
  switch (spec.kind) {
    case 'bootstrap': {
      if (pg.dataDir !== 'empty') return 'data directory is not empty';
      if (w.rng.chance(0.1)) return 'initdb: exit code 1';
      pg.dataDir = 'initialized';
      pg.sysid = w.sysid;
      pg.wal = [{ uid: w.nextUid++, from: 0, to: 100 }];
      pg.tl = 1;
      pg.history = [];
      startPrimary(pg, w.nextUid++, w.nowMs);
      return null;
    }
    case 'clone': {
      const src = byHost(w, spec.source.host);
      if (!src || !src.pg.running || !linked(n, src)) throw new Transient(`pg_basebackup: could not connect to ${spec.source.name}`);
      if (pg.dataDir !== 'empty') return 'data directory is not empty';
      pg.dataDir = 'initialized';
      pg.sysid = src.pg.sysid;
      pg.wal = src.pg.wal;
      pg.tl = src.pg.tl;
      pg.history = [...src.pg.history];
      pg.control = 'shut down in recovery';
      startReplica(pg, src.name, w.nowMs);
      return null;
    }
    case 'startPrimary': {
      const why = canStart(w, n);
      if (why) return why;
      if (!pg.running) startPrimary(pg, w.nextUid++, w.nowMs);
      return null;
    }
    case 'startReplica': {
      const why = canStart(w, n);
      if (why) return why;
      if (!pg.running) startReplica(pg, spec.leader ? byHost(w, spec.leader.host)?.name ?? null : null, w.nowMs);
      return null;
    }
    case 'rejoin':
      return rejoin(w, n, spec.leader.host);
    case 'restart':
    case 'reinit':
      throw new Error(`${spec.kind} is an operator job; decide() never starts it`);
    case 'promote':
      // The simulator's executor models the promote action itself (history, then timeline switch).
      throw new Error('the promote job is started by the executor, not by decide(); the simulator models the action');
    default: {
      const never: never = spec;
      throw new Error(`unknown job ${JSON.stringify(never)}`);
    }
  }
}

/** Stop, compare with the leader's timeline history (as src/postgres/timeline.ts does), rewind if needed, start as replica. */
function rejoin(w: WorldState, n: SimNode, leaderHost: string): string | null {
  // Only a rewind verdict is final (src/postgres/rejoin.ts); a failed start is retried.
  const why = canStart(w, n);
  if (why) throw new Transient(why);
  const leader = byHost(w, leaderHost);
  if (!leader || !leader.pg.running || !linked(n, leader)) throw new Transient(`could not connect to the leader ${leaderHost}`);
  const pg = n.pg;
  cleanStop(w, n);
  // As src/postgres/rewind.ts fetchLeaderTimeline: the fork check needs the leader's timeline
  // as a primary; a key holder still in recovery (its promotion pending) is retried later.
  if (leader.pg.recovery) throw new Transient(`${leader.name} is not a primary; it cannot be the rewind source yet`);
  const end = walEnd(pg.wal);
  let rewind: boolean;
  if (pg.tl > leader.pg.tl) rewind = true;
  else if (pg.tl === leader.pg.tl) rewind = false;
  else {
    const fork = leader.pg.history.find((h) => h.tl === pg.tl);
    rewind = fork === undefined || end > fork.end;
  }
  if (rewind) {
    pg.wal = leader.pg.wal;
    pg.tl = leader.pg.tl;
    pg.history = [...leader.pg.history];
    w.stats.rewinds++;
    log(w, `${n.name} pg_rewind from ${leader.name}`);
  }
  startReplica(pg, leader.name, w.nowMs);
  return null;
}

/** Checkpoint + clean stop, wait for the candidate to receive the shutdown checkpoint, hand over. */
function switchoverStep(w: WorldState, n: SimNode, spec: Extract<JobSpec, { kind: 'switchover' }>): string | null | 'pending' {
  const job = n.agent.job;
  if (!job) return null;
  // As the real job: it only reports; decide() clears the request and restarts the primary.
  const fail = (why: string): string => why;
  if (job.target === null) {
    if (!n.pg.running) return fail('postgresql is not running');
    cleanStop(w, n);
    job.target = walEnd(n.pg.wal);
    job.deadlineMs = w.nowMs + SWITCHOVER_CATCH_UP_MS;
    return 'pending';
  }
  const cand = byHost(w, spec.candidate.host);
  const pos = cand && cand.pg.running && linked(n, cand) ? walEnd(cand.pg.wal) : null;
  if (pos !== null && pos >= job.target) {
    if (!etcdReachable(w, n) || !w.etcd.release(n.name)) return fail('leader key was no longer ours to release');
    w.stats.switchovers++;
    return null;
  }
  if (w.nowMs >= job.deadlineMs) return fail(`candidate ${spec.candidate.name} did not receive the shutdown checkpoint ${job.target} in time`);
  return 'pending';
}
