// Hand-steered runs of the simulator: boot a cluster on the real loop, then inject a fault at an
// exact moment (not at random) to pin down one behaviour (test/unit/core/sim-scenarios.test.ts).
import { nowMs, type SimNode, type WorldState } from './model.js';
import { createWorld, startAgents, step, stopAll } from './world.js';

export interface Scenario {
  readonly w: WorldState;
  /** Run whole steps (checks included) until `until` holds or `maxSteps` passed; returns whether it held. */
  steps(maxSteps: number, until?: (w: WorldState) => boolean): Promise<boolean>;
  /** Run events 1 ms at a time until `until` holds (at most maxMs): to act at the exact moment. */
  untilExactly(until: (w: WorldState) => boolean, maxMs?: number): Promise<boolean>;
  /** SIGSTOP of n's agent for `ms` (its fence guard goes on). */
  freeze(n: SimNode, ms: number): void;
  close(): void;
}

export async function bootScenario(seed: number, bootSteps = 200): Promise<Scenario> {
  const w = createWorld(seed);
  startAgents(w);
  const sc: Scenario = {
    w,
    async steps(maxSteps, until) {
      for (let i = 0; i < maxSteps; i++) {
        await step(w);
        if (until?.(w)) return true;
      }
      return false;
    },
    async untilExactly(until, maxMs = 60_000) {
      const end = nowMs(w) + maxMs;
      while (!until(w) && nowMs(w) < end) await w.vt.runUntil(nowMs(w) + 1);
      return until(w);
    },
    freeze(n, ms) {
      if (n.agent) n.agent.owner.heldUntilMs = nowMs(w) + ms;
    },
    close() {
      stopAll(w);
    },
  };
  await sc.steps(bootSteps);
  return sc;
}
