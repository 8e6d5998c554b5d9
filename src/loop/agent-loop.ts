// The loop: observe -> decide -> act -> publish, every loop_wait seconds or at once when etcd
// changes, a job ends or a guard lost its compare. Nothing else in the process decides anything.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { ClusterView } from '../core/cluster.js';
import { probeReason } from '../core/probe-policy.js';
import { decide } from '../core/decide.js';
import { EMPTY_MEMORY, type Action, type DecideInput, type Decision, type FinishedJob, type JobSpec, type Memory, type PeerProbe } from '../core/decide-types.js';
import type { OperatorRequest, RequestAnswer } from '../core/requests.js';
import type { LocalPg } from '../core/local-pg.js';
import type { Dcs } from '../dcs/port.js';
import { emptyCounters, recordTick, type AgentCounters } from '../obs/metrics.js';
import { buildStatusSnapshot, type StatusSnapshot } from '../obs/status.js';
import { Executor } from './executor.js';
import type { JobRunner } from './jobs.js';
import { connUrl, memberBackoff, memberStatus, pgStateWord } from './member-status.js';
import type { PeerHttp } from './peer-http.js';
import { probePeers } from './peers.js';
import type { PgPort } from './pg-port.js';
import type { RequestQueue } from './request-queue.js';
import { LastValidConfig } from './config-memory.js';
import { effectiveDynamicConfig } from './dynamic-config.js';
import type { Timers } from './timers.js';
import { Scheduler, nextWaitMs, type TickOutcome } from './scheduler.js';
import { asError, errorMessage } from '../errors.js';

export interface LoopDeps {
  /** Seams for the deterministic simulator: virtual timers, and a deliberately broken decide() in its checks. */
  readonly timers?: Timers;
  readonly decide?: (input: DecideInput) => Decision;
  readonly config: () => Config;
  readonly dcs: Dcs;
  readonly pg: PgPort;
  readonly jobs: JobRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly agentVersion: string;
  /** Arms the fence timer and the guard process (S1) from the postmaster and the proven lease. */
  readonly fencing: { apply(): unknown; checkNow(): boolean; settled(): Promise<void> };
  readonly publish: (snap: StatusSnapshot) => void;
  /** GETs to other members' REST APIs (the S2 probe). */
  readonly peerHttp: PeerHttp;
  /** Operator requests the API queued (restart, reinitialize): decide() answers them. */
  readonly requests?: RequestQueue;
}

export class AgentLoop {
  private memory: Memory = EMPTY_MEMORY;
  private lastCluster: ClusterView | null = null;
  private dcsLastSeenWallMs: number | null = null;
  private counters: AgentCounters = emptyCounters();
  private fenceEvents = 0;
  private lastReason = '';
  private undone: readonly Action['kind'][] = [];
  /** This run has published its member key: from then on it is a live member, never a newcomer. */
  private joined = false;
  private readonly reported = new Set<string>();
  /** This tick's answers to operator requests, and the jobs its actions started. */
  private answers: readonly RequestAnswer[] = [];
  private readonly startedJobs = new Map<JobSpec, Promise<FinishedJob>>();
  private readonly executor: Executor;
  private readonly log: Logger;
  private readonly validConfig: LastValidConfig;
  private readonly scheduler: Scheduler;

  constructor(private readonly deps: LoopDeps) {
    this.log = deps.logger;
    this.validConfig = new LastValidConfig(deps.logger);
    this.scheduler = new Scheduler({ clock: deps.clock, logger: deps.logger, ...(deps.timers ? { timers: deps.timers } : {}) });
    this.executor = new Executor({
      dcs: deps.dcs, pg: deps.pg, jobs: deps.jobs, clock: deps.clock, logger: deps.logger.child({ component: 'executor' }),
      selfName: deps.config().name,
      bootstrapDcs: () => deps.config().bootstrap.dcs,
      dynamicConfig: () => this.dynamic(),
      onFence: () => { this.fenceEvents++; },
      onArm: () => { deps.fencing.apply(); },
      onJobStarted: (job, done) => { this.startedJobs.set(job, done); },
    });
  }

