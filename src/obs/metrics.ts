// Prometheus text exposition of the status snapshot: Patroni's metric names (so existing
// dashboards and alerts keep working) plus the agent's own under pg_ha_agent_*. Rendering is a
// pure function of (snapshot, now); the counters are immutable values the loop replaces each tick.
import type { XlogPrimary, XlogReplica } from './node-status.js';
import type { StatusSnapshot } from './status.js';
import { isValidLeaderNow, leaseSecondsLeft } from './status.js';

/** Upper bounds (seconds) of the tick duration histogram buckets; +Inf is implicit. */
export const TICK_DURATION_BUCKETS_SEC: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface DurationHistogram {
  readonly bucketsSec: readonly number[];
  /** Non-cumulative count per bucket; one extra slot at the end for +Inf. */
  readonly counts: readonly number[];
  readonly sumSec: number;
  readonly count: number;
}

export interface AgentCounters {
  readonly ticksTotal: number;
  readonly tickDuration: DurationHistogram;
  readonly decisionsByKind: Readonly<Record<string, number>>;
  readonly fenceEventsTotal: number;
}

export function emptyCounters(): AgentCounters {
  return Object.freeze({
    ticksTotal: 0,
    tickDuration: Object.freeze({
      bucketsSec: TICK_DURATION_BUCKETS_SEC,
      counts: Object.freeze(new Array<number>(TICK_DURATION_BUCKETS_SEC.length + 1).fill(0)),
      sumSec: 0,
      count: 0,
    }),
    decisionsByKind: Object.freeze({}),
    fenceEventsTotal: 0,
  });
}

export interface TickRecord {
  readonly durationMs: number;
  /** The kinds of the actions the tick decided (e.g. 'renew_leader', 'promote'); empty for none. */
  readonly actionKinds: readonly string[];
}

/** Count one completed tick. Returns new counters; the input is not modified. */
export function recordTick(c: AgentCounters, tick: TickRecord): AgentCounters {
  const sec = Math.max(0, tick.durationMs) / 1000;
  const h = c.tickDuration;
  let idx = h.bucketsSec.findIndex((le) => sec <= le);
  if (idx < 0) idx = h.bucketsSec.length;
  const counts = [...h.counts];
  counts[idx] = (counts[idx] ?? 0) + 1;
  const kinds = tick.actionKinds.length > 0 ? tick.actionKinds : ['none'];
  const decisions: Record<string, number> = { ...c.decisionsByKind };
  for (const kind of kinds) decisions[kind] = (decisions[kind] ?? 0) + 1;
  return Object.freeze({
    ticksTotal: c.ticksTotal + 1,
    tickDuration: Object.freeze({ ...h, counts: Object.freeze(counts), sumSec: h.sumSec + sec, count: h.count + 1 }),
    decisionsByKind: Object.freeze(decisions),
    fenceEventsTotal: c.fenceEventsTotal,
  });
}

/** Count fence events (PostgreSQL stopped because the lease could no longer be proven). */
export function recordFenceEvents(c: AgentCounters, n = 1): AgentCounters {
  return Object.freeze({ ...c, fenceEventsTotal: c.fenceEventsTotal + n });
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'gauge' | 'counter';

class Exposition {
  readonly lines: string[] = [];
  constructor(private readonly labels: string) {}

  metric(name: string, kind: Kind, help: string, value: number | boolean): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, `${name}{${this.labels}} ${num(value)}`);
  }

  header(name: string, kind: Kind | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
  }

  /** A sample whose value is already formatted (patroni_version keeps its leading zeros). */
  raw(name: string, value: string): void {
    this.lines.push(`${name}{${this.labels}} ${value}`);
  }

  sample(name: string, extra: string, value: number): void {
    const labels = extra ? `${this.labels},${extra}` : this.labels;
    this.lines.push(`${name}{${labels}} ${num(value)}`);
  }
}

function num(v: number | boolean): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (!Number.isFinite(v)) return '0';
  return String(v);
}

/** Escape a label value per the exposition format (backslash, double quote, newline). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** "1.2.3" -> 10203 style padding Patroni uses ("3.0.2" -> "030002"). */
export function paddedSemver(version: string): string {
  const core = version.split(/[-+]/)[0] ?? '';
  return core.split('.').map((p) => p.padStart(2, '0')).join('');
}

function epochSeconds(iso: string | null | undefined): number {
  if (!iso) return 0;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms / 1000;
}

