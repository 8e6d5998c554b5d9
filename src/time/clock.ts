import type { Clock } from '../core/clock.js';

/**
 * CLOCK_MONOTONIC in ms. process.hrtime is system-wide on Linux, so the fence guard process and the
 * agent compare deadlines on the same clock.
 */
export const systemClock: Clock = {
  monoMs: () => Number(process.hrtime.bigint() / 1000n) / 1000,
  wallNowMs: () => Date.now(),
};
