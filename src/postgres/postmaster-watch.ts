// Wakes the loop within ~100 ms of the postmaster's death, so a leader restarts its crashed
// PostgreSQL long before the next loop_wait (SPEC 10: crash -> writes again in <= 1.5 s).
import { join } from 'node:path';
import { runningPostmasterPid } from './files.js';

export function watchPostmaster(opts: { dataDir: string; onGone: () => void; intervalMs?: number }): { close(): void } {
  const pidFile = join(opts.dataDir, 'postmaster.pid');
  let known: number | null = null;
  const timer = setInterval(() => {
    const live = runningPostmasterPid(pidFile);
    if (known !== null && live !== known) opts.onGone();
    known = live;
  }, opts.intervalMs ?? 100);
  timer.unref();
  return { close: () => clearInterval(timer) };
}

/** The postmaster of this data directory is alive now (read on every health request: cheap). */
export function postmasterAlive(dataDir: string): boolean {
  return runningPostmasterPid(join(dataDir, 'postmaster.pid')) !== null;
}