  dynamic(): DynamicConfig {
    return effectiveDynamicConfig(this.deps.config(), this.lastCluster);
  }

  /**
   * One fresh read of the cluster outside a tick, for what the way out decides from it (pause): the
   * last tick's view may predate an operator's change by a whole loop, or by a freeze.
   */
  async refreshView(signal: AbortSignal): Promise<boolean> {
    const view = await this.deps.dcs.snapshot({ signal }).then((v) => this.validConfig.apply(v), () => null);
    if (view === null) return false;
    this.lastCluster = view;
    return true;
  }

  hasSeenCluster(): boolean {
    return this.lastCluster !== null;
  }

  isJoined(): boolean {
    return this.joined;
  }

  countFence(): void {
    this.fenceEvents++;
  }

  /** A live member reports strangers and twins once each; it does not stop for them (SPEC 5.12). */
  private reportStrangers(cluster: ClusterView, config: Config): void {
    if (!this.joined) return;
    for (const m of cluster.members) {
      const twin = m.name === config.name && m.leaseId !== this.deps.dcs.lease().leaseId && m.connUrl !== connUrl(config);
      const stranger = m.name !== config.name && m.agent === undefined;
      if (!twin && !stranger) continue;
      const id = `${m.name}@${m.leaseId ?? ''}`;
      if (this.reported.has(id)) continue;
      this.reported.add(id);
      this.log.warn({ member: m.name, connUrl: m.connUrl },
        twin ? 'another agent uses this node\'s name; it must refuse to start (this live member keeps running)' : 'member without the pg-ha-agent field (Patroni?) in the cluster: ignored, never a candidate');
    }
  }

  /** Wake the loop now (etcd change, job finished, postmaster gone). */
  wake(): void {
    this.scheduler.wake();
  }

  /** Runs until the signal aborts or a decision halts; returns the exit code. */
  run(signal: AbortSignal): Promise<number> {
    return this.scheduler.run((s) => this.tick(s), (elapsedMs) => nextWaitMs(this.dynamic().loop_wait, this.lastCluster?.failover?.value.scheduledAt, this.deps.clock.wallNowMs(), elapsedMs), signal);
  }

  async tick(signal?: AbortSignal): Promise<TickOutcome> {
    const requests = this.deps.requests?.take() ?? [];
    this.answers = [];
    this.startedJobs.clear();
    try {
      return await this.tickOnce(requests, signal);
    } finally {
      if (requests.length > 0) this.deps.requests?.settle(this.answers, this.startedJobs);
    }
  }

