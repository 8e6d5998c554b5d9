// The replica include (primary_conninfo, primary_slot_name, recovery_target_timeline), reading its
// upstream back, and replication slot names. The signal files are written by managed-files.ts.
import type { Config } from '../config/types.js';
import { confValue } from './postgresql-conf.js';
import { conninfo, libpqOptions, parseConninfo } from './conninfo.js';
import { checkUpstream } from './upstream.js';
import type { UpstreamNode } from './upstream.js';

export interface ReplicaSettings {
  readonly upstream: UpstreamNode;
  /** This member's name: application_name on the upstream. */
  readonly applicationName: string;
  /** Slot on the upstream; null when slots are not used. */
  readonly slotName: string | null;
  /** False for a nostream member: no primary_conninfo, WAL comes from restore_command only. */
  readonly stream?: boolean;
}

export function renderReplicaConf(replica: ReplicaSettings | null, config: Config): string {
  const lines = ['# Managed by pg-ha-agent: replica settings; empty on a primary.'];
  if (replica) {
    // Written empty for a nostream member, so no earlier upstream lingers.
    const streams = replica.stream !== false;
    lines.push(`primary_conninfo = ${confValue(streams ? primaryConninfo(replica, config) : '')}`);
    lines.push(`primary_slot_name = ${confValue(replica.slotName ?? '')}`);
    lines.push(`recovery_target_timeline = 'latest'`);
  }
  return lines.join('\n') + '\n';
}

/** Passwords come from the pgpass file (passfile=), never from the conninfo itself. */
export function primaryConninfo(replica: ReplicaSettings, config: Config): string {
  checkUpstream(replica.upstream);
  const repl = config.postgresql.authentication.replication;
  return conninfo({
    user: repl.username,
    passfile: config.postgresql.pgpass,
    host: replica.upstream.host,
    port: replica.upstream.port,
    application_name: replica.applicationName,
    target_session_attrs: 'any',
    ...libpqOptions(repl, 'file'),
  });
}

/** Patroni's slot_name_from_member_name, so slots carry the same names under both agents. */
export function slotNameForMember(member: string): string {
  const slot = member.toLowerCase().replace(/[^a-z0-9_]/g, (c) => (c === '-' || c === '.' ? '_' : `u${c.charCodeAt(0).toString().padStart(4, '0')}`));
  return slot.slice(0, 63);
}

/**
 * The upstream the replica include names (host and port of its primary_conninfo, as
 * renderReplicaConf writes it), or null: a primary, a nostream member, no include, or a host that
 * checkUpstream would refuse.
 */
export function upstreamOfReplicaConf(text: string): { readonly host: string; readonly port: number } | null {
  const m = /^primary_conninfo\s*=\s*'((?:[^'\\]|''|\\.)*)'\s*$/m.exec(text);
  if (!m || m[1] === undefined) return null;
  const info = parseConninfo(m[1].replace(/''|\\(.)/g, (_all, c: string | undefined) => c ?? "'"));
  const host = info.get('host');
  if (host === undefined) return null;
  const portText = info.get('port') ?? '5432';
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  try {
    checkUpstream({ host, port });
  } catch {
    return null;
  }
  return { host, port };
}
