// The member key this node publishes every tick (Patroni's member JSON, via the dcs codecs).
import type { Config, Tags } from '../config/types.js';
import type { MemberJobBackoff, MemberRole, MemberStatus } from '../core/cluster.js';
import type { JobBackoff, SwitchoverAbort } from '../core/decide-types.js';
import type { LocalPg, PgRunning } from '../core/local-pg.js';
import { publishedTags } from '../core/tags.js';
import { pgStateWord } from '../core/requests.js';

/** The state word lives with the operator requests that check it (src/core/requests.ts). */
export { pgStateWord };

export function connUrl(config: Config): string {
  const { host, port } = config.postgresql.connect_address;
  return `postgres://${host.includes(':') ? `[${host}]` : host}:${port}/postgres`;
}

export function apiUrl(config: Config): string {
  const { host, port } = config.restapi.connect_address;
  const scheme = config.restapi.certfile ? 'https' : 'http';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/patroni`;
}

export function memberStatus(args: {
  config: Config; agent: string; local: LocalPg; holdsLeader: boolean; jobKind: string | null; reason: string;
  /** The cluster is paused: Patroni's member key says so (patronictl pause --wait waits for it). */
  paused?: boolean;
  /** A repair job backing off (pending_job_backoff). */
  backoff?: MemberJobBackoff | null;
  /** The last switchover this node aborted as leader (the REST API reports its reason). */
  switchoverAbort?: SwitchoverAbort | null;
  /** The TTL etcd granted our lease (0: none yet). */
  leaseTtl?: number;
}): MemberStatus {
  const { config, local } = args;
  const base = {
    name: config.name,
    connUrl: connUrl(config),
    apiUrl: apiUrl(config),
    state: pgStateWord(local, args.jobKind),
    role: memberRole(local, args.holdsLeader),
    // Written as Patroni writes them (false boolean tags left out); the values are config.tags'.
    tags: publishedTags(config.tags) as Tags,
    agent: args.agent,
    reason: args.reason,
    ...(args.paused === true ? { pause: true } : {}),
    ...(args.leaseTtl !== undefined && args.leaseTtl > 0 ? { leaseTtl: args.leaseTtl } : {}),
    ...(args.backoff ? { jobBackoff: args.backoff } : {}),
    ...(args.switchoverAbort ? { switchoverAborted: {
      to: args.switchoverAbort.candidate, reason: args.switchoverAbort.reason, at: new Date(args.switchoverAbort.wallAtMs).toISOString(),
    } } : {}),
  };
  return local.kind === 'running' ? { ...base, ...runningMemberFields(local, args.agent) } : base;
}

function memberRole(local: LocalPg, holdsLeader: boolean): MemberRole {
  if (local.kind === 'running') return local.inRecovery ? 'replica' : 'primary';
  if (local.dataDir === 'initialized') return holdsLeader ? 'primary' : 'replica';
  return 'uninitialized';
}

type RunningMemberFields = Pick<MemberStatus, 'version' | 'timeline' | 'pendingRestart' | 'xlogLocation' | 'receiveLsn' | 'replayLsn' | 'replicationState'>;

function runningMemberFields(local: PgRunning, agent: string): RunningMemberFields {
  const extra = {
    // Patroni's member `version` is the agent's version, not PostgreSQL's.
    version: agent.replace(/^pg-ha-agent\//, ''),
    timeline: local.timeline,
    pendingRestart: local.pendingRestart,
  };
  if (!local.inRecovery) return { ...extra, ...(local.currentLsn !== null ? { xlogLocation: local.currentLsn } : {}) };
  return {
    ...extra,
    xlogLocation: Math.max(local.receiveLsn ?? 0, local.replayLsn ?? 0),
    ...(local.receiveLsn !== null ? { receiveLsn: local.receiveLsn } : {}),
    ...(local.replayLsn !== null ? { replayLsn: local.replayLsn } : {}),
    ...(local.walReceiver?.status === 'streaming' ? { replicationState: 'streaming' } : { replicationState: 'in archive recovery' }),
  };
}

/** The member key's view of a backoff, relative to now (refreshed every tick). */
export function memberBackoff(b: JobBackoff | null, nowMonoMs: number): MemberJobBackoff | null {
  if (b === null) return null;
  return { job: b.job, target: b.target, failures: b.failures, retryInSeconds: Math.max(0, Math.ceil((b.notBeforeMs - nowMonoMs) / 1000)), error: b.error };
}
