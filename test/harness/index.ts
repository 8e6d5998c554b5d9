// The test harness in one import: `import { startEtcd, createPrimary, waitFor } from '../harness/index.js'`.
// Importing it (or processes/tmp/etcd/postgres directly) registers the per-file teardown.
export { waitFor, sleep, StopWaiting } from './wait.js';
export type { WaitOptions } from './wait.js';
export { freePort } from './ports.js';
export { makeTempDir, removeTempDirs } from './tmp.js';
export type { TempDirOptions } from './tmp.js';
export {
  trackProcess, trackedProcesses, stopAllTracked, killAllTrackedSync, spawnTracked, runAsPostgresArgv, readTail,
  pausePid, resumePid,
} from './processes.js';
export type {
  ExitInfo, PidRecord, ProcessKind, SpawnOptions, TrackOptions, TrackedPid, TrackedProcess,
} from './processes.js';
export { BINARIES, MissingBinaryError, PG_BIN_DIR, pgBinary, requireBinary, requireKnownBinary } from './binaries.js';
export type { KnownBinary } from './binaries.js';
export { CommandError, runCommand } from './exec.js';
export type { RunOptions, RunResult } from './exec.js';
export { isRoot, postgresEnv, postgresSpawnIds, postgresUser } from './users.js';
export type { OsUser } from './users.js';
export { ETCD_BIN, ETCDCTL_BIN, etcdctl, leaseHexOf, startEtcd } from './etcd.js';
export type { EtcdCluster, EtcdMember, StartEtcdOptions } from './etcd.js';
export {
  REPLICATION_PASSWORD, REPLICATION_USER, createPrimary, createReplica, makeEmptyDataDir,
} from './postgres.js';
export type { CreatePrimaryOptions, CreateReplicaOptions, PgInstance } from './postgres.js';
export { runTeardown, onTeardown } from './teardown.js';
export type { TeardownPhase } from './teardown.js';
export { RUN_DIR_ENV, runDir } from './run-dir.js';
export { findStrayPostmasters, readPostmasterPid } from './strays.js';
export { isAlive, procStat, childPids, signalPid } from './proc.js';
