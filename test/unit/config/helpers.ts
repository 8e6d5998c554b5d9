// Shared builders for config unit tests: a machine described by a fake FsProbe, and a valid
// base config to break one key at a time.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig, type CheckResult } from '../../../src/config/load.js';
import type { FsProbe } from '../../../src/config/paths.js';
import type { ConfigProblem } from '../../../src/config/errors.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/config');
export const PG15_BIN = '/usr/lib/postgresql/15/bin';
const PG_BINARIES = ['pg_ctl', 'initdb', 'postgres', 'pg_controldata', 'pg_basebackup', 'pg_rewind'];

/** A machine with Debian's PostgreSQL 15 layout plus the given extra files. */
export function fakeProbe(opts: { binDirs?: string[]; files?: string[]; dirs?: string[] } = {}): FsProbe {
  const binDirs = opts.binDirs ?? [PG15_BIN];
  const executables = new Set(binDirs.flatMap((d) => PG_BINARIES.map((b) => `${d}/${b}`)));
  const files = new Set([...(opts.files ?? []), ...executables]);
  const dirs = new Set([...(opts.dirs ?? []), ...binDirs]);
  return {
    isExecutableFile: (p) => executables.has(p),
    isDirectory: (p) => dirs.has(p),
    exists: (p) => files.has(p) || dirs.has(p),
    listDir: (p) => (p === '/usr/lib/postgresql' ? binDirs.filter((d) => d.startsWith('/usr/lib/postgresql/')).map((d) => d.split('/')[4]!) : []),
  };
}

export type RawConfig = Record<string, unknown>;

/** A minimal valid config; every call returns a fresh copy to mutate. */
export function baseRaw(): RawConfig {
  return {
    scope: 'pgha',
    name: 'node1',
    restapi: { listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008' },
    etcd3: { hosts: ['127.0.0.1:2379'] },
    bootstrap: { dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
    postgresql: {
      listen: '127.0.0.1:5432',
      connect_address: '127.0.0.1:5432',
      data_dir: '/var/lib/postgresql/15/node1',
      bin_dir: PG15_BIN,
      authentication: {
        superuser: { username: 'postgres', password: 'super-Secret-1' },
        replication: { username: 'replicator', password: 'rep-Secret-2' },
      },
    },
  };
}

export function check(input: string | RawConfig, env: NodeJS.ProcessEnv = {}, probe: FsProbe = fakeProbe()): CheckResult {
  return checkConfig(input, env, { cwd: '/srv/cwd', probe });
}

export function problemsOf(input: string | RawConfig, env: NodeJS.ProcessEnv = {}, probe?: FsProbe): readonly ConfigProblem[] {
  const r = check(input, env, probe);
  if (r.ok) throw new Error('expected the config to be rejected, but it was accepted');
  return r.problems;
}

/** A copy of `raw` with `path` (dotted) set to `value`, or deleted when value is undefined. */
export function withKey(raw: RawConfig, path: string, value: unknown): RawConfig {
  const out = structuredClone(raw);
  const keys = path.split('.');
  let node: Record<string, unknown> = out;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return out;
}

export function edit(...changes: [string, unknown][]): RawConfig {
  return changes.reduce((raw, [path, value]) => withKey(raw, path, value), baseRaw());
}
