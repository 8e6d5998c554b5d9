// The `postgres` OS user. PostgreSQL refuses to run as root, and so does our agent: when the
// tests run as root, everything PostgreSQL-related is started as this user.
import { readFileSync } from 'node:fs';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

let cached: OsUser | undefined;

export function postgresUser(): OsUser {
  if (cached !== undefined) return cached;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const f = line?.split(':');
  if (f === undefined || f.length < 7) {
    throw new Error('OS user postgres does not exist; install it with: apt-get install -y postgresql-15');
  }
  cached = { name: 'postgres', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  return cached;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** spawn() options that make a child run as postgres when we are root (no wrapper process). */
export function postgresSpawnIds(): { uid: number; gid: number } | Record<string, never> {
  if (!isRoot()) return {};
  const u = postgresUser();
  return { uid: u.uid, gid: u.gid };
}

/** Environment for a child running as postgres: its own HOME/USER, so libpq finds no root files. */
export function postgresEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!isRoot()) return { ...base };
  const u = postgresUser();
  return { ...base, HOME: u.home, USER: u.name, LOGNAME: u.name };
}
