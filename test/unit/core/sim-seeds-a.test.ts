// The deterministic fault simulator over seeds 2, 4, 6, ... (sim-seeds-b runs the odd ones, so the
// two files share the machine's two cores). S1 and S4 after every step, S2 at every promotion,
// convergence at the end of every quiet window: see test/support/sim/invariants.ts. The nodes run the
// real loop (test/support/sim/node.ts); `npm run sim -- --seeds 1-1000` runs many more seeds.
import { describe, expect, it } from 'vitest';
import { formatFailure, runSimulation, seedsFor, stepsPerSeed } from '../../support/sim/index.js';

describe('simulator: random faults against S1, S2, S4 and progress', () => {
  for (const seed of seedsFor(0, 2)) {
    it(`seed ${seed}`, async () => {
      const steps = stepsPerSeed();
      const r = await runSimulation({ seed, steps });
      if (r.violations.length > 0) expect.fail(formatFailure(r));
      expect(r.steps).toBe(steps);
      expect(r.stats.promotions).toBeGreaterThan(0);
      expect(r.stats.faults).toBeGreaterThan(0);
    }, 120_000);
  }
});
