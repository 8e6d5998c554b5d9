// Remastering without restart (SPEC 5.3): new primary_conninfo, reload, and proof that the WAL
// receiver is streaming from the new sender.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, DynamicConfig } from '../config/types.js';
import { slotNameForMember } from './replica-conf.js';
import type { ReplicaSettings } from './replica-conf.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import type { SqlConnection } from './sql.js';

export function replicaSettings(config: Config, dynamic: DynamicConfig | null, upstream: UpstreamNode): ReplicaSettings {
  const useSlots = dynamic?.postgresql.use_slots ?? true;
  // tags.nostream (Patroni 4): replay from the archive (restore_command) only; no conninfo, no slot.
  const stream = config.tags.nostream !== true;
  return {
    upstream,
    applicationName: config.name,
    slotName: useSlots && stream ? slotNameForMember(config.name) : null,
    stream,
  };
}

export interface ReceiverState {
  readonly status: string;
  readonly senderHost: string | null;
  readonly senderPort: number | null;
  readonly receivedTimeline: number | null;
}

const RECEIVER_SQL = `SELECT status, sender_host, sender_port, received_tli FROM pg_catalog.pg_stat_wal_receiver`;

export async function walReceiver(sql: SqlConnection, signal?: AbortSignal): Promise<ReceiverState | null> {
  const rows = await sql.query<{ status: string; sender_host: string | null; sender_port: number | null; received_tli: number | null }>(
    RECEIVER_SQL,
    [],
    signal ? { signal } : {},
  );
  const r = rows[0];
  return r ? { status: r.status, senderHost: r.sender_host, senderPort: r.sender_port, receivedTimeline: r.received_tli } : null;
}

export function streamingFrom(r: ReceiverState | null, upstream: UpstreamNode): boolean {
  return r !== null && r.status === 'streaming' && r.senderHost === upstream.host && r.senderPort === upstream.port;
}

/** Poll pg_stat_wal_receiver until it streams from `upstream`; PgError('follow-failed') past the bound. */
export async function waitForSender(
  sql: SqlConnection,
  upstream: UpstreamNode,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReceiverState> {
  const deadline = performance.now() + timeoutMs;
  let last: ReceiverState | null = null;
  let lastErr: unknown = null;
  for (;;) {
    try {
      last = await walReceiver(sql, signal);
      if (last && streamingFrom(last, upstream)) return last;
    } catch (err) {
      if (signal?.aborted) throw err;
      lastErr = err;
    }
    if (performance.now() >= deadline) break;
    await sleep(20, undefined, signal ? { signal } : {});
  }
  const seen = last
    ? `wal receiver ${last.status} from ${last.senderHost ?? '?'}:${last.senderPort ?? '?'}`
    : lastErr
      ? `last error: ${(lastErr as Error).message}`
      : 'no wal receiver';
  throw new PgError('follow-failed', `not streaming from ${upstream.name} (${upstream.host}:${upstream.port}) within ${timeoutMs}ms; ${seen}`);
}
