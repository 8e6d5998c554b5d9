// The run directory: one per test run, created by global-setup.ts and passed to the vitest worker
// processes in PGHA_TEST_RUN_DIR. Workers record every PID they start in <run>/pids so that the
// global teardown can prove nothing was left running, even if a worker died. Temp dirs live in
// <run>/tmp so that one rm at the end removes whatever a crashed worker could not.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStat } from './proc.js';

export const RUN_DIR_ENV = 'PGHA_TEST_RUN_DIR';
export const RUN_DIR_PREFIX = 'pgha-run-';

/** Who created a run dir: when that process is gone, the next run may sweep the dir. */
export interface RunDirOwner {
  pid: number;
  startTicks: number | null;
}

const OWN_RUN_DIR = Symbol.for('pg-ha-agent.harness.ownRunDir');
type Global = typeof globalThis & { [OWN_RUN_DIR]?: string };

/** Creates a fresh run directory, traversable by the postgres user (0755). */
export function createRunDir(): string {
  const dir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
  chmodSync(dir, 0o755);
  for (const sub of ['pids', 'tmp', 'ports', 'logs']) mkdirSync(join(dir, sub), { mode: 0o755 });
  const owner: RunDirOwner = { pid: process.pid, startTicks: procStat(process.pid)?.startTicks ?? null };
  writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
  return dir;
}

/**
 * The current run directory. Outside a vitest run with our globalSetup (e.g. the unit project),
 * a private one is created on first use and removed when the process exits.
 */
export function runDir(): string {
  const fromEnv = process.env[RUN_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const g = globalThis as Global;
  if (g[OWN_RUN_DIR] === undefined) {
    const dir = createRunDir();
    g[OWN_RUN_DIR] = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return g[OWN_RUN_DIR];
}

export function runSubdir(name: 'pids' | 'tmp' | 'ports' | 'logs'): string {
  const dir = join(runDir(), name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}
