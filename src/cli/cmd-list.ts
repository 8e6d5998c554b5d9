// agentctl list and topology: the members as etcd shows them, like patronictl list, with the
// cluster name and system identifier in the title and pause / scheduled switchover below.
import type { ClusterView, MemberJobBackoff, MemberView } from '../core/cluster.js';
import { readCluster } from './cluster.js';
import type { CtlContext } from './context.js';
import { EXIT_OK } from './errors.js';
import { formatMb, renderData, renderTable, tagsText } from './render.js';

export interface MemberRow {
  readonly name: string;
  readonly host: string;
  readonly port: number | null;
  /** leader, standby_leader, sync_standby, quorum_standby, replica; "primary" for a primary without the key. */
  readonly role: string;
  readonly state: string;
  readonly timeline: number | null;
  readonly lag_bytes: number | null;
  readonly tags: Readonly<Record<string, unknown>>;
  readonly pending_restart: boolean;
  readonly api_url: string;
  /** pg-ha-agent's last decision on that member (absent for Patroni members). */
  readonly reason: string | null;
  readonly replicatefrom: string | null;
  /** pg-ha-agent: a repair job on that member keeps failing and waits before its next try. */
  readonly pending_job_backoff: { job: string; target: string | null; failures: number; retry_in_seconds: number; last_error: string } | null;
}

function hostPort(connUrl: string): { host: string; port: number | null } {
  try {
    const u = new URL(connUrl);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 5432 : Number(u.port) };
  } catch {
    return { host: '', port: null };
  }
}

/** The leader's WAL position: the fresher of its member key and the `status` key. */
export function leaderLsn(cluster: ClusterView): number | null {
  const leader = cluster.members.find((m) => m.name === cluster.leader?.name);
  const values = [leader?.xlogLocation, cluster.status?.optime].filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? Math.max(...values) : null;
}

function roleOf(m: MemberView, cluster: ClusterView): string {
  if (cluster.leader?.name === m.name) return m.role === 'standby_leader' ? 'standby_leader' : 'leader';
  if (m.role === 'primary') return 'primary';
  const mode = cluster.config?.value.synchronous_mode;
  if (mode && cluster.sync?.value.syncStandby.includes(m.name)) return mode === 'quorum' ? 'quorum_standby' : 'sync_standby';
  return 'replica';
}

export function memberRows(cluster: ClusterView): MemberRow[] {
  const top = leaderLsn(cluster);
  return cluster.members.map((m) => {
    const isLeader = cluster.leader?.name === m.name;
    const position = m.receiveLsn ?? m.xlogLocation ?? null;
    const lag = isLeader || top === null || position === null ? null : Math.max(0, top - position);
    const tags = Object.fromEntries(Object.entries(m.tags).filter(([, v]) => v !== undefined));
    return {
      name: m.name,
      ...hostPort(m.connUrl),
      role: roleOf(m, cluster),
      state: (!isLeader && m.replicationState) || m.state,
      timeline: m.timeline ?? null,
      lag_bytes: lag,
      tags,
      pending_restart: m.pendingRestart === true,
      api_url: m.apiUrl,
      reason: m.reason ?? null,
      replicatefrom: typeof m.tags.replicatefrom === 'string' ? m.tags.replicatefrom : null,
      pending_job_backoff: m.jobBackoff
        ? { job: m.jobBackoff.job, target: m.jobBackoff.target, failures: m.jobBackoff.failures, retry_in_seconds: m.jobBackoff.retryInSeconds, last_error: m.jobBackoff.error }
        : null,
    };
  });
}

const ROLE_WORDS: Readonly<Record<string, string>> = {
  leader: 'Leader', standby_leader: 'Standby Leader', sync_standby: 'Sync Standby', quorum_standby: 'Quorum Standby', replica: 'Replica', primary: 'Primary (no leader key)',
};

