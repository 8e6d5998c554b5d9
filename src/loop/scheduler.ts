// When the loop ticks: run a tick, then sleep until the next one (loop_wait; sooner after a
// retick request or when a scheduled switchover comes due), unless something wakes it at once
// (an etcd change, a finished job, a vanished postmaster). The tick itself is tick() (tick.ts).
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { asError } from '../errors.js';
import { tickFailure } from './tick-policy.js';
import { systemTimers, type Timers } from '../time/timers.js';

export interface TickOutcome {
  /** An exit code: the decision halted the agent. */
  readonly halt: number | null;
  /** Tick again at once (a step of a sequence: the key taken, now promote). */
  readonly retickNow: boolean;
  /** Tick again within 500 ms (an action failed or did not run). */
  readonly retickSoon: boolean;
  /** Monotonic ms: tick again then at the latest (Decision.lookAgainAtMs). */
  readonly lookAgainAtMs?: number;
}

/** A look again is due just after the moment it names: the deadline compared is then past. */
export const LOOK_AGAIN_SLACK_MS = 5;

const RETICK_NOW_MS = 20;
const RETICK_SOON_MS = 500;

/**
 * The full wait after a tick that started `elapsedMs` ago (the caller subtracts it): loop_wait, or
 * until just after a scheduled switchover that comes due after the tick started (also if it
 * passed during the tick). One due before the tick started was seen by decide() already.
 */
export function nextWaitMs(loopWaitSec: number, scheduledAt: string | undefined, wallNowMs: number, elapsedMs: number): number {
  let ms = loopWaitSec * 1000;
  if (scheduledAt !== undefined) {
    const dueIn = Date.parse(scheduledAt) - wallNowMs;
    if (Number.isFinite(dueIn) && dueIn + elapsedMs >= 0) ms = Math.min(ms, Math.max(0, dueIn) + 5 + elapsedMs);
  }
  return ms;
}

export class Scheduler {
  private wakeResolve: (() => void) | null = null;
  private wakePending = false;

  constructor(private readonly deps: { readonly clock: Clock; readonly logger: Logger; readonly timers?: Timers }) {}

  /** Wake the loop now; a wake during a tick makes the next sleep return at once. */
  wake(): void {
    this.wakePending = true;
    this.wakeResolve?.();
  }

  /** Ticks until the signal aborts or a tick halts; returns the exit code (0 on abort). */
  async run(tick: (signal: AbortSignal) => Promise<TickOutcome>, waitAfter: (elapsedMs: number) => number, signal: AbortSignal): Promise<number> {
    const { clock } = this.deps;
    while (!signal.aborted) {
      const t0 = clock.monoMs();
      let outcome: TickOutcome;
      try {
        outcome = await tick(signal);
      } catch (err) {
        outcome = this.failed(err, signal);
      }
      if (outcome.halt !== null) return outcome.halt;
      if (outcome.retickNow && clock.monoMs() - t0 > RETICK_NOW_MS) continue;
      const elapsedMs = clock.monoMs() - t0;
      const planned = outcome.retickNow ? RETICK_NOW_MS : outcome.retickSoon ? Math.min(RETICK_SOON_MS, waitAfter(elapsedMs)) : waitAfter(elapsedMs);
      const full = outcome.lookAgainAtMs === undefined ? planned : Math.min(planned, outcome.lookAgainAtMs + LOOK_AGAIN_SLACK_MS - t0);
      await this.sleep(Math.max(0, full - elapsedMs), signal);
    }
    return 0;
  }

  /** The tick policy (tick-policy.ts): try again soon, or halt with an exit code. */
  private failed(err: unknown, signal: AbortSignal): TickOutcome {
    const { logger } = this.deps;
    // A stop aborts the tick in flight on purpose: not an error to page anyone about.
    if (signal.aborted) {
      logger.info({ err: asError(err) }, 'tick aborted: the agent is stopping');
      return { halt: null, retickNow: false, retickSoon: true };
    }
    const policy = tickFailure(err);
    if (policy.kind === 'halt') {
      logger.fatal({ err: asError(err), exitCode: policy.exitCode }, 'tick failed and the agent cannot go on: leaving (the way out stops or fences a writable postgresql first)');
      return { halt: policy.exitCode, retickNow: false, retickSoon: false };
    }
    logger[policy.level]({ err: asError(err) }, policy.level === 'warn' ? 'tick failed (retryable); trying again' : 'tick failed');
    return { halt: null, retickNow: false, retickSoon: true };
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    const timers = this.deps.timers ?? systemTimers;
    return new Promise((resolve) => {
      const done = (): void => {
        timers.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wakeResolve = null;
        this.wakePending = false;
        resolve();
      };
      const timer = timers.setTimeout(done, ms);
      this.wakeResolve = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
