// Entry point for the simulator tests: which seeds to run and how a failure reads.
export { createWorld, runSimulation, startAgents, step, type SimOptions, type SimResult } from './world.js';

/** The CI-sized subset (about 5 s a seed over the real loop); `npm run sim` runs more. */
export const SEEDS_PER_RUN = 12;
export const STEPS_PER_SEED = 10_000;

/**
 * The seeds of one test file (`part` of `parts`): 1..12 split evenly, or only SIM_SEED when set
 * (to reproduce a failure; every part then runs that one seed). SIM_SEEDS=n runs seeds 1..n.
 */
export function seedsFor(part: number, parts: number): number[] {
  const only = process.env['SIM_SEED'];
  if (only !== undefined && only !== '') {
    const seed = Number(only);
    if (!Number.isInteger(seed)) throw new Error(`SIM_SEED must be an integer, got ${JSON.stringify(only)}`);
    return [seed];
  }
  const count = Number(process.env['SIM_SEEDS'] ?? SEEDS_PER_RUN);
  const all = Array.from({ length: count }, (_, i) => i + 1);
  return all.filter((seed) => seed % parts === part % parts);
}

export function stepsPerSeed(): number {
  const steps = Number(process.env['SIM_STEPS'] ?? STEPS_PER_SEED);
  if (!Number.isInteger(steps) || steps < 1_000) throw new Error(`SIM_STEPS must be an integer >= 1000, got ${process.env['SIM_STEPS']}`);
  return steps;
}

export function formatFailure(r: { seed: number; violations: readonly string[]; trace: readonly string[] }, lines = 80): string {
  return [
    `simulation seed ${r.seed} failed (reproduce: npm run sim -- --seeds ${r.seed} --verbose, or SIM_SEED=${r.seed} npx vitest run --project unit test/unit/core/sim)`,
    ...r.violations.map((v) => `  ${v}`),
    `last ${Math.min(lines, r.trace.length)} trace lines:`,
    ...r.trace.slice(-lines).map((t) => `  ${t}`),
  ].join('\n');
}
