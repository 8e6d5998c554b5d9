// One tick: observe -> decide -> act -> publish. State in, new state out; everything it reads or
// acts on comes in through its ports (the executor too), so unit tests and the simulator pass their
// own. When (and how often) it runs is the scheduler's business (src/loop/scheduler.ts).
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { ClusterView } from '../core/cluster.js';
import type { DecideInput, Decision, FinishedJob, JobSpec } from '../core/decide-types.js';
import type { LocalPg } from '../core/local-pg.js';
import type { OperatorRequest, RequestAnswer } from '../core/requests.js';
import type { Dcs } from '../dcs/port.js';
import { InvariantViolation } from '../errors.js';
import { connUrl } from './member-status.js';
import { askPeers, consistentView, readCluster, readLocal, type LocalRead } from './observe.js';
import { publishMember, publishStatus } from './publish.js';
import type { TickOutcome } from './scheduler.js';
import type { TickPorts, TickState } from './tick-types.js';

export type { FencingPort, TickPorts, TickState } from './tick-types.js';
export { initialTickState } from './tick-types.js';

/** A tick that threw still hands back the state it reached (a decision's memory is not lost). */
export type TickResult =
  | { readonly state: TickState; readonly outcome: TickOutcome }
  | { readonly state: TickState; readonly failed: unknown };

/** The tick in progress: its state so far, and what the operator requests' answers need. */
interface TickRun {
  state: TickState;
  answers: readonly RequestAnswer[];
  started: ReadonlyMap<JobSpec, Promise<FinishedJob>>;
}

export async function tick(ports: TickPorts, state: TickState, signal?: AbortSignal): Promise<TickResult> {
  const requests = ports.requests?.take() ?? [];
  const run: TickRun = { state, answers: [], started: new Map() };
  try {
    const outcome = await tickOnce(ports, run, requests, signal);
    return { state: run.state, outcome };
  } catch (failed) {
    return { state: run.state, failed };
  } finally {
    if (requests.length > 0) ports.requests?.settle(run.answers, run.started);
  }
}

async function tickOnce(ports: TickPorts, run: TickRun, requests: readonly OperatorRequest[], signal?: AbortSignal): Promise<TickOutcome> {
  const { clock } = ports;
  const config = ports.config();
  const t0 = clock.monoMs();
  // A resumed (SIGCONT) or starved process checks its deadline before anything else.
  ports.fencing.checkNow();
  const read = await readCluster(ports, run.state, config, signal);
  run.state = read.state;
  const first = await readLocal(ports, signal);
  const viewed = await consistentView(ports, read.cluster, config.name, signal);
  const { cluster, seen, decision } = await decideWithPeers(ports, run, { config, cluster: viewed, dcsError: read.dcsError, seen: first, requests }, signal);
  run.state = { ...run.state, memory: decision.memory };
  run.answers = decision.answers ?? [];
  if (requests.length > 0) ports.logger.info({ requests, answers: run.answers }, 'operator requests answered');
  run.state = { ...run.state, lastReason: logDecision(ports.logger, run.state.lastReason, decision, seen.local, cluster, clock.monoMs() - t0) };
  const result = await ports.executor.run(decision.actions, seen.local, signal);
  run.started = result.started;
  run.state = { ...run.state, undone: result.undone };
  if (result.halt !== null) {
    // A refusal writes nothing more: a newcomer that refuses must not overwrite a live member's key.
    ports.fencing.apply();
    return { halt: result.halt, retickNow: false, retickSoon: false };
  }
  await afterActions(ports, run, { config, cluster, seen, decision, t0 }, signal);
  const lookAgain = decision.lookAgainAtMs === undefined ? {} : { lookAgainAtMs: decision.lookAgainAtMs };
  return { halt: result.halt, retickNow: result.retickNow, retickSoon: result.retickSoon, ...lookAgain };
}

/**
 * decide() on what the tick saw; when it asks for the peers (probePeers), ask them, look at the
 * snapshot and PostgreSQL again where they may have gone stale meanwhile, and decide again.
 */
