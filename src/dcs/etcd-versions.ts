// etcd server versions with known lease-safety bugs, from etcd's own changelogs
// (CHANGELOG/CHANGELOG-3.4.md, -3.5.md, -3.6.md in etcd-io/etcd). docs/etcd.md explains each one.
// Pure: the caller reads the version (maintenance Status) and decides how to warn.

export interface LeaseBug {
  /** Short name used in logs, /patroni and agentctl. */
  readonly id: string;
  readonly summary: string;
  /** The upstream references (issues and PRs). */
  readonly refs: string;
  /** First fixed release per minor line; a minor line not listed and older than the lowest is affected. */
  readonly fixedIn: Readonly<Record<string, string>>;
  /** Minor lines newer than these were released with the fix in place. */
  readonly fixedFromMinor: string;
}

export const LEASE_BUGS: readonly LeaseBug[] = [
  {
    id: 'old-leader-revokes-leases',
    summary: 'a stalled raft leader that resumes can revoke live leases it believes expired',
    refs: 'etcd issues #12528, #15247; fixed by PR #16822 (3.4: #17465, 3.5: #17425)',
    fixedIn: { '3.4': '3.4.31', '3.5': '3.5.13' },
    fixedFromMinor: '3.6',
  },
  {
    id: 'renew-of-revoked-lease',
    summary: 'a keepalive can report success for a lease that is being revoked',
    refs: 'etcd PRs #20615 (3.6), #20616 (3.5), #20813 (3.4)',
    fixedIn: { '3.4': '3.4.38', '3.5': '3.5.23', '3.6': '3.6.5' },
    fixedFromMinor: '3.7',
  },
];

type Triple = readonly [number, number, number];

/** "3.4.23" (or "v3.4.23", "3.5.0-rc.1") -> [3, 4, 23]; null when it is not a version. */
export function parseVersion(v: string): Triple | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (m === null) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function affected(bug: LeaseBug, v: Triple): string | null {
  const fixedFrom = parseVersion(`${bug.fixedFromMinor}.0`);
  if (fixedFrom !== null && compare(v, fixedFrom) >= 0) return null;
  const fix = bug.fixedIn[`${v[0]}.${v[1]}`];
  if (fix === undefined) return `${Object.values(bug.fixedIn).join(', ')} or ${bug.fixedFromMinor}.0`;
  const fixed = parseVersion(fix);
  return fixed !== null && compare(v, fixed) < 0 ? fix : null;
}

export interface VersionFinding {
  readonly bug: string;
  readonly summary: string;
  readonly refs: string;
  /** The release(s) to upgrade to. */
  readonly fixedIn: string;
}

/** The lease-safety bugs a server version has; empty when none (or the version is unreadable). */
export function leaseBugsOf(version: string): VersionFinding[] {
  const v = parseVersion(version);
  if (v === null) return [];
  const out: VersionFinding[] = [];
  for (const bug of LEASE_BUGS) {
    const fix = affected(bug, v);
    if (fix !== null) out.push({ bug: bug.id, summary: bug.summary, refs: bug.refs, fixedIn: fix });
  }
  return out;
}

/** One line for logs, /patroni and agentctl list; null when the version has no known lease bug. */
export function versionWarning(endpoint: string, version: string): string | null {
  const found = leaseBugsOf(version);
  if (found.length === 0) return null;
  const bugs = found.map((f) => `${f.bug} (fixed in ${f.fixedIn})`).join(', ');
  return `etcd member ${endpoint} runs etcd ${version}, which has known lease-safety bugs: ${bugs}; upgrade etcd`;
}
