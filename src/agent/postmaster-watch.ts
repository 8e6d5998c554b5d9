// Wakes the loop within ~100 ms of the postmaster's death, so a leader restarts its crashed
// PostgreSQL long before the next loop_wait (SPEC 10: crash -> writes again in <= 1.5 s).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function pidOf(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function watchPostmaster(opts: { dataDir: string; onGone: () => void; intervalMs?: number }): { close(): void } {
  let known: number | null = null;
  const timer = setInterval(() => {
    const pid = pidOf(opts.dataDir);
    const live = pid !== null && alive(pid) ? pid : null;
    if (known !== null && live !== known) opts.onGone();
    known = live;
  }, opts.intervalMs ?? 100);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
