// The way out, carried out: gather fresh facts (the postmaster, the lease keeper, pause read from
// etcd now), let decideShutdown() (src/core/shutdown.ts) choose the steps, run each one bounded.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { decideShutdown, lastResort, type ShutdownPlan, type ShutdownStep, type ShutdownWhy } from '../core/shutdown.js';
import type { Dcs } from '../dcs/port.js';
import { postmasterWriteState } from '../postgres/files.js';
import { fenceNow } from '../postgres/pgctl.js';
import { asError } from '../errors.js';
import type { AgentParts } from './compose.js';
import type { AgentApi } from './compose-api.js';
import type { PgPort } from './pg-port.js';
import { systemTimers, type Timers } from '../time/timers.js';
import {
  bounded, CLOSE_BOUND_MS, CONTROL_READ_BOUND_MS, HANDOVER_RENEW_BOUND_MS, JOB_ABORT_BOUND_MS, MARK_PAUSED_BOUND_MS, PAUSE_READ_BOUND_MS, RESTART_CLOSE_BOUND_MS,
} from './way-out.js';

/**
 * What the way out works with: the daemon's parts (leavePorts) or the simulator's, which runs this
 * same code on virtual time.
 */
export interface LeavePorts {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly dynamic: () => DynamicConfig;
  readonly requests: { closeAll(reason: string): void };
  readonly jobs: { stop(): Promise<void> };
  readonly loop: { refreshView(signal: AbortSignal): Promise<boolean>; isJoined(): boolean };
  /** Read now: is a postmaster running on the data dir, and may it be writable (no standby.signal)? */
  readonly postmaster: () => { readonly alive: boolean; readonly mayBeWritable: boolean };
  readonly dcs: Pick<Dcs, 'leadership' | 'releaseLeader' | 'deleteMember' | 'renewLeader' | 'markStatusPaused' | 'close'>;
  readonly pg: Pick<PgPort, 'stop' | 'fence' | 'close' | 'controlData'>;
  readonly fencing: { apply(): unknown; close(): void };
  readonly guard: { close(): Promise<void> };
  /** The fresh-WAL reader of GET /patroni (closed early in a restart in place). */
  readonly closeWalReader: () => Promise<void>;
  /** The REST API server. */
  readonly closeApi: () => Promise<void>;
}

/** Where the way out is (the daemon's StopProgress). */
export interface StopStages { stage(name: string): void }

export function leavePorts(parts: AgentParts, api: AgentApi): LeavePorts {
  return {
    logger: parts.root.child({ component: 'daemon' }), clock: parts.clock, timers: systemTimers, dynamic: parts.dynamic,
    requests: parts.requests, jobs: parts.jobs, loop: parts.loop,
    postmaster: () => postmasterWriteState(parts.config().postgresql.data_dir),
    dcs: parts.dcs, pg: parts.pg, fencing: parts.fencing, guard: parts.guard,
    closeWalReader: () => api.walNow.close(), closeApi: () => api.server.close(),
  };
}

/** What ended the loop: the daemon's termination request (if any) and the loop's exit code. */
export function shutdownWhy(termination: 'term' | 'restart' | null, code: number): ShutdownWhy {
  if (termination === 'restart' && code === 0) return { kind: 'restartInPlace' };
  if (termination !== null) return { kind: 'signal', exitCode: code };
  return { kind: 'halt', exitCode: code };
}

/**
 * Every way out fences first (SPEC 5.12): a halt (refusal, fatal error) as well as a signal stops a
 * PostgreSQL that may be writable, or hands over cleanly. The fence timer and the guard stay armed
 * until it is stopped; the guard outlives us if it is not. Returns the exit code.
 */
