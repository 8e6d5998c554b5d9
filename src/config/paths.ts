// File-system facts the config depends on (bin_dir contents, TLS files), behind a small probe
// so unit tests can describe a machine instead of needing one.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Parsed } from './address.js';

export interface FsProbe {
  isExecutableFile(path: string): boolean;
  isDirectory(path: string): boolean;
  exists(path: string): boolean;
  /** Entry names, or [] when the directory cannot be read. */
  listDir(path: string): string[];
}

export const nodeFsProbe: FsProbe = {
  isExecutableFile(path) {
    try {
      if (!statSync(path).isFile()) return false;
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  exists(path) {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  listDir(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
};

/** The binaries the agent runs from bin_dir (pg_rewind is checked when a rewind is needed). */
export const REQUIRED_BINARIES = ['pg_ctl', 'initdb', 'postgres', 'pg_controldata', 'pg_basebackup'] as const;

/**
 * Relative paths resolve against the working directory, as in Patroni. Only what cannot be
 * made into a meaningful absolute path is refused.
 */
export function resolveConfigPath(value: string, cwd: string): Parsed<string> {
  if (value.trim() === '') return { ok: false, message: 'is empty (expected a path)' };
  if (value.includes('\0')) return { ok: false, message: 'contains a NUL byte' };
  if (value.startsWith('~')) return { ok: false, message: `"~" is not expanded: write the absolute path instead of "${value}"` };
  return { ok: true, value: resolve(cwd, value) };
}

function versionDirs(probe: FsProbe, parent: string, pattern: RegExp, suffix: string): string[] {
  return probe.listDir(parent)
    .map((name) => ({ name, m: pattern.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]))
    .map((e) => join(parent, e.name, suffix));
}

/** Where pg_ctl lives when bin_dir is not set: PATH, then the newest Debian or PGDG/RHEL layout. */
export function findBinDir(path: string | undefined, probe: FsProbe): string | undefined {
  const candidates = [
    // Relative PATH entries ("." and friends) would make bin_dir depend on where the agent runs.
    ...(path ?? '').split(delimiter).filter((d) => isAbsolute(d)),
    ...versionDirs(probe, '/usr/lib/postgresql', /^(\d+)$/, 'bin'),
    ...versionDirs(probe, '/usr', /^pgsql-(\d+)$/, 'bin'),
  ];
  return candidates.find((dir) => probe.isExecutableFile(join(dir, 'pg_ctl')));
}

export function missingBinaries(binDir: string, probe: FsProbe): string[] {
  return REQUIRED_BINARIES.filter((b) => !probe.isExecutableFile(join(binDir, b)));
}
