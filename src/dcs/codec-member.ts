// members/<name>: the member status JSON, in Patroni 4.x spelling. Patroni 3.x wrote role
// "master" (and older versions "standby-leader"); both are read, 4.x words are written.
import type { Tags, TagValue } from '../config/types.js';
import type { MemberJobBackoff, MemberRole, MemberStatus, SwitchoverAborted } from '../core/cluster.js';
import {
  compactJson, defined, FieldReader, invalid, isRecord, ok, parseJson,
  type Decoded, type JsonRecord,
} from './codec-util.js';

const ROLE_ALIASES: Readonly<Record<string, MemberRole>> = {
  primary: 'primary',
  master: 'primary',
  // Patroni 3 reports "promoted" for the moment between pg_promote() and its next check.
  promoted: 'primary',
  replica: 'replica',
  standby_leader: 'standby_leader',
  'standby-leader': 'standby_leader',
  uninitialized: 'uninitialized',
  demoted: 'demoted',
};

export function decodeRole(value: unknown): MemberRole | null {
  return typeof value === 'string' ? ROLE_ALIASES[value] ?? null : null;
}

export function decodeTags(value: unknown): Decoded<Tags> {
  if (value === undefined || value === null) return ok({});
  if (!isRecord(value)) return invalid('tags is not an object');
  const tags: Record<string, TagValue> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) {
      tags[k] = v as TagValue;
    } else {
      return invalid(`tag ${k} is not a scalar`);
    }
  }
  return ok(tags as Tags);
}

/**
 * Governor-era members stored only a connection string with the REST URL as application_name
 * (Patroni still reads that form).
 */
function decodeLegacyConnString(name: string, text: string): Decoded<MemberStatus> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalid('member value is neither JSON nor a connection URL');
  }
  const apiUrl = url.searchParams.get('application_name') ?? '';
  url.search = '';
  return ok({ name, connUrl: url.toString(), apiUrl, state: 'unknown', role: 'uninitialized', tags: {} });
}

function connUrlOf(obj: JsonRecord): string | null {
  if (typeof obj['conn_url'] === 'string' && obj['conn_url'] !== '') return obj['conn_url'];
  const kw = obj['conn_kwargs'];
  if (isRecord(kw) && typeof kw['host'] === 'string') {
    const port = typeof kw['port'] === 'number' || typeof kw['port'] === 'string' ? kw['port'] : 5432;
    return `postgres://${kw['host']}:${port}/postgres`;
  }
  return null;
}

/** Lenient: a malformed extension field is left out rather than failing the whole member. */
function decodeAborted(value: unknown): SwitchoverAborted | undefined {
  if (!isRecord(value)) return undefined;
  const { to, reason, at } = value;
  return typeof to === 'string' && typeof reason === 'string' && typeof at === 'string' ? { to, reason, at } : undefined;
}

export function decodeMember(name: string, text: string): Decoded<MemberStatus> {
  if (text.startsWith('postgres')) return decodeLegacyConnString(name, text);
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const obj = parsed.value;
  if (!isRecord(obj)) return invalid('member value is not a JSON object');
  const connUrl = connUrlOf(obj);
  if (connUrl === null) return invalid('member has no conn_url');
  if (typeof obj['api_url'] !== 'string') return invalid('member has no api_url');
  const role = decodeRole(obj['role']);
  if (role === null) return invalid(`member role ${JSON.stringify(obj['role'])} is not known`);
  const tags = decodeTags(obj['tags']);
  if (!tags.ok) return tags;
  const r = new FieldReader(obj);
  const member = defined<MemberStatus>({
    name,
    connUrl,
    apiUrl: obj['api_url'],
    state: r.str('state') ?? 'unknown',
    role,
    version: r.str('version'),
    xlogLocation: r.int('xlog_location'),
    receiveLsn: r.int('receive_lsn'),
    replayLsn: r.int('replay_lsn'),
    timeline: r.int('timeline'),
    replicationState: r.str('replication_state'),
    tags: tags.value,
    pendingRestart: r.bool('pending_restart'),
    pause: r.bool('pause'),
    agent: r.str('agent'),
    reason: r.str('reason'),
    leaseTtl: positiveInt(obj['lease_ttl']),
    jobBackoff: decodeBackoff(obj['pending_job_backoff']),
    switchoverAborted: decodeAborted(obj['switchover_aborted']),
  });
  return r.problem === null ? ok(member) : invalid(r.problem);
}

/** Our own field: read leniently (a malformed one is dropped, never the whole member). */
function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Our own field: read leniently (a malformed one is dropped, never the whole member). */
function decodeBackoff(value: unknown): MemberJobBackoff | undefined {
  if (!isRecord(value) || typeof value['job'] !== 'string' || typeof value['failures'] !== 'number') return undefined;
  return {
    job: value['job'],
    target: typeof value['target'] === 'string' ? value['target'] : null,
    failures: value['failures'],
    retryInSeconds: typeof value['retry_in_seconds'] === 'number' ? value['retry_in_seconds'] : 0,
    error: typeof value['last_error'] === 'string' ? value['last_error'] : '',
  };
}

/** Field order follows Patroni's touch_member so the JSON reads the same in etcdctl. */
export function encodeMember(m: MemberStatus): string {
  const out: JsonRecord = {
    conn_url: m.connUrl,
    api_url: m.apiUrl,
    state: m.state,
    role: m.role,
  };
  if (m.version !== undefined) out['version'] = m.version;
  if (m.xlogLocation !== undefined) out['xlog_location'] = m.xlogLocation;
  if (m.replayLsn !== undefined) out['replay_lsn'] = m.replayLsn;
  if (m.receiveLsn !== undefined) out['receive_lsn'] = m.receiveLsn;
  if (m.replicationState !== undefined) out['replication_state'] = m.replicationState;
  if (m.timeline !== undefined) out['timeline'] = m.timeline;
  // Patroni writes tags and pending_restart only when they say something.
  const tags = Object.fromEntries(Object.entries(m.tags).filter(([, v]) => v !== undefined));
  if (Object.keys(tags).length > 0) out['tags'] = tags;
  if (m.pendingRestart === true) out['pending_restart'] = true;
  if (m.pause === true) out['pause'] = true;
  if (m.agent !== undefined) out['agent'] = m.agent;
  if (m.reason !== undefined) out['reason'] = m.reason;
  if (m.leaseTtl !== undefined) out['lease_ttl'] = m.leaseTtl;
  if (m.jobBackoff !== undefined) {
    const b = m.jobBackoff;
    out['pending_job_backoff'] = { job: b.job, target: b.target, failures: b.failures, retry_in_seconds: b.retryInSeconds, last_error: b.error };
  }
  if (m.switchoverAborted !== undefined) out['switchover_aborted'] = { ...m.switchoverAborted };
  return compactJson(out);
}
