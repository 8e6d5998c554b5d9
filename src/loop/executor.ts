// Runs one decision's actions in order. Guards (acquire, renew, claimInitialize) that lose their
// compare stop the list; the loop then ticks again at once.
import type { Logger } from 'pino';
import type { DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Action, FinishedJob, JobSpec } from '../core/decide-types.js';
import type { LocalPg } from '../core/local-pg.js';
import type { Dcs } from '../dcs/port.js';
import type { JobRunner } from './jobs.js';
import type { PgPort } from './pg-port.js';
import { asError, errorMessage, InvariantViolation } from '../errors.js';
import type { FenceCount } from '../fence/fence-count.js';

export interface ExecutorDeps {
  readonly dcs: Dcs;
  readonly pg: PgPort;
  readonly jobs: JobRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly selfName: string;
  readonly bootstrapDcs: () => DynamicConfig;
  readonly dynamicConfig: () => DynamicConfig;
  /** Counts the fence (the status snapshot's fence events); the fence itself is the action's. */
  readonly fences?: FenceCount;
  /** Arms the fence timer and guard now (the key was just taken; a promotion may block for long). */
  readonly fencing?: { apply(): unknown };
}

/** What the tick needs of an executor: the simulator and unit tests inject their own. */
export interface ExecutorPort {
  run(actions: readonly Action[], local: LocalPg, signal?: AbortSignal): Promise<ExecutionResult>;
}

export interface ExecutionResult {
  /** A guard lost its compare: tick again at once. */
  readonly retickNow: boolean;
  /** An action failed: tick again after a short pause, not a whole loop_wait. */
  readonly retickSoon: boolean;
  readonly halt: number | null;
  readonly failures: readonly { readonly action: string; readonly error: string }[];
  /** Kinds of the actions that failed or did not run (decide() sees them next tick). */
  readonly undone: readonly Action['kind'][];
  /** The jobs the actions started (startJob): an operator request that asked for one waits for its end. */
  readonly started: ReadonlyMap<JobSpec, Promise<FinishedJob>>;
}

const SYNC_STEPS: ReadonlySet<string> = new Set(['writeSync', 'deleteSync', 'setSyncStandbyNames']);

type StepAction = Exclude<Action, { kind: 'halt' | 'probeAgain' | 'probePeers' }>;
const ETCD_KINDS = ['acquireLeader', 'renewLeader', 'releaseLeader', 'claimInitialize', 'setInitialize', 'deleteInitialize',
  'seedConfig', 'deleteFailover', 'publishLeaderStatus', 'writeSync', 'deleteSync'] as const;
type EtcdStep = Extract<StepAction, { kind: (typeof ETCD_KINDS)[number] }>;
type LocalStep = Exclude<StepAction, EtcdStep>;
const ETCD_STEPS: ReadonlySet<string> = new Set(ETCD_KINDS);
const isEtcdStep = (a: StepAction): a is EtcdStep => ETCD_STEPS.has(a.kind);

export class Executor implements ExecutorPort {
  private slotsFor = '';

  constructor(private readonly deps: ExecutorDeps) {}

  async run(actions: readonly Action[], local: LocalPg, signal?: AbortSignal): Promise<ExecutionResult> {
    const failures: { action: string; error: string }[] = [];
    const undone: Action['kind'][] = [];
    const started = new Map<JobSpec, Promise<FinishedJob>>();
    const rest = (i: number): Action['kind'][] => [...undone, ...actions.slice(i).map((a) => a.kind)];
    for (const [i, action] of actions.entries()) {
      if (action.kind === 'halt') return { retickNow: false, retickSoon: false, halt: action.exitCode, failures, undone: rest(i + 1), started };
      if (action.kind === 'probeAgain') return { retickNow: true, retickSoon: false, halt: null, failures, undone: rest(i + 1), started };
      // The tick answers it (it asks the peers and decides again); it never reaches the executor.
      if (action.kind === 'probePeers') throw new InvariantViolation('a probePeers decision reached the executor');
      try {
        const ok = await this.one(action, local, started, signal);
        if (!ok) {
          this.deps.logger.info({ action: action.kind }, 'guard lost; skipping the rest of the actions');
          return { retickNow: true, retickSoon: false, halt: null, failures, undone: rest(i), started };
        }
      } catch (err) {
        // Not an action that failed: the agent itself is wrong, and the tick policy ends it.
        if (err instanceof InvariantViolation) throw err;
        const error = errorMessage(err);
        failures.push({ action: action.kind, error });
        this.deps.logger.warn({ action: action.kind, err: asError(err) }, 'action failed');
        // A sync step that failed must stop what follows it: the write order is the invariant (S3).
        if (action.kind === 'acquireLeader' || action.kind === 'renewLeader' || action.kind === 'claimInitialize' || action.kind === 'promote' || SYNC_STEPS.has(action.kind)) {
          return { retickNow: false, retickSoon: true, halt: null, failures, undone: rest(i), started };
        }
        undone.push(action.kind);
      }
    }
    return { retickNow: false, retickSoon: failures.length > 0, halt: null, failures, undone, started };
  }

