// The loop: a tick (src/loop/tick.ts: observe -> decide -> act -> publish) every loop_wait
// seconds, or at once when etcd changes, a job ends or a guard lost its compare (the scheduler).
// Nothing else in the process decides anything. AgentLoop is the shell the daemon and the
// simulator hold: it wires the tick's ports, keeps the state one tick hands to the next, and
// answers the few questions other parts ask between ticks.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { decide } from '../core/decide.js';
import type { DecideInput, Decision } from '../core/decide-types.js';
import type { Dcs } from '../dcs/port.js';
import { FenceCount } from '../fence/fence-count.js';
import type { StatusSnapshot } from '../obs/status.js';
import { Executor, type ExecutorPort } from './executor.js';
import type { JobRunner } from './jobs.js';
import type { PeerHttp } from './peer-http.js';
import type { PgPort } from './pg-port.js';
import type { RequestQueue } from './request-queue.js';
import type { Timers } from '../time/timers.js';
import { Scheduler, nextWaitMs, type TickOutcome } from './scheduler.js';
import { initialTickState, tick, type FencingPort, type TickPorts, type TickState } from './tick.js';
import { ViewStore } from './view-store.js';

export interface LoopDeps {
  /** Seams for the deterministic simulator: virtual timers, and a deliberately broken decide() in its checks. */
  readonly timers?: Timers;
  readonly decide?: (input: DecideInput) => Decision;
  /** The executor of the decisions' actions; default the product's (src/loop/executor.ts). */
  readonly executor?: ExecutorPort;
  readonly config: () => Config;
  readonly dcs: Dcs;
  readonly pg: PgPort;
  readonly jobs: JobRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly agentVersion: string;
  /** Arms the fence timer and the guard process (S1) from the postmaster and the proven lease. */
  readonly fencing: FencingPort;
  readonly publish: (snap: StatusSnapshot) => void;
  /** GETs to other members' REST APIs (the S2 probe). */
  readonly peerHttp: PeerHttp;
  /** Operator requests the API queued (restart, reinitialize): decide() answers them. */
  readonly requests?: RequestQueue;
  /** Fences counted by every fencer (the executor's fence action, the fence timer). */
  readonly fences?: FenceCount;
  /** The last cluster view, shared with the readers of the dynamic config (built here if absent). */
  readonly views?: ViewStore;
  /** When ticks run; whoever has news (a job ended, a request, the fence) wakes it (built here if absent). */
  readonly scheduler?: Scheduler;
}

export class AgentLoop {
  private state: TickState = initialTickState();
  private readonly fences: FenceCount;
  private readonly views: ViewStore;
  private readonly scheduler: Scheduler;
  private readonly ports: TickPorts;

  constructor(private readonly deps: LoopDeps) {
    this.views = deps.views ?? new ViewStore(deps.logger);
    this.fences = deps.fences ?? new FenceCount();
    this.scheduler = deps.scheduler ?? new Scheduler({ clock: deps.clock, logger: deps.logger, ...(deps.timers ? { timers: deps.timers } : {}) });
    this.ports = {
      config: deps.config, agentVersion: deps.agentVersion, dcs: deps.dcs, pg: deps.pg, jobs: deps.jobs, clock: deps.clock, logger: deps.logger,
      fencing: deps.fencing, peerHttp: deps.peerHttp, publish: deps.publish, ...(deps.requests ? { requests: deps.requests } : {}),
      decide: deps.decide ?? decide, executor: deps.executor ?? this.productExecutor(), views: this.views, fenceEvents: () => this.fences.total(),
    };
  }

  private productExecutor(): Executor {
    const { deps } = this;
    return new Executor({
      dcs: deps.dcs, pg: deps.pg, jobs: deps.jobs, clock: deps.clock, logger: deps.logger.child({ component: 'executor' }),
      selfName: deps.config().name,
      bootstrapDcs: () => deps.config().bootstrap.dcs,
      dynamicConfig: () => this.dynamic(),
      fences: this.fences,
      fencing: deps.fencing,
    });
  }

  dynamic(): DynamicConfig {
    return this.views.dynamic(this.deps.config());
  }

  /**
   * One fresh read of the cluster outside a tick, for what the way out decides from it (pause): the
   * last tick's view may predate an operator's change by a whole loop, or by a freeze.
   */
  async refreshView(signal: AbortSignal): Promise<boolean> {
    const view = await this.deps.dcs.snapshot({ signal }).then((v) => this.views.validate(v), () => null);
    if (view === null) return false;
    this.views.remember(view);
    return true;
  }

  isJoined(): boolean {
    return this.state.joined;
  }

  /** Wake the loop now (etcd change, job finished, postmaster gone). */
  wake(): void {
    this.scheduler.wake();
  }

  /** Runs until the signal aborts or a decision halts; returns the exit code. */
  run(signal: AbortSignal): Promise<number> {
    const waitAfter = (elapsedMs: number): number =>
      nextWaitMs(this.dynamic().loop_wait, this.views.latest()?.failover?.value.scheduledAt, this.deps.clock.wallNowMs(), elapsedMs);
    return this.scheduler.run((s) => this.tick(s), waitAfter, signal);
  }

  /** One tick now; a tick that threw keeps the state it reached, and the scheduler logs the error. */
  async tick(signal?: AbortSignal): Promise<TickOutcome> {
    const result = await tick(this.ports, this.state, signal);
    this.state = result.state;
    if ('failed' in result) throw result.failed;
    return result.outcome;
  }
}