export function clusterTitle(scope: string, cluster: ClusterView): string {
  const id = cluster.initialize === null ? 'uninitialized' : cluster.initialize === '' ? 'initializing' : cluster.initialize;
  return `Cluster: ${scope} (${id})`;
}

/** The lines under the table: pause, scheduled or pending switchover, no leader, bad keys. */
export function serviceInfo(cluster: ClusterView): string[] {
  const out: string[] = [];
  if (cluster.config?.value.pause === true) out.push('Maintenance mode: on');
  const fo = cluster.failover?.value;
  if (fo?.scheduledAt) {
    out.push(`Switchover scheduled at: ${fo.scheduledAt}`);
    if (fo.leader) out.push(`                    from: ${fo.leader}`);
    out.push(`                      to: ${fo.member ?? '(the best candidate at that time)'}`);
  } else if (fo) {
    out.push(`Switchover/failover in progress: from ${fo.leader ?? '(no leader)'} to ${fo.member ?? '(the best candidate)'}`);
  }
  if (cluster.leader === null && cluster.members.length > 0) out.push('No leader: the leader key is absent (failover in progress, or paused without a primary)');
  for (const m of cluster.members) if (m.jobBackoff) out.push(backoffLine(m.name, m.jobBackoff));
  for (const bad of cluster.invalid) {
    if (bad.refusedKey !== undefined || bad.unknownKeys !== undefined) out.push(`Warning: ${bad.key}: ${bad.reason}`);
    else if (bad.key === 'config') out.push(`Warning: config has an invalid value (${bad.reason}); the agents keep their last valid configuration in force: repair it with agentctl edit-config`);
    else out.push(`Warning: ${bad.key} has an invalid value and is ignored (${bad.reason})`);
  }
  return out;
}

/** A member whose agent repeats a failing job: say so under the table, every time. */
export function backoffLine(name: string, b: MemberJobBackoff): string {
  const target = b.target === null ? '' : ` (${b.target})`;
  return `Backing off: ${name} job ${b.job}${target} failed ${b.failures} time${b.failures === 1 ? '' : 's'} in a row, next try in ${b.retryInSeconds} s: ${b.error}`;
}

function tableFor(ctx: CtlContext, cluster: ClusterView, rows: readonly MemberRow[], names: readonly string[], extended: boolean): string {
  const appendPort = rows.some((r) => r.port !== 5432) || new Set(rows.map((r) => r.host)).size < rows.length;
  const columns = ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
  const withPending = extended || rows.some((r) => r.pending_restart);
  const withTags = rows.some((r) => Object.keys(r.tags).length > 0);
  if (withPending) columns.push('Pending restart');
  if (withTags) columns.push('Tags');
  if (extended) columns.push('Last decision');
  const body = rows.map((r, i) => {
    const cells = [
      names[i] ?? r.name,
      appendPort && r.port !== null ? `${r.host}:${r.port}` : r.host,
      ROLE_WORDS[r.role] ?? r.role,
      r.state,
      r.timeline === null ? '' : String(r.timeline),
      r.role === 'leader' || r.role === 'standby_leader' ? '' : formatMb(r.lag_bytes),
    ];
    if (withPending) cells.push(r.pending_restart ? '*' : '');
    if (withTags) cells.push(tagsText(r.tags));
    if (extended) cells.push(r.reason ?? '');
    return cells;
  });
  const info = serviceInfo(cluster);
  const table = renderTable({ title: clusterTitle(ctx.config.scope, cluster), columns, rows: body, right: ['TL', 'Lag in MB'] });
  return table + info.map((l) => ` ${l}\n`).join('');
}

/**
 * One footer line per etcd member whose version has a known lease-safety bug (docs/etcd.md).
 * Asked of the members directly, so it shows even when no agent runs; silent when none answers.
 */
