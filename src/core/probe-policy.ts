// Which ticks probe the other members' REST APIs before deciding. Probing costs up to its timeout
// (a dead member), so decide() asks for it (a probePeers decision, decide.ts) only when it will
// read the answers: the S2 race, a key holder's re-check before a late promotion, a switchover it
// runs, and the leader with a PostgreSQL down and primary_start_timeout 0 (it fails over only when
// a replica can take over).
// test/unit/core/probe-policy.test.ts checks that decide() never reads peers on the other ticks.
import type { ClusterView } from './cluster.js';
import type { LocalPg } from './local-pg.js';

export interface ProbeQuestion {
  readonly cluster: ClusterView | null;
  readonly local: LocalPg;
  readonly self: string;
  readonly primaryStartTimeoutSec: number;
}

/** Why this tick probes the peers, or null when decide() will not read them. */
export function probeReason(q: ProbeQuestion): string | null {
  const { cluster, local, self } = q;
  if (!cluster) return null;
  const holds = cluster.leader?.name === self;
  if (holds && local.kind === 'down' && q.primaryStartTimeoutSec === 0) return 'primary down with primary_start_timeout 0: is there a successor?';
  if (local.kind !== 'running') return null;
  if (cluster.leader === null) return 'leader race';
  if (holds && local.inRecovery) return 'key held while in recovery: S2 again before promoting';
  if (holds && cluster.failover !== null) return 'switchover or failover request';
  return null;
}
