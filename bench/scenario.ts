// What a benchmark is: a named measurement of one system, returning flat numeric figures. run.ts
// runs the scenarios one after the other and tears down everything each one started (harness
// processes and temp dirs) before the next, so no system idles in the background of another's
// measurement.

/** The systems measured side by side (Patroni only where it is installed). */
export type SystemName = 'pg-ha-agent' | 'patroni';

export interface Scenario {
  /** Stable name, the key in the JSON output (e.g. 'rest-latency'). */
  readonly name: string;
  readonly system: SystemName;
  /** Figures with units in their names (p99Ms, rssMiB). May start processes through the harness. */
  run(): Promise<Record<string, number>>;
  /** SPEC section 10 upper bounds for some figures (figure name -> max), checked in the output. */
  readonly targets?: Readonly<Record<string, number>>;
}

/** A scenario factory: one scenario per system, so every figure can be compared side by side. */
export type ScenarioFactory = (system: SystemName) => Scenario;
