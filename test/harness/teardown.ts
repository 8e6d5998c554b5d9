// Per-file teardown. Importing any harness module that starts processes or makes temp dirs
// registers one afterAll hook in the importing test file: it runs after the file's own afterAll
// hooks (vitest runs after-hooks in reverse order of registration, and imports come first), also
// when a test failed or timed out. Outside vitest (a script using the harness, e.g. a benchmark),
// call runTeardown() yourself; on process exit, tracked processes are killed anyway.
/** Phases run in this order: processes are stopped before their directories are removed. */
export type TeardownPhase = 'processes' | 'dirs';
const PHASES: readonly TeardownPhase[] = ['processes', 'dirs'];
const TEARDOWN_TIMEOUT_MS = 150_000;

const hooks = new Map<TeardownPhase, Array<() => Promise<void>>>();

export function onTeardown(phase: TeardownPhase, fn: () => Promise<void>): void {
  const list = hooks.get(phase) ?? [];
  if (!list.includes(fn)) list.push(fn);
  hooks.set(phase, list);
}

/** Runs every registered teardown phase; all of them run even if one fails, then it throws. */
export async function runTeardown(): Promise<void> {
  const errors: unknown[] = [];
  for (const phase of PHASES) {
    for (const fn of hooks.get(phase) ?? []) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'harness teardown failed');
}

// Imported only inside a vitest worker: 'vitest' throws when loaded anywhere else (bench scripts
// run the harness with tsx). Top-level await keeps the registration inside the file's collection.
if (process.env.VITEST_WORKER_ID !== undefined) {
  const { afterAll } = await import('vitest');
  afterAll(runTeardown, TEARDOWN_TIMEOUT_MS);
}
