// The suite-level leftover check: every PID a worker recorded in <run>/pids that is still alive
// (same PID and same start time, so a reused PID is never mistaken for ours), plus any postmaster
// still serving a data directory under <run>/tmp. Synchronous: it also runs in an 'exit' handler.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, stopPidSync } from './proc.js';
import { RUN_DIR_PREFIX } from './run-dir.js';
import type { RunDirOwner } from './run-dir.js';
import type { PidRecord } from './track.js';
import { findStrayPostmasters } from './strays.js';

export interface Leftover {
  pid: number;
  startTicks: number | undefined;
  description: string;
  firstSignal: NodeJS.Signals;
}

export function findLeftovers(runDir: string): Leftover[] {
  const out: Leftover[] = [];
  const seen = new Set<number>();
  for (const file of safeReaddir(join(runDir, 'pids'))) {
    const r = readRecord(join(runDir, 'pids', file));
    // No start time means the process was already gone when it was recorded.
    if (r === null || r.startTicks === null || !isAlive(r.pid, r.startTicks)) continue;
    seen.add(r.pid);
    out.push({
      pid: r.pid,
      startTicks: r.startTicks,
      description: `${r.kind} ${r.name} (pid ${r.pid}, started by worker ${r.trackedBy}: ${r.argv.join(' ')})`,
      firstSignal: r.kind === 'postgres' ? 'SIGQUIT' : 'SIGKILL',
    });
  }
  for (const s of findStrayPostmasters(join(runDir, 'tmp'), 5)) {
    if (seen.has(s.pid)) continue;
    out.push({ pid: s.pid, startTicks: undefined, description: `postmaster (pid ${s.pid}) of ${s.dataDir}`,
      firstSignal: 'SIGQUIT' });
  }
  return out;
}

/** Stops the leftovers; returns the descriptions of those that survived even SIGKILL. */
export function killLeftoversSync(leftovers: readonly Leftover[]): string[] {
  return leftovers.filter((l) => !stopPidSync(l.pid, l.startTicks, l.firstSignal, 5_000))
    .map((l) => l.description);
}

/**
 * Cleans up after earlier runs whose vitest process died without cleaning (SIGKILL, OOM): every
 * <tmp>/pgha-run-* dir whose recorded owner is gone has its leftovers killed and is removed. Runs
 * still in progress (owner alive), and dirs without an owner record, are left alone.
 */
export function sweepStaleRunDirs(): string[] {
  const swept: string[] = [];
  for (const name of safeReaddir(tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: RunDirOwner;
    try {
      owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as RunDirOwner;
    } catch {
      continue;
    }
    if (isAlive(owner.pid, owner.startTicks ?? undefined)) continue;
    const leftovers = findLeftovers(dir);
    killLeftoversSync(leftovers);
    swept.push(...leftovers.map((l) => l.description));
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
  return swept;
}

function readRecord(file: string): PidRecord | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return null;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
