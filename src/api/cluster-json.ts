// Patroni's JSON renderings of the cluster view: GET /cluster (utils.cluster_as_json in Patroni
// 4.x) and GET /history. Pure.
import type { ClusterView, HistoryEntry, MemberView } from '../core/cluster.js';
import { formatLsn } from '../core/lsn.js';

type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue | undefined };

function hostPort(connUrl: string): { host?: string; port?: number } {
  try {
    const url = new URL(connUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!host) return {};
    return url.port ? { host, port: Number(url.port) } : { host };
  } catch {
    return {};
  }
}

function memberRole(m: MemberView, cluster: ClusterView): string {
  if (cluster.leader?.name === m.name) return m.role === 'standby_leader' ? 'standby_leader' : 'leader';
  const syncMode = cluster.config?.value.synchronous_mode;
  if (syncMode && cluster.sync?.value.syncStandby.includes(m.name)) {
    return syncMode === 'quorum' ? 'quorum_standby' : 'sync_standby';
  }
  return 'replica';
}

function lagFields(m: MemberView, clusterLsn: number): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const positions: ReadonlyArray<readonly [string, number | undefined]> = [
    ['receive_', m.receiveLsn],
    ['replay_', m.replayLsn],
    ['', m.xlogLocation],
  ];
  for (const [prefix, lsn] of positions) {
    if (!lsn) {
      out[`${prefix}lsn`] = 'unknown';
      out[`${prefix}lag`] = 'unknown';
    } else {
      out[`${prefix}lsn`] = formatLsn(lsn);
      out[`${prefix}lag`] = clusterLsn >= lsn ? clusterLsn - lsn : 0;
    }
  }
  return out;
}

function memberJson(m: MemberView, cluster: ClusterView): Record<string, JsonValue> {
  const role = memberRole(m, cluster);
  const isLeader = cluster.leader?.name === m.name;
  const state = (!isLeader && m.replicationState) || m.state;
  const out: Record<string, JsonValue> = { name: m.name, role, state, api_url: m.apiUrl, ...hostPort(m.connUrl) };
  if (m.timeline !== undefined) out['timeline'] = m.timeline;
  if (m.pendingRestart) out['pending_restart'] = true;
  const tags = Object.fromEntries(Object.entries(m.tags).filter(([, v]) => v !== undefined)) as Record<string, JsonValue>;
  if (Object.keys(tags).length > 0) out['tags'] = tags;
  if (!isLeader) Object.assign(out, lagFields(m, cluster.status?.optime ?? 0));
  return out;
}

export function clusterJson(cluster: ClusterView, scope: string): Record<string, JsonValue> {
  const members = [...cluster.members]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => memberJson(m, cluster));
  const out: Record<string, JsonValue> = { members, scope };
  if (cluster.config?.value.pause === true) out['pause'] = true;
  const failover = cluster.failover?.value;
  if (failover?.scheduledAt) {
    out['scheduled_switchover'] = {
      at: failover.scheduledAt,
      ...(failover.leader ? { from: failover.leader } : {}),
      ...(failover.member ? { to: failover.member } : {}),
    };
  }
  return out;
}

/** [timeline, switch_lsn, reason, timestamp, new_leader], trailing unknowns left off as Patroni does. */
export function historyJson(entries: readonly HistoryEntry[]): JsonValue[] {
  return entries.map((e) => {
    const line: JsonValue[] = [e.timeline, e.switchLsn, e.reason];
    if (e.timestamp !== undefined || e.newLeader !== undefined) line.push(e.timestamp ?? null);
    if (e.newLeader !== undefined) line.push(e.newLeader);
    return line;
  });
}
