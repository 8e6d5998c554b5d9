// The way out of the agent, bounded: every step of a stop has a time limit, and a stop that does
// not finish in time ends the safe way (the daemon's last resort fences a writable PostgreSQL).
import type { Logger } from 'pino';
import { systemTimers, type TimerHandle, type Timers } from '../time/timers.js';

/**
 * How long the way out may take in all before the last resort: the lease-bounded clean stop (at
 * most the TTL) plus the key release and the closes, and below systemd's TimeoutStopSec (120 s).
 */
export function stopDeadlineMs(ttlSec: number): number {
  return Math.min(110_000, Math.max(30_000, ttlSec * 1000 + 15_000));
}
export const TICK_EXIT_BOUND_MS = 10_000;
export const JOB_ABORT_BOUND_MS = 5_000;
export const CLOSE_BOUND_MS = 3_000;
/** The shutdown's fresh read of pause from etcd (an unreachable etcd falls back to the last view). */
export const PAUSE_READ_BOUND_MS = 1_000;
/**
 * Restart in place (docs/agent-restart.md): the exit code systemd restarts at once
 * (RestartForceExitStatus=75; EX_TEMPFAIL: "try again"), and the bound on the last keepalive.
 */
export { RESTART_IN_PLACE_EXIT_CODE } from '../core/shutdown.js';
export const HANDOVER_RENEW_BOUND_MS = 1_000;
/** Bound on marking the status key paused on a way out in pause. */
export const MARK_PAUSED_BOUND_MS = 2_000;
/** Bound on reading pg_control for the shutdown checkpoint released with the key. */
export const CONTROL_READ_BOUND_MS = 2_000;
/** Bound on each close on the way out of a restart in place. */
export const RESTART_CLOSE_BOUND_MS = 500;
/** How long a restarted leader tries to re-attach its key before its first tick takes over. */
export const REATTACH_EARLY_BOUND_MS = 3_000;

/** Resolves (ignoring failures) when p settles or after ms, whichever comes first. */
export async function bounded(p: Promise<unknown>, ms: number, timers: Timers = systemTimers): Promise<void> {
  let timer: TimerHandle | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => { timer = timers.setTimeout(() => r(undefined), ms); })]);
  if (timer !== undefined) timers.clearTimeout(timer);
}

/** Resolves with `value` ms after the signal aborts (never, if it does not). */
export function afterAbort<T>(signal: AbortSignal, ms: number, value: T): Promise<T> {
  return new Promise((resolve) => {
    const go = (): void => { setTimeout(() => resolve(value), ms).unref(); };
    if (signal.aborted) go(); else signal.addEventListener('abort', go, { once: true });
  });
}

/**
 * Where the way out is, so that a stop that never finishes says where it hung, and a deadline
 * that ends it the safe way: a writable PostgreSQL is fenced before the process exits.
 */
export class StopProgress {
  private current = 'running';
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly log: Logger) {}
  arm(ms: number, onExpiry: () => void): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.log.fatal({ stage: this.current, afterMs: ms }, 'the agent did not finish stopping in time; fencing and exiting');
      onExpiry();
    }, ms);
  }
  stage(name: string): void {
    this.current = name;
    this.log.info({ stage: name }, 'stopping');
  }
  done(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

