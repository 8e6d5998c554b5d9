// Timers as a seam: the daemon uses Node's, the deterministic simulator a virtual clock
// (test/support/sim/vtime.ts), so the fence timer, the loop's sleep and the retake bound run there
// unchanged on simulated time.

export interface TimerHandle {
  /** Node's Timeout.unref(): the timer alone does not keep the process alive. */
  unref?(): unknown;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
