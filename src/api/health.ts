// Health checks: pure functions of (published snapshot, query, monotonic now). Nothing here does
// I/O, so a health request costs a few property reads no matter what etcd or PostgreSQL are doing.
import type { JobBackoff } from '../core/decide-types.js';
import type { NodeStatus, XlogReplica } from '../obs/node-status.js';
import type { StatusSnapshot } from '../obs/status.js';
import { etcdWarnings, isValidLeaderNow, leaseSecondsLeft } from '../obs/status.js';
import type { Parsed } from './units.js';
import { parseByteSize } from './units.js';

export type HealthCheck =
  | 'primary'
  | 'standby_leader'
  | 'leader'
  | 'replica'
  | 'read_only'
  | 'sync'
  | 'async'
  | 'read_only_sync'
  | 'quorum'
  | 'read_only_quorum'
  | 'health'
  | 'liveness'
  | 'readiness';

/** Every health path (Patroni's spellings, including the 3.x `/master`). */
export const HEALTH_PATHS: Readonly<Record<string, HealthCheck>> = {
  '/': 'primary',
  '/primary': 'primary',
  '/master': 'primary',
  '/read-write': 'primary',
  '/standby-leader': 'standby_leader',
  '/standby_leader': 'standby_leader',
  '/leader': 'leader',
  '/replica': 'replica',
  '/read-only': 'read_only',
  '/sync': 'sync',
  '/synchronous': 'sync',
  '/async': 'async',
  '/asynchronous': 'async',
  '/read-only-sync': 'read_only_sync',
  '/read-only-synchronous': 'read_only_sync',
  '/quorum': 'quorum',
  '/read-only-quorum': 'read_only_quorum',
  '/health': 'health',
  '/liveness': 'liveness',
  '/readiness': 'readiness',
};

export interface HealthFilters {
  /** ?lag= in bytes. */
  readonly lagBytes?: number;
  readonly replicationState?: string;
  /** /readiness ?mode=: measure lag on received (write) or replayed (apply, default) WAL. */
  readonly mode: 'apply' | 'write';
  /** ?tag_<key>=<value> pairs. */
  readonly tags: ReadonlyArray<readonly [string, string]>;
}

function first(v: unknown): string | undefined {
  if (Array.isArray(v)) return first(v[0]);
  return typeof v === 'string' ? v : undefined;
}

/** Parse the health query string; a malformed value is an error naming the parameter. */
export function parseHealthQuery(query: Readonly<Record<string, unknown>>): Parsed<HealthFilters> {
  const tags: Array<readonly [string, string]> = [];
  for (const [key, raw] of Object.entries(query)) {
    if (key.startsWith('tag_') && key.length > 4) tags.push([key.slice(4), first(raw) ?? '']);
  }
  const lagText = first(query['lag']);
  let lagBytes: number | undefined;
  if (lagText !== undefined) {
    const lag = parseByteSize('query parameter lag', lagText);
    if (!lag.ok) return lag;
    lagBytes = lag.value;
  }
  const modeText = first(query['mode']);
  if (modeText !== undefined && modeText !== 'apply' && modeText !== 'write') {
    return { ok: false, error: `query parameter mode must be 'apply' or 'write', got '${modeText}'` };
  }
  const replicationState = first(query['replication_state']);
  return {
    ok: true,
    value: {
      ...(lagBytes !== undefined ? { lagBytes } : {}),
      ...(replicationState !== undefined ? { replicationState } : {}),
      mode: modeText === 'write' ? 'write' : 'apply',
      tags,
    },
  };
}

interface LeaderCodes {
  readonly leader: boolean;
  readonly primary: boolean;
  readonly standbyLeader: boolean;
}

function leaderCodes(snap: StatusSnapshot, nowMonoMs: number): LeaderCodes {
  const n = snap.node;
  const running = n.state === 'running';
  // Paused and etcd unreachable: nothing fences in pause, so PostgreSQL's own role is the truth
  // (Patroni does the same).
  if (snap.paused && !snap.dcsOk) {
    const primary = running && n.role === 'primary';
    const standbyLeader = running && n.role === 'standby_leader';
    return { leader: primary || standbyLeader, primary, standbyLeader };
  }
  if (!isValidLeaderNow(snap, nowMonoMs)) return { leader: false, primary: false, standbyLeader: false };
  return { leader: true, primary: running && n.role === 'primary', standbyLeader: running && n.role === 'standby_leader' };
}

function replicaXlog(n: NodeStatus): XlogReplica | null {
  return n.xlog && 'replayed_location' in n.xlog ? n.xlog : null;
}

function isLagging(snap: StatusSnapshot, maxLag: number | undefined): boolean {
  if (maxLag === undefined || !snap.leaderOptime) return false;
  const replayed = replicaXlog(snap.node)?.replayed_location ?? 0;
  return snap.leaderOptime > replayed + maxLag;
}

function replicaOk(snap: StatusSnapshot, f: HealthFilters): boolean {
  const n = snap.node;
  if (snap.noloadbalance || n.role !== 'replica' || n.state !== 'running') return false;
  if (f.replicationState !== undefined && n.replication_state !== f.replicationState) return false;
  return !isLagging(snap, f.lagBytes);
}

function livenessOk(snap: StatusSnapshot, nowMonoMs: number): boolean {
  return snap.paused || nowMonoMs - snap.lastTickMonoMs < snap.ttlSec * 1000;
}

