// PostgreSQL servers the harness did not start itself (an agent under test started them) but that
// run in a harness temp dir. Found by their postmaster.pid and confirmed by the process's working
// directory, which the postmaster sets to its data directory: so we only ever signal a postmaster
// that serves one of our own temp dirs.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, procCwd } from './proc.js';

export interface StrayPostmaster {
  pid: number;
  dataDir: string;
}

/** Live postmasters whose data directory is `root` or below it (up to maxDepth levels). */
export function findStrayPostmasters(root: string, maxDepth = 4): StrayPostmaster[] {
  const found: StrayPostmaster[] = [];
  walk(root, maxDepth, found);
  return found;
}

function walk(dir: string, depth: number, found: StrayPostmaster[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  if (entries.some((e) => e.name === 'postmaster.pid' && e.isFile())) {
    const pid = readPostmasterPid(dir);
    if (pid !== null && isAlive(pid) && procCwd(pid) === dir) found.push({ pid, dataDir: dir });
    return; // a data directory holds no further data directories
  }
  if (depth <= 0) return;
  for (const e of entries) {
    if (e.isDirectory() && !e.isSymbolicLink()) walk(join(dir, e.name), depth - 1, found);
  }
}

/** First line of <dataDir>/postmaster.pid, or null. */
export function readPostmasterPid(dataDir: string): number | null {
  try {
    const first = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '';
    const pid = Number(first.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