export async function leave(parts: LeavePorts, why: ShutdownWhy, stopping: StopStages): Promise<number> {
  const log = parts.logger;
  const inPlace = why.kind === 'restartInPlace';
  const within = (p: Promise<unknown>, ms: number): Promise<void> => bounded(p, ms, parts.timers);
  parts.requests.closeAll('the agent is stopping');
  // A job holds the supervisor's lock (a start, a clone): it must not delay the stop.
  stopping.stage(inPlace ? 'handing over to the next agent run' : 'aborting the running job');
  await within(parts.jobs.stop(), JOB_ABORT_BOUND_MS);
  const pauseFresh = inPlace ? true : await readPause(parts, log, stopping);
  const plan = decideShutdown({ why, paused: parts.dynamic().pause, pauseFresh, ...facts(parts), joined: parts.loop.isJoined() });
  log.info({ why: why.kind, steps: plan.steps.map((s) => s.kind), exitCode: plan.exitCode }, plan.reason);
  await runPlan(parts, plan, log, stopping);
  parts.fencing.apply();
  parts.fencing.close();
  stopping.stage('closing the guard, the api and the connections');
  await parts.guard.close();
  // A restart in place is on the clock (the next run must re-attach before the deadline) and the
  // process exit closes whatever is left: no waiting for idle keep-alive connections.
  const closeBound = inPlace ? RESTART_CLOSE_BOUND_MS : CLOSE_BOUND_MS;
  await Promise.all([parts.closeApi(), parts.pg.close(), parts.closeWalReader(), parts.dcs.close()].map((p) => within(p, closeBound)));
  return plan.exitCode;
}

/** Pause as etcd says now: an operator who lifted it a moment ago expects a stop to hand over. */
async function readPause(parts: LeavePorts, log: Logger, stopping: StopStages): Promise<boolean> {
  stopping.stage('reading pause from etcd');
  let fresh = false;
  const read = new AbortController();
  const timer = parts.timers.setTimeout(() => read.abort(), PAUSE_READ_BOUND_MS);
  await bounded(parts.loop.refreshView(read.signal).then((ok) => { fresh = ok; }), PAUSE_READ_BOUND_MS + 200, parts.timers);
  parts.timers.clearTimeout(timer);
  if (!fresh) log.warn({ paused: parts.dynamic().pause }, 'could not read the cluster config on shutdown; deciding pause from the last view');
  return fresh;
}

/** Decided on fresh facts (the postmaster, the lease keeper), not on the last tick's status. */
function facts(parts: LeavePorts): { postmasterAlive: boolean; postmasterMayBeWritable: boolean; keyMsLeft: number | null } {
  const pm = parts.postmaster();
  const leadership = parts.dcs.leadership();
  return { postmasterAlive: pm.alive, postmasterMayBeWritable: pm.mayBeWritable, keyMsLeft: leadership === null ? null : leadership.validUntilMs - parts.clock.monoMs() };
}

async function runPlan(parts: LeavePorts, plan: ShutdownPlan, log: Logger, stopping: StopStages): Promise<void> {
  for (const step of plan.steps) {
    stopping.stage(stageName(step));
    await runStep(parts, step, log);
  }
}

function stageName(step: ShutdownStep): string {
  switch (step.kind) {
    case 'stopPostgres': return 'stopping postgresql';
    case 'fencePostgres': return 'fencing postgresql';
    case 'releaseKey': return 'releasing the leader key';
    case 'deleteMember': return 'deleting the member key';
    case 'closeConnections': return 'closing the postgresql connections';
    case 'renewKey': return 'renewing the leader key for the next run';
    case 'markPaused': return 'marking the status key paused';
  }
}

