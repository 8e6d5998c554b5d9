// Fresh WAL positions of the other members, from their GET /patroni (S2 d). Unreachable is data.
import type { MemberView } from '../core/cluster.js';
import type { PeerProbe } from '../core/decide-types.js';
import type { PeerHttp } from './peer-http.js';
import { errorMessage } from '../errors.js';

export interface ProbeOptions {
  readonly timeoutMs: number;
  /** Speaks the members' REST API as configured (https, client certificate, CA). */
  readonly http: PeerHttp;
}

export async function probePeers(members: readonly MemberView[], self: string, opts: ProbeOptions): Promise<Map<string, PeerProbe>> {
  const others = members.filter((m) => m.name !== self);
  const results = await Promise.all(others.map((m) => probePeer(m, opts)));
  return new Map(results.map((p) => [p.name, p]));
}

export async function probePeer(m: MemberView, opts: ProbeOptions): Promise<PeerProbe> {
  try {
    return parsePatroniStatus(m.name, await opts.http.getJson(m.apiUrl, { timeoutMs: opts.timeoutMs }));
  } catch (err) {
    return { name: m.name, reachable: false, error: errorMessage(err) };
  }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Read Patroni's /patroni JSON (ours or Patroni's) into a PeerProbe. */
export function parsePatroniStatus(name: string, body: unknown): PeerProbe {
  if (!isObj(body)) return { name, reachable: false, error: 'status is not a JSON object' };
  const role = body['role'];
  const xlog = isObj(body['xlog']) ? body['xlog'] : {};
  const tags = isObj(body['tags']) ? body['tags'] : {};
  const isPrimary = role === 'primary' || role === 'master';
  const received = num(xlog['received_location']);
  const replayed = num(xlog['replayed_location']);
  const agent = isObj(body['pg_ha_agent']) ? body['pg_ha_agent'] : {};
  const startingAs = agent['starting_as'] === 'primary' || agent['starting_as'] === 'replica' ? agent['starting_as'] : undefined;
  const wal = isPrimary ? num(xlog['location']) : received === null && replayed === null ? null : Math.max(received ?? 0, replayed ?? 0);
  const stopped = isObj(agent['stopped_wal']) ? agent['stopped_wal'] : null;
  const stoppedLsn = stopped ? num(stopped['lsn']) : null;
  const stoppedTl = stopped ? num(stopped['timeline']) : null;
  const running = body['state'] === 'running' || agent['xlog_fresh'] === true;
  return {
    name,
    reachable: true,
    role: isPrimary ? 'primary' : role === 'replica' ? 'replica' : 'other',
    // Our agent's /patroni answers role and WAL from a query made now (xlog_fresh): PostgreSQL
    // answered, so it runs, even when the last tick still saw it stopped (a start finished since).
    running,
    // Its agent says its postmaster runs but does not answer (state "starting" also covers a job
    // with PostgreSQL stopped, such as a switchover's old leader: not this).
    ...(!running && agent['pg_unresponsive'] === true ? { mayRun: true as const } : {}),
    walPosition: wal,
    timeline: num(body['timeline']),
    nofailover: tags['nofailover'] === true,
    failoverPriority: num(tags['failover_priority']) ?? 1,
    streaming: body['replication_state'] === 'streaming',
    ...(startingAs === undefined ? {} : { startingAs }),
    ...(stoppedLsn === null ? {} : { stoppedWal: { lsn: stoppedLsn, timeline: stoppedTl } }),
  };
}
