// Parameters as the running server version wants them, as Patroni does (postgresql/config.py and
// validator.py): a config written for PostgreSQL <= 12 (wal_keep_segments) keeps working on 13+,
// and a parameter the server does not know is never written (PostgreSQL refuses to start on one).
import type { ParamValue } from './postgresql-conf.js';

/** What the installed server binary accepts; null fields when it could not be asked. */
export interface ServerFacts {
  /** server_version_num style: 150010 -> major 150000. */
  readonly majorVersion: number;
  /** Lower-case names from `postgres --describe-config`; null when unavailable. */
  readonly knownParameters: ReadonlySet<string> | null;
}

export interface AdaptedParameters {
  readonly params: Map<string, ParamValue>;
  /** "name (reason)" for each parameter dropped or renamed, logged once as a warning. */
  readonly changes: readonly string[];
}

/** First major version (server_version_num) that has the parameter, for the ones Patroni tracks. */
const MIN_VERSION: Readonly<Record<string, number>> = {
  wal_keep_size: 130000,
};

/** Patroni's rule: 16MB segments for the wal_keep_segments <-> wal_keep_size translation. */
function walKeepSizeMb(value: ParamValue): number | null {
  const m = /^\s*(\d+)\s*(MB|GB|TB|kB)?\s*$/.exec(String(value));
  if (!m) return null;
  const scale: Record<string, number> = { kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 };
  return Number(m[1]) * scale[m[2] ?? 'MB']!;
}

function translateWalKeep(params: Map<string, ParamValue>, major: number, changes: string[]): void {
  if (major >= 130000) {
    if (!params.has('wal_keep_segments')) return;
    const segs = Number(params.get('wal_keep_segments'));
    params.delete('wal_keep_segments');
    if (params.has('wal_keep_size')) {
      changes.push('wal_keep_segments (dropped: wal_keep_size is set; PostgreSQL 13+ has no wal_keep_segments)');
    } else if (Number.isInteger(segs) && segs >= 0) {
      params.set('wal_keep_size', `${segs * 16}MB`);
      changes.push(`wal_keep_segments (written as wal_keep_size = ${segs * 16}MB on PostgreSQL 13+)`);
    } else {
      changes.push('wal_keep_segments (dropped: not an integer; PostgreSQL 13+ has no wal_keep_segments)');
    }
  } else if (params.has('wal_keep_size')) {
    const mb = walKeepSizeMb(params.get('wal_keep_size')!);
    params.delete('wal_keep_size');
    if (!params.has('wal_keep_segments') && mb !== null) {
      params.set('wal_keep_segments', Math.floor((mb + 8) / 16));
      changes.push('wal_keep_size (written as wal_keep_segments before PostgreSQL 13)');
    } else {
      changes.push('wal_keep_size (dropped: PostgreSQL before 13 has no wal_keep_size)');
    }
  }
}

/** An extension's parameter (a dot in the name) is never checked against the server's list. */
function unknownToServer(name: string, facts: ServerFacts): boolean {
  if (name.includes('.')) return false;
  const min = MIN_VERSION[name];
  if (min !== undefined && facts.majorVersion < min) return true;
  return facts.knownParameters !== null && !facts.knownParameters.has(name);
}

/** The parameters, translated and filtered for the server; unchanged when the facts are unknown. */
export function adaptToServer(input: ReadonlyMap<string, ParamValue>, facts: ServerFacts | null): AdaptedParameters {
  const params = new Map(input);
  const changes: string[] = [];
  if (facts === null) return { params, changes };
  if (params.get('wal_level') === 'hot_standby') params.set('wal_level', 'replica');
  translateWalKeep(params, facts.majorVersion, changes);
  for (const name of [...params.keys()]) {
    if (unknownToServer(name, facts)) {
      params.delete(name);
      changes.push(`${name} (dropped: unknown to PostgreSQL ${Math.floor(facts.majorVersion / 10000)})`);
    }
  }
  return { params, changes };
}

/** `postgres --version` output -> server_version_num of the major version (15.10 -> 150000). */
export function parseMajorVersion(text: string): number | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  const major = Number(m[1]);
  return major >= 10 ? major * 10000 : major * 10000 + Number(m[2] ?? 0) * 100;
}

/** `postgres --describe-config` prints one tab-separated line per parameter, its name first. */
export function parseDescribeConfig(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split('\t')[0]?.trim().toLowerCase();
    if (name && /^[a-z_][a-z0-9_.]*$/.test(name)) names.add(name);
  }
  return names;
}