  /**
   * Returns false when a guard lost its compare. Not async itself: each kind's awaits stay in one
   * async method, as deep as before (the simulator's seeds replay the microtask interleaving).
   */
  private one(action: StepAction, local: LocalPg, started: Map<JobSpec, Promise<FinishedJob>>, signal?: AbortSignal): Promise<boolean> {
    return isEtcdStep(action) ? this.etcdStep(action, local, signal) : this.localStep(action, started, signal);
  }

  private async etcdStep(action: EtcdStep, local: LocalPg, signal?: AbortSignal): Promise<boolean> {
    const { dcs } = this.deps;
    switch (action.kind) {
      case 'acquireLeader': {
        const won = await dcs.acquireLeader(signal, acquireGuards(action));
        if (won) this.deps.fencing?.apply();
        return won;
      }
      case 'renewLeader': return dcs.renewLeader(signal);
      case 'releaseLeader': await dcs.releaseLeader(signal); return true;
      case 'claimInitialize': return dcs.initialize(action.systemId, signal);
      case 'setInitialize':
        // initialize holds '' while the bootstrap runs; the leader replaces it with the sysid.
        await dcs.deleteInitialize(signal);
        await dcs.initialize(action.systemId, signal);
        return true;
      case 'deleteInitialize': await dcs.deleteInitialize(signal); return true;
      case 'seedConfig': await dcs.setConfig(this.deps.bootstrapDcs(), 0, signal); return true;
      case 'deleteFailover': await dcs.deleteFailover(action.modRevision, signal); return true;
      case 'publishLeaderStatus': {
        const optime = local.kind === 'running' && !local.inRecovery ? local.currentLsn : null;
        // A status put in pause says so: it outlives this leader if it dies or is cut off in pause.
        const pause = this.deps.dynamicConfig().pause === true ? { pause: true } : {};
        if (optime !== null) await dcs.setStatus({ optime, ...pause }, signal);
        return true;
      }
      case 'writeSync': return dcs.setSync(syncOf(action), action.modRevision, signal);
      case 'deleteSync': return dcs.deleteSync(action.modRevision, signal);
    }
  }

  private async localStep(action: LocalStep, started: Map<JobSpec, Promise<FinishedJob>>, signal?: AbortSignal): Promise<boolean> {
    const { pg, logger } = this.deps;
    switch (action.kind) {
      case 'promote': return this.promote(action);
      case 'createSlots': {
        const key = [...action.members].sort().join(',');
        if (key === this.slotsFor) return true;
        await pg.syncSlots(action.members, signal);
        this.slotsFor = key;
        return true;
      }
      case 'follow': await pg.follow(action.leader, signal); return true;
      case 'fence': this.deps.fences?.add(); await pg.fence(action.reason); return true;
      case 'clearFence': pg.clearFence(); return true;
      case 'stop': await pg.stop(action.mode, this.deps.dynamicConfig().primary_stop_timeout * 1000 || 60_000); return true;
      case 'startJob': started.set(action.job, this.deps.jobs.start(action.job)); return true;
      case 'abortJob': await this.deps.jobs.abort(); return true;
      case 'setSyncStandbyNames': await pg.setSyncStandbyNames(action.value, signal); return true;
      case 'applyDynamicConfig':
        await pg.applyDynamicConfig(this.deps.dynamicConfig(), signal);
        logger.info({ configRevision: action.revision }, 'dynamic configuration applied to postgresql (reloaded)');
        return true;
      default: {
        const never: never = action;
        throw new InvariantViolation(`decide() returned an action the executor does not know: ${JSON.stringify(never)}`);
      }
    }
  }

  /** Starts the promotion job (history, then pg_promote) and returns: ticks go on renewing the lease. */
  private promote(action: Extract<Action, { kind: 'promote' }>): boolean {
    this.slotsFor = '';
    this.deps.jobs.start({
      kind: 'promote', oldTimeline: action.oldTimeline, switchLsn: action.switchLsn, reason: action.reason,
      ...(action.timelineFiles ? { timelineFiles: action.timelineFiles } : {}),
    })
      .catch(() => undefined);
    return true;
  }
}

/** The revisions decide() asked acquireLeader to compare (only those it set). */
function acquireGuards(action: Extract<Action, { kind: 'acquireLeader' }>): { statusRev?: number; viewRevision?: number; historyRev?: number } {
  const { statusRev, viewRevision, historyRev } = action;
  return { ...(statusRev === undefined ? {} : { statusRev }), ...(viewRevision === undefined ? {} : { viewRevision }), ...(historyRev === undefined ? {} : { historyRev }) };
}

function syncOf(action: Extract<Action, { kind: 'writeSync' }>) {
  return { leader: action.leader, syncStandby: action.standbys, ...(action.quorum === undefined ? {} : { quorum: action.quorum }) };
}
