// vitest globalSetup of the integration project (runs in the main vitest process). It creates the
// run directory and hands it to the worker processes in PGHA_TEST_RUN_DIR; workers record there
// every PID they start. At teardown, any recorded process still alive is killed and fails the run:
// a test that leaks processes must be fixed, not tolerated. On SIGINT/SIGTERM vitest exits without
// running globalSetup teardowns, so the same cleanup also runs from a process 'exit' handler.
import { rmSync } from 'node:fs';
import { findLeftovers, killLeftoversSync, sweepStaleRunDirs } from './leftovers.js';
import { RUN_DIR_ENV, createRunDir } from './run-dir.js';

export default function setup(): () => Promise<void> {
  const swept = sweepStaleRunDirs();
  if (swept.length > 0) {
    process.stderr.write(`harness: killed ${swept.length} process(es) left by an earlier run that died:\n` +
      swept.map((d) => `  ${d}\n`).join(''));
  }
  const dir = createRunDir();
  process.env[RUN_DIR_ENV] = dir;
  const keep = process.env.PGHA_KEEP_RUN_DIR === '1';
  let finished = false;

  const emergency = (): void => {
    if (finished) return;
    finished = true;
    const leftovers = findLeftovers(dir);
    killLeftoversSync(leftovers);
    try {
      // A worker may still be writing here until it notices we are gone (it cleans up too).
      if (!keep) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // never throw from an 'exit' handler
    }
    if (leftovers.length > 0) {
      process.stderr.write(`harness: killed ${leftovers.length} leftover process(es) on exit:\n` +
        leftovers.map((l) => `  ${l.description}\n`).join(''));
    }
  };
  // First in line: vitest's own 'exit' listener calls process.exit() again, which ends the process
  // before any later listener runs.
  process.prependListener('exit', emergency);

  return async () => {
    finished = true;
    process.off('exit', emergency);
    const leftovers = findLeftovers(dir);
    const survivors = killLeftoversSync(leftovers);
    if (leftovers.length === 0 && !keep) rmSync(dir, { recursive: true, force: true });
    if (leftovers.length > 0) {
      throw new Error(`leftover processes after the integration suite (killed now, run dir ${dir} kept):\n` +
        leftovers.map((l) => `  ${l.description}`).join('\n') +
        (survivors.length > 0 ? `\nstill alive after SIGKILL:\n  ${survivors.join('\n  ')}` : ''));
    }
  };
}