export function renderMetrics(snap: StatusSnapshot, nowMonoMs: number): string {
  const e = new Exposition(`scope="${escapeLabel(snap.scope)}",name="${escapeLabel(snap.name)}"`);
  renderPatroniMetrics(e, snap);
  renderAgentMetrics(e, snap, nowMonoMs);
  return e.lines.join('\n') + '\n';
}

interface PatroniView {
  readonly n: StatusSnapshot['node'];
  readonly snap: StatusSnapshot;
  readonly primary: XlogPrimary | null;
  readonly replica: XlogReplica | null;
}

type MetricRow = readonly [name: string, kind: Kind, help: string, value: (v: PatroniView) => number | boolean];

/** Patroni 4.x's /metrics, in its order and with its help texts (dashboards key on the names). */
const PATRONI_METRICS: readonly MetricRow[] = [
  ['patroni_postgres_running', 'gauge', 'Value is 1 if Postgres is running, 0 otherwise.', (v) => v.n.state === 'running'],
  ['patroni_postmaster_start_time', 'gauge', 'Epoch seconds since Postgres started.',
    (v) => epochSeconds(v.n.postmaster_start_time)],
  ['patroni_primary', 'gauge', 'Value is 1 if this node is the leader, 0 otherwise.', (v) => v.n.role === 'primary'],
  ['patroni_xlog_location', 'counter', 'Current location of the Postgres transaction log, 0 if this node is not the leader.',
    (v) => v.primary?.location ?? 0],
  ['patroni_standby_leader', 'gauge', 'Value is 1 if this node is the standby_leader, 0 otherwise.',
    (v) => v.n.role === 'standby_leader'],
  ['patroni_replica', 'gauge', 'Value is 1 if this node is a replica, 0 otherwise.', (v) => v.n.role === 'replica'],
  ['patroni_sync_standby', 'gauge', 'Value is 1 if this node is a sync standby, 0 otherwise.', (v) => v.n.sync_standby === true],
  ['patroni_quorum_standby', 'gauge', 'Value is 1 if this node is a quorum standby, 0 otherwise.', (v) => v.n.quorum_standby === true],
  ['patroni_xlog_received_location', 'counter',
    'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
    (v) => v.replica?.received_location ?? 0],
  ['patroni_xlog_replayed_location', 'counter',
    'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
    (v) => v.replica?.replayed_location ?? 0],
  ['patroni_xlog_replayed_timestamp', 'gauge', 'Current timestamp of the replayed Postgres transaction log, 0 if null.',
    (v) => epochSeconds(v.replica?.replayed_timestamp)],
  ['patroni_xlog_paused', 'gauge', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', (v) => v.replica?.paused === true],
  ['patroni_postgres_streaming', 'gauge', 'Value is 1 if Postgres is streaming, 0 otherwise.',
    (v) => v.n.replication_state === 'streaming'],
  ['patroni_postgres_in_archive_recovery', 'gauge', 'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
    (v) => v.n.replication_state === 'in archive recovery'],
  ['patroni_postgres_server_version', 'gauge', 'Version of Postgres (if running), 0 otherwise.', (v) => v.n.server_version ?? 0],
  ['patroni_cluster_unlocked', 'gauge', 'Value is 1 if the cluster is unlocked, 0 if locked.', (v) => v.n.cluster_unlocked === true],
  ['patroni_failsafe_mode_is_active', 'gauge', 'Value is 1 if failsafe mode is active, 0 if inactive.', () => 0],
  ['patroni_postgres_timeline', 'counter', 'Postgres timeline of this node (if running), 0 otherwise.', (v) => v.n.timeline ?? 0],
  ['patroni_dcs_last_seen', 'gauge', 'Epoch timestamp when DCS was last contacted successfully by Patroni.',
    (v) => v.n.dcs_last_seen],
  ['patroni_pending_restart', 'gauge', 'Value is 1 if the node needs a restart, 0 otherwise.', (v) => v.n.pending_restart === true],
  ['patroni_is_paused', 'gauge', 'Value is 1 if auto failover is disabled, 0 otherwise.', (v) => v.snap.paused],
];

function renderPatroniMetrics(e: Exposition, snap: StatusSnapshot): void {
  const n = snap.node;
  const view: PatroniView = {
    n,
    snap,
    primary: n.xlog && 'location' in n.xlog ? n.xlog : null,
    replica: n.xlog && 'replayed_location' in n.xlog ? n.xlog : null,
  };
  e.header('patroni_version', 'gauge', 'Patroni semver without periods.');
  e.raw('patroni_version', paddedSemver(snap.agentVersion));
  for (const [name, kind, help, value] of PATRONI_METRICS) e.metric(name, kind, help, value(view));
}

function renderAgentMetrics(e: Exposition, snap: StatusSnapshot, nowMonoMs: number): void {
  const c = snap.counters;
  e.metric('pg_ha_agent_holds_leader', 'gauge',
    'Value is 1 if this node holds the leader key with a lease valid by its own deadline, 0 otherwise.',
    isValidLeaderNow(snap, nowMonoMs));
  e.metric('pg_ha_agent_lease_seconds_left', 'gauge',
    'Seconds until the leader lease can no longer be proven valid (0 when not the leader).',
    leaseSecondsLeft(snap, nowMonoMs));
  e.metric('pg_ha_agent_leader_term', 'gauge', 'create_revision of the leader key (the term), 0 when unlocked.',
    snap.leaderTerm ?? 0);
  e.metric('pg_ha_agent_last_tick_age_seconds', 'gauge', 'Seconds since the agent loop last completed a tick.',
    Math.max(0, (nowMonoMs - snap.lastTickMonoMs) / 1000));
  e.metric('pg_ha_agent_fence_events_total', 'counter',
    'Times PostgreSQL was stopped because the lease could no longer be proven.', c.fenceEventsTotal);
  e.metric('pg_ha_agent_ticks_total', 'counter', 'Agent loop ticks completed.', c.ticksTotal);
  renderHistogram(e, 'pg_ha_agent_tick_duration_seconds', 'Duration of agent loop ticks.', c.tickDuration);
  e.header('pg_ha_agent_decisions_total', 'counter', 'Actions decided by the agent loop, by kind.');
  for (const kind of Object.keys(c.decisionsByKind).sort()) {
    e.sample('pg_ha_agent_decisions_total', `kind="${escapeLabel(kind)}"`, c.decisionsByKind[kind] ?? 0);
  }
  renderEtcdMembers(e, snap);
}

/** Per etcd member (label endpoint): errors, up, in use, and known lease-safety bugs of its version. */
function renderEtcdMembers(e: Exposition, snap: StatusSnapshot): void {
  const members = snap.etcdMembers;
  if (members === undefined || members.length === 0) return;
  const label = (endpoint: string): string => `endpoint="${escapeLabel(endpoint)}"`;
  e.header('pg_ha_agent_etcd_member_errors_total', 'counter',
    'Failed etcd calls and status probes per etcd member (transport errors, deadlines, etcd leader changes).');
  for (const m of members) e.sample('pg_ha_agent_etcd_member_errors_total', label(m.endpoint), m.errorsTotal);
  e.header('pg_ha_agent_etcd_member_up', 'gauge', 'Value is 1 if the etcd member answers, 0 if calls skip it.');
  for (const m of members) e.sample('pg_ha_agent_etcd_member_up', label(m.endpoint), m.up ? 1 : 0);
  e.header('pg_ha_agent_etcd_member_in_use', 'gauge', 'Value is 1 for the etcd member the agent sends its calls to.');
  for (const m of members) e.sample('pg_ha_agent_etcd_member_in_use', label(m.endpoint), m.inUse ? 1 : 0);
  e.header('pg_ha_agent_etcd_member_lease_safety_warning', 'gauge',
    'Value is 1 if the etcd member runs a version with a known lease-safety bug (see docs/etcd.md).');
  for (const m of members) {
    if (m.version === null) continue;
    e.sample('pg_ha_agent_etcd_member_lease_safety_warning', `${label(m.endpoint)},version="${escapeLabel(m.version)}"`, m.warning === null ? 0 : 1);
  }
}

function renderHistogram(e: Exposition, name: string, help: string, h: DurationHistogram): void {
  e.header(name, 'histogram', help);
  let cumulative = 0;
  h.bucketsSec.forEach((le, i) => {
    cumulative += h.counts[i] ?? 0;
    e.sample(`${name}_bucket`, `le="${le}"`, cumulative);
  });
  e.sample(`${name}_bucket`, 'le="+Inf"', h.count);
  e.sample(`${name}_sum`, '', h.sumSec);
  e.sample(`${name}_count`, '', h.count);
}