  private async tickOnce(requests: readonly OperatorRequest[], signal?: AbortSignal): Promise<TickOutcome> {
    const { clock, dcs, pg } = this.deps;
    const config = this.deps.config();
    const t0 = clock.monoMs();
    // A resumed (SIGCONT) or starved process checks its deadline before anything else.
    this.deps.fencing.checkNow();
    const [first, dcsError] = await dcs.snapshot({ ...(signal ? { signal } : {}) }).then(
      (c) => [this.validConfig.apply(c), null] as const,
      (err: unknown) => [null, errorMessage(err)] as const,
    );
    let cluster: ClusterView | null = first;
    if (cluster) {
      this.lastCluster = cluster;
      this.dcsLastSeenWallMs = clock.wallNowMs();
      this.reportStrangers(cluster, config);
    }
    // The job running when PostgreSQL is observed: one that ends before decide() (a promotion
    // finishing during the probes) made that observation stale.
    const jobAtObserve = this.deps.jobs.running();
    const observed = await pg.observe(signal);
    const dynamic = this.dynamic();
    const probedAtMs = clock.monoMs();
    const peers = await this.maybeProbe(cluster, observed, config.name);
    // Race (S2 d): our own position is read after the peers' fresh ones, never before them. Without
    // a streaming WAL receiver nothing arrives, and the first reading is still exact.
    // A writable primary's own position moves too: a stale one would rank it behind its replicas.
    const receiving = observed.kind === 'running' && (!observed.inRecovery || observed.walReceiver?.status === 'streaming');
    const jobEnded = this.deps.jobs.running() !== jobAtObserve;
    const local = (peers.size > 0 && receiving) || jobEnded ? await pg.observe(signal) : observed;
    cluster = await this.consistentView(cluster, config.name, signal);
    const finished = this.deps.jobs.takeFinished();
    if (finished) this.memory = { ...this.memory, lastJob: finished };
    const input: DecideInput = {
      self: {
        name: config.name, tags: config.tags, agent: this.deps.agentVersion, connUrl: connUrl(config),
        recloneOnRewindFailure: config.postgresql.remove_data_directory_on_rewind_failure,
      },
      config: dynamic, cluster, dcsError, lease: this.leaseForDecide(), joined: this.joined,
      local, fenced: pg.isFenced(), peers, ...(peers.size > 0 ? { peersProbedAtMs: probedAtMs } : {}), job: this.deps.jobs.running(), memory: this.memory,
      nowMs: clock.monoMs(), wallNowMs: clock.wallNowMs(), undone: this.undone, ...(requests.length > 0 ? { requests } : {}),
    };
    const decision = (this.deps.decide ?? decide)(input);
    this.memory = decision.memory;
    this.answers = decision.answers ?? [];
    if (requests.length > 0) this.log.info({ requests, answers: this.answers }, 'operator requests answered');
    this.logDecision(decision, local, cluster, clock.monoMs() - t0);
    const result = await this.executor.run(decision.actions, local, signal);
    this.undone = result.undone;
    if (result.halt !== null) {
      // A refusal writes nothing more: a newcomer that refuses must not overwrite a live member's key.
      this.deps.fencing.apply();
      return { halt: result.halt, retickNow: false, retickSoon: false };
    }
    // A promotion (or a stop) changed what HAProxy must see: publish the new state now, not a
    // loop_wait later.
    const changedRole = decision.actions.some((a) => a.kind === 'promote' || a.kind === 'fence' || a.kind === 'stop' || a.kind === 'follow');
    const after = changedRole ? await pg.observe(signal).catch(() => local) : local;
    const holds = await this.afterActions(config, after, decision);
    const durationMs = clock.monoMs() - t0;
    this.counters = recordTick(this.counters, { durationMs, actionKinds: decision.actions.map((a) => a.kind) });
    this.publish(config, after, cluster, holds, decision, dynamic);
    return { halt: result.halt, retickNow: result.retickNow, retickSoon: result.retickSoon };
  }

  private async maybeProbe(cluster: ClusterView | null, local: LocalPg, self: string): Promise<Map<string, PeerProbe>> {
    const why = probeReason({ cluster, local, self, primaryStartTimeoutSec: this.dynamic().primary_start_timeout });
    if (cluster === null || why === null) return new Map();
    return this.probe(cluster, self);
  }

  private probe(cluster: ClusterView, self: string): Promise<Map<string, PeerProbe>> {
    // Members without our agent field (Patroni, a stranger) are never candidates: not probed.
    return probePeers(cluster.members.filter((m) => m.agent !== undefined), self, { timeoutMs: 2_000, http: this.deps.peerHttp });
  }

  /**
   * The lease keeper may have ended or re-proven our leadership while this tick observed (the
   * watch saw our key deleted, the retake won): a snapshot that disagrees with it is stale, and a
   * decision on it could fence a primary whose key was just taken back. Wait for a retake in
   * flight, then read again (bounded). A restarted agent's key under its previous run's lease is
   * not a disagreement: decide() re-attaches it.
   */
  private async consistentView(cluster: ClusterView | null, self: string, signal?: AbortSignal): Promise<ClusterView | null> {
    let view = cluster;
    for (let i = 0; i < 2 && view !== null; i++) {
      await this.deps.fencing.settled();
      const proven = this.deps.dcs.leadership();
      const key = view.leader;
      const keyOursUnderOurLease = key?.name === self && key.leaseId === this.deps.dcs.lease().leaseId;
      const stale = (proven !== null && key?.name !== self) || (proven === null && keyOursUnderOurLease);
      if (!stale) return view;
      this.log.info({ snapshotLeader: key?.name ?? null, proven: proven !== null }, 'snapshot disagrees with the lease keeper; reading etcd again');
      view = await this.deps.dcs.snapshot({ ...(signal ? { signal } : {}) }).then((v) => this.validConfig.apply(v), () => view);
    }
    return view;
  }

