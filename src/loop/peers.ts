// Fresh WAL positions of the other members, from their GET /patroni (S2 d). Unreachable is data.
import type { MemberView } from '../core/cluster.js';
import type { PeerProbe } from '../core/decide-types.js';

export interface ProbeOptions {
  readonly timeoutMs: number;
  readonly headers?: Record<string, string>;
}

export async function probePeers(members: readonly MemberView[], self: string, opts: ProbeOptions): Promise<Map<string, PeerProbe>> {
  const others = members.filter((m) => m.name !== self);
  const results = await Promise.all(others.map((m) => probePeer(m, opts)));
  return new Map(results.map((p) => [p.name, p]));
}

/** A member's status is a few kB; anything much larger is not one. */
export const MAX_STATUS_BYTES = 256 * 1024;

/**
 * GET a member's status JSON from its api_url, which comes from etcd and so from anyone who can
 * write there (issue 13): http(s) only (no data:, file: or other schemes fetch would open), no
 * redirects (the probe, with its credentials, goes only where the member key says), and a
 * bounded body read.
 */
export async function fetchStatusJson(apiUrl: string, opts: ProbeOptions): Promise<unknown> {
  const url = new URL(apiUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`api_url scheme ${url.protocol} is not http or https`);
  const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs), headers: opts.headers ?? {}, redirect: 'manual' });
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new Error(`api_url answered a redirect (HTTP ${res.status}); not followed`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_STATUS_BYTES) {
    await res.body?.cancel();
    throw new Error(`status body of ${declared} bytes is larger than ${MAX_STATUS_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early cancels the stream (the iterator's return()), so the rest is never read.
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > MAX_STATUS_BYTES) break;
    chunks.push(chunk as Uint8Array);
  }
  if (size > MAX_STATUS_BYTES) throw new Error(`status body larger than ${MAX_STATUS_BYTES} bytes`);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

export async function probePeer(m: MemberView, opts: ProbeOptions): Promise<PeerProbe> {
  try {
    return parsePatroniStatus(m.name, await fetchStatusJson(m.apiUrl, opts));
  } catch (err) {
    return { name: m.name, reachable: false, error: err instanceof Error ? err.message : String(err) };
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
  const wal = isPrimary ? num(xlog['location']) : received === null && replayed === null ? null : Math.max(received ?? 0, replayed ?? 0);
  return {
    name,
    reachable: true,
    role: isPrimary ? 'primary' : role === 'replica' ? 'replica' : 'other',
    running: body['state'] === 'running',
    walPosition: wal,
    timeline: num(body['timeline']),
    nofailover: tags['nofailover'] === true,
    failoverPriority: num(tags['failover_priority']) ?? 1,
    streaming: body['replication_state'] === 'streaming',
  };
}