export async function etcdVersionWarnings(ctx: CtlContext): Promise<string[]> {
  const refresh = ctx.dcs.refreshEtcdMembers;
  if (refresh === undefined) return [];
  try {
    const members = await refresh.call(ctx.dcs);
    return members.flatMap((m) => (m.warning === null ? [] : [`Warning: ${m.warning}`]));
  } catch {
    return [];
  }
}

export function listJson(scope: string, cluster: ClusterView, etcdWarnings: readonly string[] = []): Record<string, unknown> {
  const fo = cluster.failover?.value;
  return {
    scope,
    system_identifier: cluster.initialize,
    leader: cluster.leader?.name ?? null,
    paused: cluster.config?.value.pause === true,
    scheduled_switchover: fo?.scheduledAt ? { at: fo.scheduledAt, from: fo.leader ?? null, to: fo.member ?? null } : null,
    pending_failover: fo && !fo.scheduledAt ? { from: fo.leader ?? null, to: fo.member ?? null } : null,
    members: memberRows(cluster).map(({ replicatefrom: _r, ...row }) => row),
    etcd_warnings: etcdWarnings.map((w) => w.replace(/^Warning: /, '')),
  };
}

export async function runList(ctx: CtlContext, opts: { extended: boolean }): Promise<number> {
  const cluster = await readCluster(ctx);
  const warnings = await etcdVersionWarnings(ctx);
  if (ctx.format !== 'table') {
    ctx.io.out(renderData(ctx.format, listJson(ctx.config.scope, cluster, warnings)));
    return EXIT_OK;
  }
  const rows = memberRows(cluster);
  ctx.io.out(tableFor(ctx, cluster, rows, rows.map((r) => r.name), opts.extended) + warnings.map((l) => ` ${l}\n`).join(''));
  return EXIT_OK;
}

interface TreeNode {
  readonly row: MemberRow;
  readonly depth: number;
}

/** Leader first, then each member under the one it replicates from (replicatefrom, else the leader). */
export function topologyOrder(cluster: ClusterView): TreeNode[] {
  const rows = memberRows(cluster);
  const names = new Set(rows.map((r) => r.name));
  const leader = cluster.leader?.name;
  const parentOf = (r: MemberRow): string | null => {
    if (r.name === leader) return null;
    if (r.replicatefrom && names.has(r.replicatefrom) && r.replicatefrom !== r.name) return r.replicatefrom;
    return leader !== undefined && names.has(leader) ? leader : null;
  };
  const out: TreeNode[] = [];
  const seen = new Set<string>();
  const visit = (r: MemberRow, depth: number): void => {
    if (seen.has(r.name)) return;
    seen.add(r.name);
    out.push({ row: r, depth });
    for (const child of rows.filter((c) => parentOf(c) === r.name)) visit(child, depth + 1);
  };
  for (const root of rows.filter((r) => parentOf(r) === null)) visit(root, 0);
  // Cycles of replicatefrom tags: show the rest at the top level rather than hide them.
  for (const r of rows) visit(r, 0);
  return out;
}

function treeJson(nodes: readonly TreeNode[], from: number, depth: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = from; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.depth < depth) break;
    if (n.depth > depth) continue;
    const { replicatefrom: _r, ...row } = n.row;
    out.push({ ...row, replicas: treeJson(nodes, i + 1, depth + 1) });
  }
  return out;
}

export async function runTopology(ctx: CtlContext): Promise<number> {
  const cluster = await readCluster(ctx);
  const nodes = topologyOrder(cluster);
  if (ctx.format !== 'table') {
    const members = treeJson(nodes, 0, 0);
    ctx.io.out(renderData(ctx.format, { scope: ctx.config.scope, system_identifier: cluster.initialize, members }));
    return EXIT_OK;
  }
  const names = nodes.map((n) => (n.depth === 0 ? n.row.name : `${' '.repeat(n.depth - 1)}+ ${n.row.name}`));
  ctx.io.out(tableFor(ctx, cluster, nodes.map((n) => n.row), names, false));
  return EXIT_OK;
}
