// Long actions (bootstrap, clone, start, rejoin, switchover) run one at a time in the background;
// ticks keep running and see the job in DecideInput.job.
import type { Logger } from 'pino';
import type { DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { FinishedJob, JobSpec, RunningJob } from '../core/decide-types.js';
import type { Dcs } from '../dcs/port.js';
import type { PgPort } from './pg-port.js';
import { JobStageError, runPromotion } from './promotion.js';
import type { PeerHttp } from './peer-http.js';
import { runSwitchover, SwitchoverNotDone } from './switchover.js';
import type { Timers } from '../time/timers.js';
import { AgentError, asError, errorMessage } from '../errors.js';

export interface JobDeps {
  readonly pg: PgPort;
  readonly dcs: Dcs;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly dynamicConfig: () => DynamicConfig;
  readonly onFinished: (job: FinishedJob) => void;
  /** GETs to other members' REST APIs (the switchover's candidate position). */
  readonly peerHttp: PeerHttp;
  /** This member's name (the history entry of a promotion names it). */
  readonly selfName?: string;
  /** The switchover's polls; default Node's (the simulator runs them on virtual time). */
  readonly timers?: Timers;
}

export interface JobRunner {
  running(): RunningJob | null;
  /** Start a job; the promise settles when it ends (callers other than the executor may await it). */
  start(spec: JobSpec): Promise<FinishedJob>;
  /** The last finished job, handed to decide() once. */
  takeFinished(): FinishedJob | null;
  abort(): Promise<void>;
  /** The agent is stopping: abort the running job and start no other. */
  stop(): Promise<void>;
}

export function createJobRunner(deps: JobDeps): JobRunner {
  const st: RunnerState = { deps, current: null, finished: null, stopping: false };
  return {
    running: () => st.current?.job ?? null,
    start: (spec) => startJob(st, spec),
    takeFinished() {
      const f = st.finished;
      st.finished = null;
      return f;
    },
    async stop() {
      st.stopping = true;
      await this.abort();
    },
    async abort() {
      if (!st.current) return;
      st.current.controller.abort();
      await st.current.done;
    },
  };
}

interface RunnerState {
  readonly deps: JobDeps;
  current: { job: RunningJob; controller: AbortController; done: Promise<void> } | null;
  finished: FinishedJob | null;
  stopping: boolean;
}

type JobOutcome =
  | { readonly ok: true }
  | {
    readonly ok: false; readonly error: string; readonly thrown: Error; readonly retryable: boolean;
    readonly stage: string | undefined; readonly rewindFailed: boolean; readonly unclaimed: boolean;
  };

function startJob(st: RunnerState, spec: JobSpec): Promise<FinishedJob> {
  const { deps } = st;
  // A tick left behind by a stop must not start PostgreSQL after the shutdown stopped it.
  if (st.stopping) throw new Error(`the agent is stopping: job ${spec.kind} not started`);
  if (st.current) throw new Error(`job ${st.current.job.spec.kind} is already running`);
  const controller = new AbortController();
  const job: RunningJob = { spec, startedMs: deps.clock.monoMs() };
  deps.logger.info({ job: spec.kind }, 'job started');
  const done = execute(deps, spec, controller.signal).then(
    (): JobOutcome => ({ ok: true as const }),
    failureOf,
  ).then((r) => finishJob(st, job, r));
  st.current = { job, controller, done: done.then(() => undefined) };
  return done;
}

function failureOf(err: unknown): JobOutcome {
  const typed = err instanceof AgentError ? err : null;
  return {
    ok: false as const,
    error: errorMessage(err),
    thrown: asError(err),
    // Transient failures (leader unreachable, ...) are retried; verdicts on the data are not.
    retryable: typed?.retryable === true,
    stage: err instanceof JobStageError ? err.stage : undefined,
    rewindFailed: typed?.code === 'rewind-verdict',
    unclaimed: err instanceof SwitchoverNotDone && err.unclaimed,
  };
}

function finishJob(st: RunnerState, job: RunningJob, r: JobOutcome): FinishedJob {
  const { deps } = st;
  const { spec } = job;
  const log = deps.logger;
  const durationMs = Math.round(deps.clock.monoMs() - job.startedMs);
  const failure = r.ok ? {} : {
    error: r.error, retryable: r.retryable, ...(r.stage === undefined ? {} : { stage: r.stage }),
    ...(r.rewindFailed ? { rewindFailed: true } : {}), ...(r.unclaimed ? { unclaimed: true } : {}),
  };
  const result: FinishedJob = { spec, ok: r.ok, finishedMs: deps.clock.monoMs(), ...failure };
  st.finished = result;
  if (r.ok) log.info({ job: spec.kind, durationMs }, 'job finished');
  else log.error({ job: spec.kind, durationMs, err: r.thrown }, 'job failed');
  st.current = null;
  deps.onFinished(result);
  return result;
}

type Runner<K extends JobSpec['kind']> = (deps: JobDeps, spec: Extract<JobSpec, { kind: K }>, signal: AbortSignal) => Promise<void>;

/** One async function per job kind: each keeps the awaits it had inline (the simulator replays their interleaving). */
const RUNNERS: { readonly [K in JobSpec['kind']]: Runner<K> } = {
  bootstrap: async (deps, _spec, signal) => { await deps.pg.bootstrap(deps.dynamicConfig(), signal); },
  clone: async ({ pg }, spec, signal) => {
    await pg.clone(spec.source, signal);
    await pg.startReplica(spec.source, signal);
  },
  startPrimary: async (deps, _spec, signal) => {
    await proveKeyBeforeWritableStart(deps, signal);
    await deps.pg.startPrimary(signal);
  },
  startReplica: async ({ pg }, spec, signal) => { await pg.startReplica(spec.leader, signal); },
  rejoin: async ({ pg, logger }, spec, signal) => {
    const { rewound } = await pg.rejoin(spec.leader, signal);
    logger.info({ leader: spec.leader.name, rewound }, 'rejoined as replica');
  },
  switchover: async (deps, spec, signal) => { await runSwitchover({ ...deps, spec, signal }); },
  promote: async (deps, spec, signal) => { await runPromotion({ ...deps, spec, signal }); },
  restart: async (deps, spec, signal) => {
    deps.pg.beginRestart?.();
    await deps.pg.stop('fast', 60_000, signal);
    if (spec.role === 'primary') {
      await proveKeyBeforeWritableStart(deps, signal);
      await deps.pg.startPrimary(signal);
    } else {
      await deps.pg.startReplica(spec.leader, signal);
    }
  },
  reinit: async ({ pg, logger }, spec, signal) => {
    await pg.stop('immediate', 30_000, signal);
    const movedTo = await pg.moveDataAside('reinitialize requested');
    logger.warn({ movedTo }, 'reinit: old data directory kept aside; remove it when no longer needed');
    await pg.clone(spec.source, signal);
    await pg.startReplica(spec.source, signal);
  },
};

function execute(deps: JobDeps, spec: JobSpec, signal: AbortSignal): Promise<void> {
  const run = RUNNERS[spec.kind] as Runner<JobSpec['kind']> | undefined;
  if (run === undefined) return Promise.reject(new Error(`unknown job ${JSON.stringify(spec)}`));
  return run(deps, spec as never, signal);
}

/**
 * The key was ours when the tick decided, but the executor may reach the start seconds later
 * (a slow renew on a lossy link) and the key may be gone by then, a replica promoted on seeing
 * us stopped. The key is read once more after this job became visible on GET /patroni
 * (pg_ha_agent.starting_as): a member that saw us stopped and took the key read it after
 * this check. Not in pause: the operator runs PostgreSQL, with or without the key.
 */
async function proveKeyBeforeWritableStart(deps: JobDeps, signal: AbortSignal): Promise<void> {
  if (deps.dynamicConfig().pause) return;
  if (await deps.dcs.checkLeadership(signal)) return;
  throw new AgentError('key-lost-before-start', 'the leader key is no longer ours: postgresql not started as primary', { retryable: true });
}

/** What a running job starts PostgreSQL as (GET /patroni's pg_ha_agent.starting_as), or null. */
export function startsAs(spec: JobSpec | null): 'primary' | 'replica' | null {
  if (spec === null) return null;
  // A promotion is writable a moment later too: a racing peer must not read "in recovery" as stopped writing.
  if (startsWritable(spec) || spec.kind === 'promote') return 'primary';
  return spec.kind === 'switchover' ? null : 'replica';
}

/** A job that leaves PostgreSQL running writable when it succeeds: fenced by the lease while it runs. */
export function startsWritable(spec: JobSpec | null): boolean {
  if (spec === null) return false;
  return spec.kind === 'startPrimary' || spec.kind === 'bootstrap' || (spec.kind === 'restart' && spec.role === 'primary');
}
