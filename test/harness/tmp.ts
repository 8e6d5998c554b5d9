// Temp dirs under <run>/tmp, removed at the teardown of the test file that made them (and with
// the whole run directory at the end of the suite, whatever happened to the worker).
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopPidSync } from './proc.js';
import { runSubdir } from './run-dir.js';
import { findStrayPostmasters } from './strays.js';
import { onTeardown } from './teardown.js';
import { isRoot, postgresUser } from './users.js';

const DIRS = Symbol.for('pg-ha-agent.harness.tempDirs');
type Global = typeof globalThis & { [DIRS]?: Set<string> };

function dirs(): Set<string> {
  const g = globalThis as Global;
  g[DIRS] ??= new Set();
  return g[DIRS];
}

export interface TempDirOptions {
  /** Make the directory owned by the postgres OS user (for data dirs, configs an agent reads, sockets). */
  owner?: 'postgres';
}

/** A new empty directory (mode 0700) named <prefix>-XXXXXX, removed at teardown. */
export async function makeTempDir(prefix: string, opts: TempDirOptions = {}): Promise<string> {
  if (!/^[A-Za-z0-9._-]{1,40}$/.test(prefix)) {
    throw new Error(`makeTempDir: prefix must be 1-40 characters of [A-Za-z0-9._-], got ${JSON.stringify(prefix)}`);
  }
  const dir = mkdtempSync(join(runSubdir('tmp'), `${prefix}-`));
  dirs().add(dir);
  if (opts.owner === 'postgres' && isRoot()) {
    const u = postgresUser();
    chownSync(dir, u.uid, u.gid);
  }
  return dir;
}

/**
 * Removes every temp dir made so far in this process. A PostgreSQL server still running in one of
 * them (started by an agent under test, not by the harness) is stopped first: SIGQUIT (what
 * `pg_ctl stop -m immediate` sends), then SIGKILL.
 */
export async function removeTempDirs(): Promise<void> {
  const problems: string[] = [];
  for (const dir of dirs()) {
    for (const stray of findStrayPostmasters(dir)) {
      if (!stopPidSync(stray.pid, undefined, 'SIGQUIT', 10_000)) {
        problems.push(`postmaster ${stray.pid} in ${stray.dataDir} survived SIGKILL`);
      }
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      dirs().delete(dir);
    } catch (err) {
      problems.push(`could not remove ${dir}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`removeTempDirs: ${problems.join('; ')}`);
}

onTeardown('dirs', removeTempDirs);