async function decideWithPeers(ports: TickPorts, run: TickRun, o: Observed, signal?: AbortSignal): Promise<{ cluster: ClusterView | null; seen: LocalRead; decision: Decision }> {
  takeFinished(ports, run);
  const first = ports.decide(decideInput(ports, run.state, o, false));
  const ask = first.actions.find((a) => a.kind === 'probePeers');
  if (ask === undefined) return { cluster: o.cluster, seen: o.seen, decision: first };
  if (first.actions.length > 1) throw new InvariantViolation(`decide() asked for the peers together with other actions: ${first.actions.map((a) => a.kind).join(', ')}`);
  const seen = await askPeers(ports, o.cluster, o.seen, o.config.name, signal);
  const cluster = await consistentView(ports, o.cluster, o.config.name, signal);
  takeFinished(ports, run);
  const decision = ports.decide(decideInput(ports, run.state, { ...o, cluster, seen }, true));
  if (decision.actions.some((a) => a.kind === 'probePeers')) throw new InvariantViolation('decide() asked for the peers again after they answered');
  return { cluster, seen, decision };
}

/** A job that ended is decide()'s to absorb, once. */
function takeFinished(ports: TickPorts, run: TickRun): void {
  const finished = ports.jobs.takeFinished();
  if (finished) run.state = { ...run.state, memory: { ...run.state.memory, lastJob: finished } };
}

interface Observed {
  readonly config: Config;
  readonly cluster: ClusterView | null;
  readonly dcsError: string | null;
  readonly seen: LocalRead;
  readonly requests: readonly OperatorRequest[];
}

function decideInput(ports: TickPorts, state: TickState, o: Observed, peersProbed: boolean): DecideInput {
  const { clock, jobs, pg } = ports;
  const { config, seen: { local, peers, probedAtMs }, requests } = o;
  return {
    self: {
      name: config.name, tags: config.tags, agent: ports.agentVersion, connUrl: connUrl(config),
      recloneOnRewindFailure: config.postgresql.remove_data_directory_on_rewind_failure,
    },
    config: o.seen.dynamic, cluster: o.cluster, dcsError: o.dcsError, lease: leaseForDecide(ports.dcs), joined: state.joined,
    local, fenced: pg.isFenced(), peers, peersProbed, ...(peers.size > 0 ? { peersProbedAtMs: probedAtMs } : {}), job: jobs.running(), memory: state.memory,
    nowMs: clock.monoMs(), wallNowMs: clock.wallNowMs(), undone: state.undone, ...(requests.length > 0 ? { requests } : {}),
  };
}

/**
 * What decide() sees of the lease: the deadline of the lease the leader key is proven attached
 * to (a fresh lease the key does not hang on proves nothing), and our current lease id.
 */
function leaseForDecide(dcs: Dcs): { leaseId: string | null; validUntilMs: number } {
  const leadership = dcs.leadership();
  return { leaseId: dcs.lease().leaseId, validUntilMs: leadership?.validUntilMs ?? -Infinity };
}

/** Member key, fence, counters and status snapshot, from PostgreSQL as the actions left it. */
async function afterActions(ports: TickPorts, run: TickRun, a: { config: Config; cluster: ClusterView | null; seen: LocalRead; decision: Decision; t0: number }, signal?: AbortSignal): Promise<void> {
  const { config, cluster, seen: { local, dynamic }, decision } = a;
  // A promotion (or a stop) changed what HAProxy must see: publish the new state now, not a
  // loop_wait later.
  const changedRole = decision.actions.some((x) => x.kind === 'promote' || x.kind === 'fence' || x.kind === 'stop' || x.kind === 'follow');
  const after = changedRole ? await ports.pg.observe(signal).catch(() => local) : local;
  const member = await publishMember(ports, run.state, config, after, decision);
  run.state = member.state;
  const durationMs = ports.clock.monoMs() - a.t0;
  run.state = publishStatus(ports, run.state, { config, local: after, cluster, holds: member.holds, decision, dynamic, durationMs });
}

/** Logs the decision at info when it acts or its reason changed, at debug otherwise; returns the reason. */
function logDecision(log: Logger, lastReason: string, d: Decision, local: LocalPg, cluster: ClusterView | null, observeMs: number): string {
  const changed = d.actions.length > 0 || d.reason !== lastReason;
  const fields = {
    role: local.kind === 'running' ? (local.inRecovery ? 'replica' : 'primary') : local.kind,
    leader: cluster?.leader?.name ?? null,
    timeline: local.kind === 'running' ? local.timeline : null,
    actions: d.actions.map((a) => a.kind),
    reason: d.reason,
    observeMs: Math.round(observeMs),
  };
  if (changed) log.info(fields, 'tick');
  else log.debug(fields, 'tick');
  return d.reason;
}