  /**
   * What decide() sees of the lease: the deadline of the lease the leader key is proven attached
   * to (a fresh lease the key does not hang on proves nothing), and our current lease id.
   */
  private leaseForDecide(): { leaseId: string | null; validUntilMs: number } {
    const leadership = this.deps.dcs.leadership();
    return { leaseId: this.deps.dcs.lease().leaseId, validUntilMs: leadership?.validUntilMs ?? -Infinity };
  }

  /** Holding the leader key means: proven under the lease we keep alive, and that lease's deadline not passed. */
  private holdsLeader(): boolean {
    const leadership = this.deps.dcs.leadership();
    return leadership !== null && this.deps.clock.monoMs() < leadership.validUntilMs;
  }

  /** Member key, fence timer and guard, after the tick's actions. Returns whether we hold the key. */
  private async afterActions(config: Config, local: LocalPg, decision: Decision): Promise<boolean> {
    const { dcs } = this.deps;
    const holds = this.holdsLeader();
    this.deps.fencing.apply();
    const job = this.deps.jobs.running();
    try {
      await dcs.touchMember(memberStatus({ config, agent: this.deps.agentVersion, local, holdsLeader: holds, jobKind: job?.spec.kind ?? null, reason: decision.reason, paused: this.dynamic().pause,
        backoff: memberBackoff(decision.memory.jobBackoff, this.deps.clock.monoMs()), switchoverAbort: decision.memory.switchoverAbort,
        leaseTtl: dcs.lease().grantedTtlSec }));
      this.joined = true;
    } catch (err) {
      this.log.debug({ err: asError(err) }, 'member key update failed');
    }
    return holds;
  }

  private publish(config: Config, local: LocalPg, cluster: ClusterView | null, holds: boolean, decision: Decision, dynamic: DynamicConfig): void {
    this.counters = { ...this.counters, fenceEventsTotal: this.fenceEvents };
    this.deps.publish(buildStatusSnapshot({
      name: config.name, scope: config.scope, agentVersion: this.deps.agentVersion, local,
      cluster: cluster ?? this.lastCluster, dcsOk: cluster !== null, dcsLastSeenWallMs: this.dcsLastSeenWallMs,
      holdsLeader: holds, leaseValidUntilMs: this.deps.dcs.leadership()?.validUntilMs ?? -Infinity, dynamic, tags: config.tags,
      pgState: pgStateWord(local, this.deps.jobs.running()?.spec.kind ?? null),
      ...(local.kind === 'running' ? {} : { pgRole: local.dataDir === 'empty' ? 'uninitialized' as const : holds ? 'primary' as const : 'replica' as const }),
      lastDecision: { reason: decision.reason, actions: decision.actions.map((a) => a.kind), ...abortedField(decision) },
      tickMonoMs: this.deps.clock.monoMs(), counters: this.counters, jobBackoff: decision.memory.jobBackoff,
    }));
  }

  private logDecision(d: Decision, local: LocalPg, cluster: ClusterView | null, observeMs: number): void {
    const changed = d.actions.length > 0 || d.reason !== this.lastReason;
    this.lastReason = d.reason;
    const fields = {
      role: local.kind === 'running' ? (local.inRecovery ? 'replica' : 'primary') : local.kind,
      leader: cluster?.leader?.name ?? null,
      timeline: local.kind === 'running' ? local.timeline : null,
      actions: d.actions.map((a) => a.kind),
      reason: d.reason,
      observeMs: Math.round(observeMs),
    };
    if (changed) this.log.info(fields, 'tick');
    else this.log.debug(fields, 'tick');
  }
}

/** The last aborted switchover, as /patroni shows it. */
function abortedField(decision: Decision): { switchoverAborted?: { to: string; reason: string; at: string } } {
  const abort = decision.memory.switchoverAbort;
  return abort ? { switchoverAborted: { to: abort.candidate, reason: abort.reason, at: new Date(abort.wallAtMs).toISOString() } } : {};
}
