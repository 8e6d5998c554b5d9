// S1 inside the agent: a timer independent of the decision loop. When the lease deadline passes
// while PostgreSQL may be a writable primary, it fences at once, even if a tick is stuck awaiting a
// hung query. The loop arms it (primary, not paused) and disarms it (replica, pause).
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { systemTimers, type TimerHandle, type Timers } from '../time/timers.js';

export interface FenceTimer {
  /** Arm at `deadlineMs` (monotonic), or disarm. Re-arming with a later deadline moves it. */
  update(armed: boolean, deadlineMs: number): void;
  /** Check now (e.g. first thing after a resume); returns true when it fenced. */
  checkNow(): boolean;
  close(): void;
}

type FenceTimerDeps = { clock: Clock; logger: Logger; fence: (reason: string) => void; timers?: Timers };

export function createFenceTimer(deps: FenceTimerDeps): FenceTimer {
  return new LeaseDeadlineTimer(deps);
}

class LeaseDeadlineTimer implements FenceTimer {
  private readonly timers: Timers;
  private armed = false;
  private deadline = -Infinity;
  private timer: TimerHandle | null = null;
  private fired = false;

  constructor(private readonly deps: FenceTimerDeps) {
    this.timers = deps.timers ?? systemTimers;
  }

  update(nextArmed: boolean, nextDeadline: number): void {
    if (nextArmed && (!this.armed || nextDeadline !== this.deadline)) this.fired = false;
    this.armed = nextArmed;
    this.deadline = nextDeadline;
    this.schedule();
  }

  readonly checkNow = (): boolean => {
    if (!this.armed || this.fired) return false;
    const now = this.deps.clock.monoMs();
    if (now < this.deadline) {
      this.schedule();
      return false;
    }
    this.fired = true;
    this.deps.logger.error({ lateMs: Math.round(now - this.deadline) }, 'fence timer: lease deadline passed, fencing postgresql');
    this.deps.fence('fence timer: lease deadline passed');
    return true;
  };

  close(): void {
    this.armed = false;
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (!this.armed || !Number.isFinite(this.deadline)) {
      if (this.armed && this.deadline === -Infinity) this.checkNow();
      return;
    }
    const wait = Math.max(0, this.deadline - this.deps.clock.monoMs());
    // Look at the clock again at least every second rather than trust one long timer.
    this.timer = this.timers.setTimeout(this.checkNow, Math.min(wait, 1_000));
    this.timer.unref?.();
  }
}
