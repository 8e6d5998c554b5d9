// Processes started by tests: tracking by PID (track.ts) and spawning (spawn.ts), in one module.
import { isRoot } from './users.js';

export {
  killAllTrackedSync, stopAllTracked, trackProcess, trackedProcesses,
} from './track.js';
export type { PidRecord, ProcessKind, TrackOptions, TrackedPid } from './track.js';
export { pausePid, readTail, resumePid, spawnTracked } from './spawn.js';
export type { ExitInfo, SpawnOptions, TrackedProcess } from './spawn.js';

/** [cmd, args] that runs cmd as postgres: wrapped in `runuser -u postgres --` when we are root. */
export function runAsPostgresArgv(cmd: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [cmd, args];
  return ['runuser', ['-u', 'postgres', '--', cmd, ...args]];
}

