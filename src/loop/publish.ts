// After a tick's actions: the member key (which makes this run a live member), the fence armed
// from the lease as it stands now, and the status snapshot the REST API and the metrics serve.
import type { Config, DynamicConfig } from '../config/types.js';
import type { ClusterView } from '../core/cluster.js';
import type { Decision } from '../core/decide-types.js';
import type { LocalPg } from '../core/local-pg.js';
import { asError } from '../errors.js';
import { recordTick } from '../obs/metrics.js';
import { buildStatusSnapshot } from '../obs/status.js';
import { nextSeenWal } from '../core/seen-wal.js';
import { memberBackoff, memberStatus, pgStateWord } from './member-status.js';
import type { TickPorts, TickState } from './tick-types.js';

/** Holding the leader key means: proven under the lease we keep alive, and that lease's deadline not passed. */
function holdsLeader(ports: TickPorts): boolean {
  const leadership = ports.dcs.leadership();
  return leadership !== null && ports.clock.monoMs() < leadership.validUntilMs;
}

/** Member key, fence timer and guard, after the tick's actions. Returns whether we hold the key. */
export async function publishMember(ports: TickPorts, state: TickState, config: Config, local: LocalPg, decision: Decision): Promise<{ state: TickState; holds: boolean }> {
  const { dcs, clock } = ports;
  const holds = holdsLeader(ports);
  ports.fencing.apply();
  const job = ports.jobs.running();
  try {
    await dcs.touchMember(memberStatus({ config, agent: ports.agentVersion, local, holdsLeader: holds, jobKind: job?.spec.kind ?? null, reason: decision.reason, paused: ports.views.dynamic(ports.config()).pause,
      backoff: memberBackoff(decision.memory.jobBackoff, clock.monoMs()), switchoverAbort: decision.memory.switchoverAbort,
      leaseTtl: dcs.lease().grantedTtlSec }));
    return { state: { ...state, joined: true }, holds };
  } catch (err) {
    ports.logger.debug({ err: asError(err) }, 'member key update failed');
    return { state, holds };
  }
}

export interface StatusFacts {
  readonly config: Config;
  readonly local: LocalPg;
  /** This tick's view; null when etcd did not answer (the last one read is shown). */
  readonly cluster: ClusterView | null;
  readonly holds: boolean;
  readonly decision: Decision;
  readonly dynamic: DynamicConfig;
  readonly durationMs: number;
}

/** Counts the tick and publishes the status snapshot. */
export function publishStatus(ports: TickPorts, state: TickState, f: StatusFacts): TickState {
  const { config, local, holds, decision } = f;
  const seenWal = nextSeenWal(state.seenWal, local, ports.jobs.running()?.spec.kind ?? null);
  const counters = { ...recordTick(state.counters, { durationMs: f.durationMs, actionKinds: decision.actions.map((a) => a.kind) }), fenceEventsTotal: ports.fenceEvents() };
  ports.publish(buildStatusSnapshot({
    name: config.name, scope: config.scope, agentVersion: ports.agentVersion, local,
    cluster: f.cluster ?? ports.views.latest(), dcsOk: f.cluster !== null, dcsLastSeenWallMs: state.dcsLastSeenWallMs,
    holdsLeader: holds, leaseValidUntilMs: ports.dcs.leadership()?.validUntilMs ?? -Infinity, dynamic: f.dynamic, tags: config.tags,
    pgState: pgStateWord(local, ports.jobs.running()?.spec.kind ?? null),
    ...pgRoleField(local, holds),
    lastDecision: { reason: decision.reason, actions: decision.actions.map((a) => a.kind), ...abortedField(decision) },
    tickMonoMs: ports.clock.monoMs(), counters, jobBackoff: decision.memory.jobBackoff, seenWal,
  }));
  return { ...state, counters, seenWal };
}

/**
 * The role of a PostgreSQL the tick could not query. A stopped one is started in the role the key
 * gives it. An unresponsive one runs in the role its data directory says (no standby.signal: a
 * primary): a hung primary's open sessions may still commit, and reporting it as the replica of a
 * key it lost cleared a promotion beside it (sim seed 867 of set 6); buildNodeStatus reads the disk.
 */
function pgRoleField(local: LocalPg, holds: boolean): { pgRole?: 'uninitialized' | 'primary' | 'replica' } {
  if (local.kind === 'running') return {};
  if (local.dataDir === 'empty') return { pgRole: 'uninitialized' };
  if (local.kind === 'unresponsive') return holds ? { pgRole: 'primary' } : {};
  return { pgRole: holds ? 'primary' : 'replica' };
}

/** The last aborted switchover, as /patroni shows it. */
function abortedField(decision: Decision): { switchoverAborted?: { to: string; reason: string; at: string } } {
  const abort = decision.memory.switchoverAbort;
  return abort ? { switchoverAborted: { to: abort.candidate, reason: abort.reason, at: new Date(abort.wallAtMs).toISOString() } } : {};
}
