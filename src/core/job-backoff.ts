// A job that fails and would be started again at once (a rejoin against a leader that refuses it,
// a start that cannot succeed) backs off: each failure in a row doubles the wait, up to a cap. A
// success of that job or a change of leader starts afresh, since either can change the outcome.
import type { Action, DecideInput, Decision, FinishedJob, JobBackoff, JobSpec, Memory } from './decide-types.js';

export const JOB_BACKOFF_BASE_MS = 5_000;
export const JOB_BACKOFF_CAP_MS = 160_000;

/** The delay after `failures` failures in a row: 5 s, 10 s, 20 s, ... capped. */
export function backoffDelayMs(failures: number): number {
  return Math.min(JOB_BACKOFF_CAP_MS, JOB_BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
}

/** Who the job aims at, so that the same kind of job against another member is a new job. */
export function jobTarget(spec: JobSpec): string | null {
  switch (spec.kind) {
    case 'rejoin':
      return spec.leader.name;
    case 'startReplica':
    case 'restart':
      return spec.leader?.name ?? null;
    case 'clone':
    case 'reinit':
      return spec.source.name;
    case 'switchover':
      return spec.candidate.name;
    case 'bootstrap':
    case 'startPrimary':
    case 'promote':
      return null;
    default: {
      const never: never = spec;
      return never;
    }
  }
}

function sameJob(b: JobBackoff, spec: JobSpec): boolean {
  return b.job === spec.kind && b.target === jobTarget(spec);
}

/**
 * The repair jobs decide() starts on its own and would start again at once. Not the leader's own
 * restart (primary_start_timeout bounds it and every second counts), not a switchover (the request
 * is cleared when it fails), not a bootstrap (a failure halts). A reinit counts: decide() starts one
 * after a failed rewind; a failed operator reinit only shows in the status, nothing else starts it.
 */
const BACKED_OFF: ReadonlySet<JobSpec['kind']> = new Set(['rejoin', 'startReplica', 'clone', 'reinit']);

/** Fold a finished job into the backoff: a failure counts, a success of the same job clears it. */
export function recordJobOutcome(memory: Memory, last: FinishedJob, leader: string | null): Memory {
  const prev = memory.jobBackoff;
  if (last.ok) {
    // A fresh data directory (clone, reinit) is a new start for whatever failed before.
    const fresh = last.spec.kind === 'clone' || last.spec.kind === 'reinit';
    return prev !== null && (fresh || sameJob(prev, last.spec)) ? { ...memory, jobBackoff: null } : memory;
  }
  if (!BACKED_OFF.has(last.spec.kind)) return memory;
  const failures = prev !== null && sameJob(prev, last.spec) ? prev.failures + 1 : 1;
  const delayMs = backoffDelayMs(failures);
  const jobBackoff: JobBackoff = {
    job: last.spec.kind, target: jobTarget(last.spec), leader, failures, delayMs,
    notBeforeMs: last.finishedMs + delayMs, error: oneLine(last.error ?? 'unknown error'),
  };
  return { ...memory, jobBackoff };
}

/** Errors can quote a server log: keep what fits a status line. */
function oneLine(error: string): string {
  const flat = error.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** A new leader (as far as a readable etcd says) may well accept what the old one refused. */
export function forgetOnLeaderChange(input: DecideInput): DecideInput {
  const b = input.memory.jobBackoff;
  if (b === null || input.cluster === null) return input;
  if ((input.cluster.leader?.name ?? null) === b.leader) return input;
  return { ...input, memory: { ...input.memory, jobBackoff: null } };
}

/** What the wait looks like in a sentence (reasons, logs). */
export function describeBackoff(b: JobBackoff, nowMs: number): string {
  const target = b.target === null ? '' : ` (${b.target})`;
  const left = Math.max(0, Math.ceil((b.notBeforeMs - nowMs) / 1000));
  return `job ${b.job}${target} failed ${b.failures} time${b.failures === 1 ? '' : 's'} in a row (${b.error}); next try in ${left} s`;
}

/**
 * Hold back a decision's startJob while the same job is backing off. Only the job (and the
 * clearFence that would precede it) is held back: every other action (renewals, fences, releases)
 * goes ahead, so a backoff never delays a safety action.
 */
export function holdBackRepeatedJob(input: DecideInput, d: Decision): Decision {
  const b = d.memory.jobBackoff;
  if (b === null || input.nowMs >= b.notBeforeMs) return d;
  const start = d.actions.find((a): a is Extract<Action, { kind: 'startJob' }> => a.kind === 'startJob');
  if (!start || !sameJob(b, start.job)) return d;
  const actions = d.actions.filter((a) => a.kind !== 'startJob' && a.kind !== 'clearFence');
  // The follower's grace clock keeps running meanwhile: the retry comes when the wait ends.
  const memory: Memory = { ...d.memory, followSinceMs: input.memory.followSinceMs, followLeader: input.memory.followLeader };
  return { actions, memory, reason: `backing off: ${describeBackoff(b, input.nowMs)}; held back: ${d.reason}` };
}
