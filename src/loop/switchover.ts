// Planned switchover on the leader (SPEC 5.6): checkpoint, clean stop, check that the stop was
// clean and that the candidate has received the whole shutdown checkpoint, then hand over the key.
// The job only reports: when a check fails it throws before releasing the key, and decide()
// restarts this node as primary (the abort); it never drops the request or restarts anything itself.
import type { Logger } from 'pino';
import type { DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { JobSpec } from '../core/decide-types.js';
import { formatLsn, shutdownCheckpointEnd } from '../core/lsn.js';
import type { Dcs } from '../dcs/port.js';
import type { PgPort } from './pg-port.js';
import type { PeerHttp } from './peer-http.js';
import { parsePatroniStatus } from './peers.js';
import { systemTimers, type Timers } from '../time/timers.js';
import { AgentError, asError, errorMessage } from '../errors.js';

/** How long the candidate may take to flush the shutdown checkpoint once the stop has returned. */
export const CATCH_UP_TIMEOUT_MS = 5_000;
const DEFAULT_STOP_TIMEOUT_MS = 60_000;

type SwitchoverSpec = Extract<JobSpec, { kind: 'switchover' }>;

interface SwitchoverArgs {
  timers?: Timers;
  pg: PgPort; dcs: Dcs; clock: Clock; logger: Logger; signal: AbortSignal;
  dynamicConfig: () => DynamicConfig; spec: SwitchoverSpec; peerHttp: PeerHttp;
}

/** The switchover stopped short: `unclaimed` when the key was released but nobody took it (pause). */
export class SwitchoverNotDone extends AgentError<'switchover-not-done'> {
  readonly unclaimed: boolean;
  constructor(message: string, unclaimed = false) {
    super('switchover-not-done', message);
    this.unclaimed = unclaimed;
  }
}

export function stopTimeoutMs(dynamic: DynamicConfig): number {
  return dynamic.primary_stop_timeout > 0 ? dynamic.primary_stop_timeout * 1000 : DEFAULT_STOP_TIMEOUT_MS;
}

export async function runSwitchover(args: SwitchoverArgs): Promise<void> {
  const { pg, dcs, clock, signal } = args;
  const log = args.logger.child({ switchoverTo: args.spec.candidate.name });
  const t0 = clock.monoMs();
  log.info('switchover: checkpoint before shutdown');
  await pg.checkpoint(signal);
  log.info('switchover: stopping postgresql cleanly');
  const stopBoundMs = stopTimeoutMs(args.dynamicConfig());
  const stopped = await pg.stop('fast', stopBoundMs);
  const control = await pg.controlData();
  if (stopped === 'escalated') {
    throw new SwitchoverNotDone(`postgresql did not stop cleanly: the fast shutdown did not finish within ${stopBoundMs / 1000} s and was escalated to SIGQUIT/SIGKILL`);
  }
  if (!control) throw new SwitchoverNotDone('pg_controldata could not be read after the stop');
  if (control.state !== 'shut down') throw new SwitchoverNotDone(`postgresql did not stop cleanly: pg_controldata says "${control.state}", not "shut down"`);
  const target = shutdownCheckpointEnd(control.checkpointLsn);
  log.info({ shutdownCheckpointLsn: formatLsn(control.checkpointLsn), endLsn: formatLsn(target), stopMs: Math.round(clock.monoMs() - t0) },
    'switchover: waiting for the candidate to receive the shutdown checkpoint');
  await waitCandidateReceived(args, target);
  await announceCandidate(args, log);
  const released = await dcs.releaseLeader(signal);
  log.info({ released, durationMs: Math.round(clock.monoMs() - t0) }, 'switchover: leader key handed over');
  if (!released) throw new Error('leader key was no longer ours to release');
  if (args.dynamicConfig().pause) await waitClaimed(args, log);
}

/** Name the candidate decide() picked in the failover key, so the others defer to it (see `announce`). */
async function announceCandidate(args: SwitchoverArgs, log: Logger): Promise<void> {
  const { announce, failoverModRevision } = args.spec;
  if (announce === undefined) return;
  // Failing is no reason to stop: the others then race as before, and the best of them wins.
  const named = await args.dcs.setFailover(announce, failoverModRevision, args.signal).catch((err: unknown) => asError(err));
  if (named !== true) log.warn({ err: named === false ? undefined : named }, 'switchover: could not name the candidate in the failover key; the members will race for it');
}

/** Ask the candidate's PostgreSQL directly (fresh), falling back to its REST status. */
async function candidatePosition(args: SwitchoverArgs): Promise<{ lsn: number | null; note: string }> {
  try {
    const lsn = await args.pg.peerReceiveLsn(args.spec.candidate, AbortSignal.timeout(1000));
    if (lsn !== null) return { lsn, note: `it has flushed up to ${formatLsn(lsn)}` };
  } catch {
    // fall through to the REST status
  }
  const body = await args.peerHttp.getJson(args.spec.candidate.apiUrl, { timeoutMs: 1000, signal: args.signal });
  const probe = parsePatroniStatus(args.spec.candidate.name, body);
  if (!probe.reachable) return { lsn: null, note: probe.error };
  return { lsn: probe.walPosition, note: `its REST API reports ${probe.walPosition === null ? 'no position' : formatLsn(probe.walPosition)}` };
}

async function waitCandidateReceived(args: SwitchoverArgs, target: number): Promise<void> {
  const deadline = args.clock.monoMs() + CATCH_UP_TIMEOUT_MS;
  let last = 'no answer yet';
  while (args.clock.monoMs() < deadline) {
    args.signal.throwIfAborted();
    try {
      const pos = await candidatePosition(args);
      if (pos.lsn !== null && pos.lsn >= target) return;
      last = pos.note;
    } catch (err) {
      last = errorMessage(err);
    }
    await pause(args, 20);
  }
  throw new SwitchoverNotDone(`candidate ${args.spec.candidate.name} did not receive the shutdown checkpoint (ending at ${formatLsn(target)}) within ${CATCH_UP_TIMEOUT_MS / 1000} s (${last})`);
}

/**
 * In pause only the named candidate may take the released key. If it does not within the bound
 * and its PostgreSQL still answers as a replica (so it has not promoted), report the handover as
 * unclaimed: decide() then takes the key back. A candidate that does not answer proves nothing,
 * so then the old leader stays stopped and the operator decides.
 */
async function waitClaimed(args: SwitchoverArgs, log: Logger): Promise<void> {
  const boundMs = Math.max(10_000, 3 * args.dynamicConfig().loop_wait * 1000);
  const deadline = args.clock.monoMs() + boundMs;
  while (args.clock.monoMs() < deadline) {
    args.signal.throwIfAborted();
    try {
      const view = await args.dcs.snapshot({ signal: AbortSignal.timeout(2000) });
      if (view.leader !== null) return;
    } catch {
      // etcd unreachable for a moment: look again
    }
    await pause(args, 100);
  }
  const replica = await args.pg.peerInRecovery(args.spec.candidate, AbortSignal.timeout(2000));
  if (replica === true) {
    throw new SwitchoverNotDone(`${args.spec.candidate.name} did not take the leader key within ${boundMs / 1000} s and is still a replica`, true);
  }
  log.warn({ candidateInRecovery: replica }, 'switchover: nobody took the leader key in pause, and the candidate cannot be proven a replica; staying stopped');
}

function pause(args: SwitchoverArgs, ms: number): Promise<void> {
  return new Promise((resolve) => { (args.timers ?? systemTimers).setTimeout(resolve, ms); });
}
