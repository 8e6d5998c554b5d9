// Every process the harness (or a test, through spawnTracked) starts is tracked by PID: in memory
// for the per-file teardown, and as a file in <run>/pids for the suite-level leftover check that
// global-setup.ts runs even when a worker died. Signals go to the PID only (never to a group),
// so that killing an agent does not take its PostgreSQL with it, as with systemd KillMode=process.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { isAlive, procStat, signalPid, stopPidSync } from './proc.js';
import { findLeftovers, killLeftoversSync } from './leftovers.js';
import { RUN_DIR_ENV, runSubdir } from './run-dir.js';
import { onTeardown } from './teardown.js';
import { waitFor } from './wait.js';


/** Stop order at teardown: agents ('process') first, then PostgreSQL, then etcd. */
export type ProcessKind = 'process' | 'postgres' | 'etcd';
const KIND_ORDER: readonly ProcessKind[] = ['process', 'postgres', 'etcd'];

export interface TrackOptions {
  pid: number;
  name: string;
  kind?: ProcessKind;
  /** First signal of the default stop (then SIGKILL after a grace period). Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** Custom graceful stop used at teardown; SIGKILL follows if the process survives it. */
  stop?: () => Promise<void>;
  argv?: readonly string[];
}

export interface TrackedPid {
  readonly pid: number;
  readonly name: string;
  readonly kind: ProcessKind;
  isAlive(): boolean;
  /** Forget this PID (the process must be dead; throws otherwise). */
  release(): void;
}

export interface PidRecord {
  pid: number;
  startTicks: number | null;
  name: string;
  kind: ProcessKind;
  stopSignal: NodeJS.Signals;
  argv: readonly string[];
  trackedBy: number;
}

interface Entry {
  readonly record: PidRecord;
  readonly file: string;
  readonly stop: (() => Promise<void>) | undefined;
}

const REGISTRY = Symbol.for('pg-ha-agent.harness.tracked');
type Global = typeof globalThis & { [REGISTRY]?: Map<string, Entry> };

// Process-wide (not per module instance): vitest re-evaluates modules for each test file, but a
// process started by an earlier file that outlived its teardown must still be found.
function registry(): Map<string, Entry> {
  const g = globalThis as Global;
  if (g[REGISTRY] === undefined) {
    g[REGISTRY] = new Map();
    installExitHandlers();
  }
  return g[REGISTRY];
}

function keyOf(r: PidRecord): string {
  return `${r.pid}-${r.startTicks ?? 'x'}`;
}

export function trackProcess(opts: TrackOptions): TrackedPid {
  const st = procStat(opts.pid);
  const record: PidRecord = {
    pid: opts.pid,
    startTicks: st?.startTicks ?? null,
    name: opts.name,
    kind: opts.kind ?? 'process',
    stopSignal: opts.stopSignal ?? 'SIGTERM',
    argv: opts.argv ?? [],
    trackedBy: process.pid,
  };
  const key = keyOf(record);
  const file = join(runSubdir('pids'), `${key}.json`);
  writeFileSync(file, JSON.stringify(record));
  registry().set(key, { record, file, stop: opts.stop });
  return {
    pid: record.pid,
    name: record.name,
    kind: record.kind,
    isAlive: () => isAlive(record.pid, record.startTicks ?? undefined),
    release: () => {
      if (isAlive(record.pid, record.startTicks ?? undefined)) {
        throw new Error(`cannot release tracked process ${record.name} (pid ${record.pid}): still alive`);
      }
      forget(key);
    },
  };
}

function forget(key: string): void {
  const entry = registry().get(key);
  if (entry === undefined) return;
  registry().delete(key);
  rmSync(entry.file, { force: true });
}

/** The processes currently tracked in this worker (alive or not yet confirmed dead). */
export function trackedProcesses(): PidRecord[] {
  return [...registry().values()].map((e) => ({ ...e.record }));
}

/**
 * Stops every tracked process (agents first, then PostgreSQL, then etcd; each group in parallel):
 * the custom stop or the stop signal, then SIGKILL. Throws if any survives.
 */
export async function stopAllTracked(): Promise<void> {
  const problems: string[] = [];
  for (const kind of KIND_ORDER) {
    const entries = [...registry().entries()].filter(([, e]) => e.record.kind === kind);
    await Promise.all(entries.map(async ([key, e]) => {
      const alive = (): boolean => isAlive(e.record.pid, e.record.startTicks ?? undefined);
      try {
        if (alive()) await (e.stop ?? (() => defaultStop(e.record)))();
      } catch (err) {
        problems.push(`${e.record.name} (pid ${e.record.pid}): stop failed: ${(err as Error).message}`);
      }
      if (alive() && !stopPidSync(e.record.pid, e.record.startTicks ?? undefined, 'SIGKILL', 0)) {
        problems.push(`${e.record.name} (pid ${e.record.pid}) survived SIGKILL`);
        return;
      }
      forget(key);
    }));
  }
  if (problems.length > 0) throw new Error(`stopAllTracked: ${problems.join('; ')}`);
}

async function defaultStop(r: PidRecord, graceMs = 10_000): Promise<void> {
  const start = r.startTicks ?? undefined;
  signalPid(r.pid, r.stopSignal);
  signalPid(r.pid, 'SIGCONT');
  try {
    await waitFor(`${r.name} to exit`, () => !isAlive(r.pid, start), { timeoutMs: graceMs, intervalMs: 50 });
  } catch {
    signalPid(r.pid, 'SIGKILL');
    await waitFor(`${r.name} to exit after SIGKILL`, () => !isAlive(r.pid, start), { timeoutMs: 10_000, intervalMs: 50 });
  }
}

onTeardown('processes', stopAllTracked);

let exitHandlersInstalled = false;

// Last resort when the worker goes away with processes still tracked. 'exit' covers an uncaught
// error; SIGINT/SIGHUP (Ctrl-C reaches the whole process group) and the loss of the IPC channel
// (the vitest main process died) cover the rest. vitest replaces process.exit() in workers with a
// function that throws, so after the synchronous cleanup the worker ends itself with SIGKILL:
// an orphaned worker would otherwise go on running tests and start processes nobody stops.
function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.prependListener('exit', killAllTrackedSync);
  if (!isMainThread || process.env.VITEST_WORKER_ID === undefined) return;
  const bail = (): void => {
    killAllTrackedSync();
    // The main process may have cleaned the run dir while this worker was still starting
    // something: finish the job from here (only recorded PIDs and postmasters of our own dirs).
    const dir = process.env[RUN_DIR_ENV];
    if (dir !== undefined && dir !== '') {
      killLeftoversSync(findLeftovers(dir));
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort on the way out
      }
    }
    process.kill(process.pid, 'SIGKILL');
  };
  for (const sig of ['SIGINT', 'SIGHUP'] as const) {
    if (process.listenerCount(sig) === 0) process.once(sig, bail);
  }
  if (typeof process.send === 'function') process.once('disconnect', bail);
}

export function killAllTrackedSync(): void {
  for (const [key, e] of registry()) {
    const first = e.record.kind === 'postgres' ? 'SIGQUIT' : 'SIGKILL';
    if (stopPidSync(e.record.pid, e.record.startTicks ?? undefined, first, 3_000)) forget(key);
  }
}