function readinessOk(snap: StatusSnapshot, f: HealthFilters, nowMonoMs: number): boolean {
  if (isValidLeaderNow(snap, nowMonoMs)) return true;
  const n = snap.node;
  if (n.state !== 'running' || n.replication_state !== 'streaming' || !snap.dcsOk) return false;
  const xlog = replicaXlog(n);
  const position = f.mode === 'write' ? xlog?.received_location : xlog?.replayed_location;
  const lag = (snap.leaderOptime ?? 0) - (position ?? 0);
  return lag <= (f.lagBytes ?? snap.maximumLagOnFailover);
}

function tagsMatch(snap: StatusSnapshot, f: HealthFilters): boolean {
  for (const [key, wanted] of f.tags) {
    const value = snap.tags[key];
    if (value === undefined || value === null) return false;
    const text = typeof value === 'string' ? value : String(value).toLowerCase();
    if (text !== wanted) return false;
  }
  return true;
}

function checkPasses(check: HealthCheck, snap: StatusSnapshot, f: HealthFilters, nowMonoMs: number): boolean {
  const lc = leaderCodes(snap, nowMonoMs);
  const isSync = snap.node.sync_standby === true;
  // Outside quorum mode no node is a quorum standby: /quorum answers 503 everywhere and
  // /read-only-quorum 200 on the leader only, as Patroni does.
  const isQuorum = snap.node.quorum_standby === true;
  switch (check) {
    case 'primary':
      return lc.primary;
    case 'standby_leader':
      return lc.standbyLeader;
    case 'leader':
      return lc.leader;
    case 'replica':
      return replicaOk(snap, f);
    case 'read_only':
      return lc.primary || lc.standbyLeader || replicaOk(snap, f);
    case 'sync':
      return snap.dcsOk && isSync && replicaOk(snap, f);
    case 'async':
      return snap.dcsOk && !isSync && !isQuorum && replicaOk(snap, f);
    case 'quorum':
      return snap.dcsOk && isQuorum && replicaOk(snap, f);
    case 'read_only_quorum':
      return lc.primary || lc.standbyLeader || (snap.dcsOk && isQuorum && replicaOk(snap, f));
    case 'read_only_sync':
      return lc.primary || lc.standbyLeader || (snap.dcsOk && isSync && replicaOk(snap, f));
    case 'health':
      return snap.node.state === 'running';
    case 'liveness':
      return livenessOk(snap, nowMonoMs);
    case 'readiness':
      return readinessOk(snap, f, nowMonoMs);
    default: {
      const never: never = check;
      return never;
    }
  }
}

/** Checks whose answer ignores ?tag_ filters (as in Patroni: leadership is not a load-balancing choice). */
const IGNORES_TAGS: ReadonlySet<HealthCheck> = new Set(['primary', 'standby_leader', 'leader', 'liveness', 'readiness']);

export function evaluateHealth(check: HealthCheck, snap: StatusSnapshot, f: HealthFilters, nowMonoMs: number): 200 | 503 {
  if (!checkPasses(check, snap, f, nowMonoMs)) return 503;
  if (!IGNORES_TAGS.has(check) && !tagsMatch(snap, f)) return 503;
  return 200;
}

/** The JSON body of GET /patroni and of health GETs: Patroni's fields plus the agent's own. */
export function renderStatusBody(snap: StatusSnapshot, nowMonoMs: number): Record<string, unknown> {
  return {
    ...snap.node,
    pg_ha_agent: {
      version: snap.agentVersion,
      holds_leader: isValidLeaderNow(snap, nowMonoMs),
      leader_term: snap.leaderTerm,
      lease_seconds_left: Math.round(leaseSecondsLeft(snap, nowMonoMs) * 1000) / 1000,
      last_decision: { reason: snap.lastDecision.reason, actions: snap.lastDecision.actions },
      ...(snap.lastDecision.switchoverAborted ? { last_switchover_aborted: snap.lastDecision.switchoverAborted } : {}),
      last_tick_age_ms: Math.max(0, Math.round(nowMonoMs - snap.lastTickMonoMs)),
      ...(snap.etcdMembers === undefined ? {} : { etcd: etcdBody(snap) }),
      ...(snap.jobBackoff ? { pending_job_backoff: backoffBody(snap.jobBackoff, nowMonoMs) } : {}),
      ...(snap.startingAs ? { starting_as: snap.startingAs } : {}),
      ...(snap.pgUnresponsive ? { pg_unresponsive: true } : {}),
      ...(snap.stoppedWal && snap.node.state !== 'running' ? { stopped_wal: { lsn: snap.stoppedWal.lsn, timeline: snap.stoppedWal.timeline } } : {}),
    },
  };
}

/** pg_ha_agent.etcd: each member as this agent's client sees it, and lease-safety warnings. */
function etcdBody(snap: StatusSnapshot): Record<string, unknown> {
  return {
    members: (snap.etcdMembers ?? []).map((m) => ({
      endpoint: m.endpoint, up: m.up, in_use: m.inUse, version: m.version, raft_leader: m.raftLeader, errors_total: m.errorsTotal,
    })),
    warnings: etcdWarnings(snap),
  };
}

/** A repair job that keeps failing: what, how often, and when the agent tries it again. */
export function backoffBody(b: JobBackoff, nowMonoMs: number): Record<string, unknown> {
  return {
    job: b.job,
    target: b.target,
    failures: b.failures,
    delay_seconds: b.delayMs / 1000,
    retry_in_seconds: Math.max(0, Math.ceil((b.notBeforeMs - nowMonoMs) / 100) / 10),
    last_error: b.error,
  };
}
