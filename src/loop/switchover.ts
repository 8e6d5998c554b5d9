// Planned switchover on the leader (SPEC 5.6): checkpoint, clean stop, wait until the candidate
// has received the shutdown checkpoint, then hand over the key. No acknowledged write is lost and
// the old leader can follow the candidate without pg_rewind.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { JobSpec } from '../core/decide-types.js';
import type { Dcs } from '../dcs/port.js';
import type { PgPort } from './pg-port.js';
import { parsePatroniStatus } from './peers.js';

const CATCH_UP_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 60_000;

export async function runSwitchover(args: {
  pg: PgPort; dcs: Dcs; clock: Clock; logger: Logger; signal: AbortSignal;
  spec: Extract<JobSpec, { kind: 'switchover' }>; probeHeaders?: Record<string, string>;
}): Promise<void> {
  const { pg, dcs, clock, spec, signal } = args;
  const log = args.logger.child({ switchoverTo: spec.candidate.name });
  const t0 = clock.monoMs();
  try {
    log.info('switchover: checkpoint before shutdown');
    await pg.checkpoint(signal);
    log.info('switchover: stopping postgresql cleanly');
    await pg.stop('fast', STOP_TIMEOUT_MS);
    const control = await pg.controlData();
    if (!control) throw new Error('pg_controldata unreadable after shutdown');
    const target = control.checkpointLsn;
    log.info({ shutdownCheckpointLsn: target, stopMs: Math.round(clock.monoMs() - t0) }, 'switchover: waiting for the candidate to receive the shutdown checkpoint');
    await waitCandidateReceived(args, target);
    const released = await dcs.releaseLeader(signal);
    log.info({ released, durationMs: Math.round(clock.monoMs() - t0) }, 'switchover: leader key handed over');
    if (!released) throw new Error('leader key was no longer ours to release');
  } catch (err) {
    // Keep the key (we still hold it) so the next tick restarts this primary; drop the request.
    await dcs.deleteFailover(spec.failoverModRevision).catch(() => false);
    throw err;
  }
}

type WaitArgs = { pg: PgPort; clock: Clock; signal: AbortSignal; spec: Extract<JobSpec, { kind: 'switchover' }>; probeHeaders?: Record<string, string> };

/** Ask the candidate's PostgreSQL directly (fresh), falling back to its REST status. */
async function candidatePosition(args: WaitArgs): Promise<{ lsn: number | null; note: string }> {
  try {
    const lsn = await args.pg.peerReceiveLsn(args.spec.candidate, AbortSignal.timeout(1000));
    if (lsn !== null) return { lsn, note: `at ${lsn}` };
  } catch {
    // fall through to the REST status
  }
  const res = await fetch(args.spec.candidate.apiUrl, { signal: AbortSignal.timeout(1000), headers: args.probeHeaders ?? {} });
  const probe = parsePatroniStatus(args.spec.candidate.name, await res.json());
  return probe.reachable ? { lsn: probe.walPosition, note: `at ${probe.walPosition} (rest)` } : { lsn: null, note: probe.error };
}

async function waitCandidateReceived(args: WaitArgs, target: number): Promise<void> {
  const deadline = args.clock.monoMs() + CATCH_UP_TIMEOUT_MS;
  let last = 'no answer yet';
  while (args.clock.monoMs() < deadline) {
    args.signal.throwIfAborted();
    try {
      const pos = await candidatePosition(args);
      if (pos.lsn !== null && pos.lsn > target) return;
      last = pos.note;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`candidate ${args.spec.candidate.name} did not receive the shutdown checkpoint ${target} in time (${last})`);
}