async function runStep(parts: LeavePorts, step: ShutdownStep, log: Logger): Promise<void> {
  const { pg, dcs } = parts;
  switch (step.kind) {
    case 'stopPostgres':
      try {
        // A clean stop, but never past the lease deadline: nobody renews it any more. The budget
        // covers the wait for a command in flight too, not only pg_ctl.
        await pg.stop('fast', step.budgetMs, timeoutSignal(parts.timers, step.budgetMs));
      } catch (err) {
        log.error({ err: asError(err) }, 'clean stop failed; fencing');
        await pg.fence('shutdown: the clean stop failed');
      }
      return;
    case 'fencePostgres': await pg.fence(step.reason); return;
    case 'releaseKey': {
      const lastLsn = await shutdownCheckpoint(parts);
      const released = await dcs.releaseLeader(undefined, lastLsn === null ? {} : { lastLsn }).catch(() => false);
      log.info({ released, lastLsn }, 'leader key released');
      return;
    }
    case 'deleteMember': await dcs.deleteMember().catch(() => undefined); return;
    // What nobody waits for closes first: the last keepalive is taken as late as possible, so the
    // next run gets as much of the TTL as there is.
    case 'closeConnections':
      await Promise.all([bounded(pg.close(), RESTART_CLOSE_BOUND_MS, parts.timers), bounded(parts.closeWalReader(), RESTART_CLOSE_BOUND_MS, parts.timers)]);
      return;
    case 'renewKey': await renewForNextRun(parts, log); return;
    case 'markPaused': {
      const marked = await dcs.markStatusPaused(timeoutSignal(parts.timers, MARK_PAUSED_BOUND_MS)).catch((err: unknown) => {
        log.warn({ err: asError(err) }, 'could not mark the status key paused');
        return false;
      });
      log.info({ marked }, 'status key marked paused: the replicas wait for this leader\'s answer after a resume');
      return;
    }
  }
}

/**
 * The shutdown checkpoint of a primary stopped cleanly on this way out, or null (still running,
 * fenced, a replica, unreadable). Released with the key as Patroni does, it tells the replicas how
 * far the WAL goes and, put after any pause was lifted, that this leader let go itself: a replica
 * that last saw it paused otherwise waits for an answer from an agent that is gone.
 */
async function shutdownCheckpoint(parts: LeavePorts): Promise<number | null> {
  if (parts.postmaster().alive) return null;
  let lsn: number | null = null;
  await bounded(parts.pg.controlData().then((c) => { if (c?.state === 'shut down') lsn = c.checkpointLsn; }), CONTROL_READ_BOUND_MS, parts.timers);
  return lsn;
}

/**
 * One last keepalive gives the next run the whole TTL (minus the margin) to come back;
 * fencing.apply() right after hands that fresh deadline and the lease id to the guard, which
 * outlives us and fences at the deadline if no run re-attaches.
 */
async function renewForNextRun(parts: LeavePorts, log: Logger): Promise<void> {
  const { dcs, clock } = parts;
  const before = dcs.leadership();
  const renewed = await Promise.race([
    dcs.renewLeader(timeoutSignal(parts.timers, HANDOVER_RENEW_BOUND_MS)).catch(() => false),
    new Promise<boolean>((r) => parts.timers.setTimeout(() => r(false), HANDOVER_RENEW_BOUND_MS).unref?.()),
  ]);
  const after = dcs.leadership() ?? before;
  log.info({ renewed, leaseId: after?.leaseId ?? null, msLeft: after ? Math.round(after.validUntilMs - clock.monoMs()) : null },
    'restart in place: leader key kept; the fence guard holds the deadline until the next run re-attaches it');
}

/** AbortSignal.timeout on the given timers (virtual time in the simulator). */
function timeoutSignal(timers: Timers, ms: number): AbortSignal {
  const c = new AbortController();
  timers.setTimeout(() => c.abort(new Error(`timed out after ${ms} ms`)), ms).unref?.();
  return c.signal;
}

/** The stop hung: fence a PostgreSQL that may be writable (lastResort decides), then exit. */
export function lastResortExit(config: Config, paused: boolean, log: Logger): void {
  const pm = postmasterWriteState(config.postgresql.data_dir);
  const verdict = lastResort({ paused, postmasterMayBeWritable: pm.mayBeWritable });
  log.fatal({ fence: verdict.fence }, verdict.reason);
  const fenced = verdict.fence ? fenceNow({ config, logger: log }, verdict.reason) : Promise.resolve(null);
  void fenced.catch(() => null).finally(() => process.exit(1));
}
