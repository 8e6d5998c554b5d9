// External programs the tests need, and the Debian package that provides each one, so that a
// missing binary fails with the command that fixes it instead of a bare ENOENT.
import { accessSync, constants } from 'node:fs';

export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';

export const BINARIES = {
  etcd: { path: '/usr/bin/etcd', debPackage: 'etcd-server etcd-client' },
  etcdctl: { path: '/usr/bin/etcdctl', debPackage: 'etcd-server etcd-client' },
  haproxy: { path: '/usr/sbin/haproxy', debPackage: 'haproxy' },
  patronictl: { path: '/usr/bin/patronictl', debPackage: 'patroni' },
  runuser: { path: '/usr/sbin/runuser', debPackage: 'util-linux' },
} as const satisfies Record<string, { path: string; debPackage: string }>;

export type KnownBinary = keyof typeof BINARIES;

export class MissingBinaryError extends Error {
  readonly path: string;
  readonly debPackage: string;
  constructor(path: string, debPackage: string) {
    super(`required binary ${path} is missing or not executable; ` +
      `install it with: apt-get install -y ${debPackage}`);
    this.name = 'MissingBinaryError';
    this.path = path;
    this.debPackage = debPackage;
  }
}

/** Returns `path` if it is an executable file, else throws MissingBinaryError naming the package. */
export function requireBinary(path: string, debPackage: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new MissingBinaryError(path, debPackage);
  }
  return path;
}

/** requireBinary for one of the well-known tools (etcd, etcdctl, haproxy, patronictl, runuser). */
export function requireKnownBinary(name: KnownBinary): string {
  const b = BINARIES[name];
  return requireBinary(b.path, b.debPackage);
}

/** A PostgreSQL 15 program (initdb, pg_ctl, ...), checked to exist. */
export function pgBinary(name: string): string {
  return requireBinary(`${PG_BIN_DIR}/${name}`, 'postgresql-15');
}
