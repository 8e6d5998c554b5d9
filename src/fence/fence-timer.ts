// S1 inside the agent: a timer independent of the decision loop. When the lease deadline passes
// while PostgreSQL may be a writable primary, it fences at once, even if a tick is stuck awaiting a
// hung query. The loop arms it (primary, not paused) and disarms it (replica, pause).
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { systemTimers, type TimerHandle, type Timers } from '../loop/timers.js';

export interface FenceTimer {
  /** Arm at `deadlineMs` (monotonic), or disarm. Re-arming with a later deadline moves it. */
  update(armed: boolean, deadlineMs: number): void;
  /** Check now (e.g. first thing after a resume); returns true when it fenced. */
  checkNow(): boolean;
  close(): void;
}

export function createFenceTimer(deps: { clock: Clock; logger: Logger; fence: (reason: string) => void; timers?: Timers }): FenceTimer {
  const timers = deps.timers ?? systemTimers;
  let armed = false;
  let deadline = -Infinity;
  let timer: TimerHandle | null = null;
  let fired = false;

  const check = (): boolean => {
    if (!armed || fired) return false;
    const now = deps.clock.monoMs();
    if (now < deadline) {
      schedule();
      return false;
    }
    fired = true;
    deps.logger.error({ lateMs: Math.round(now - deadline) }, 'fence timer: lease deadline passed, fencing postgresql');
    deps.fence('fence timer: lease deadline passed');
    return true;
  };

  function schedule(): void {
    if (timer) timers.clearTimeout(timer);
    timer = null;
    if (!armed || !Number.isFinite(deadline)) {
      if (armed && deadline === -Infinity) check();
      return;
    }
    const wait = Math.max(0, deadline - deps.clock.monoMs());
    timer = timers.setTimeout(check, Math.min(wait, 1_000));
    timer.unref?.();
  }

  return {
    update(nextArmed, nextDeadline) {
      if (nextArmed && (!armed || nextDeadline !== deadline)) fired = false;
      armed = nextArmed;
      deadline = nextDeadline;
      schedule();
    },
    checkNow: check,
    close() {
      armed = false;
      if (timer) timers.clearTimeout(timer);
      timer = null;
    },
  };
}
