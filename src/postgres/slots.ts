// Physical replication slots on the primary: one per other member, so a replica's WAL is kept
// while it is away; a slot whose member is gone longer than a grace period is dropped.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { slotNameForMember } from './replica-conf.js';
import type { SqlConnection } from './sql.js';

export interface SyncSlotsOptions {
  /** Member names of the cluster (this member is skipped). */
  readonly members: readonly string[];
  /** How long a slot may outlive its member before it is dropped. */
  readonly graceMs: number;
  /** Slot names never dropped (permanent slots). */
  readonly keep?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface SyncSlotsResult {
  readonly created: readonly string[];
  readonly dropped: readonly string[];
  /** Orphaned slots still inside their grace period, or active. */
  readonly kept: readonly string[];
}

export interface SlotManager {
  syncSlots(opts: SyncSlotsOptions): Promise<SyncSlotsResult>;
}

export interface SlotManagerOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** A connection to the local primary. */
  readonly sql: SqlConnection;
  readonly clock: Clock;
}

type Query = { signal?: AbortSignal };

export function createSlotManager(opts: SlotManagerOptions): SlotManager {
  // Monotonic time at which each orphaned slot was first seen without its member.
  const orphanSince = new Map<string, number>();
  return {
    async syncSlots(o) {
      const q: Query = o.signal ? { signal: o.signal } : {};
      const wanted = new Set(o.members.filter((m) => m !== opts.config.name).map(slotNameForMember));
      const rows = await opts.sql.query<{ slot_name: string; active: boolean }>(
        `SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'`,
        [],
        q,
      );
      const existing = new Map(rows.map((r) => [r.slot_name, r.active]));
      const created = await createMissing(opts.sql, [...wanted].filter((slot) => !existing.has(slot)), q);
      const orphans = [...existing].filter(([slot]) => !wanted.has(slot) && !(o.keep ?? []).includes(slot));
      const orphanNames = new Set(orphans.map(([slot]) => slot));
      for (const slot of existing.keys()) if (!orphanNames.has(slot)) orphanSince.delete(slot);
      const { dropped, kept } = await dropExpired(opts, orphanSince, orphans, o.graceMs, q);
      for (const slot of orphanSince.keys()) if (!existing.has(slot)) orphanSince.delete(slot);
      if (created.length || dropped.length) opts.logger.info({ created, dropped }, 'replication slots synced');
      return { created, dropped, kept };
    },
  };
}

async function createMissing(sql: SqlConnection, slots: readonly string[], q: Query): Promise<string[]> {
  for (const slot of slots) {
    await sql.query(
      `SELECT pg_catalog.pg_create_physical_replication_slot($1, true)
       WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`,
      [slot],
      q,
    );
  }
  return [...slots];
}

/** Drops the orphaned slots that are inactive and past their grace period; the rest are kept. */
async function dropExpired(
  opts: SlotManagerOptions, orphanSince: Map<string, number>, orphans: readonly (readonly [string, boolean])[], graceMs: number, q: Query,
): Promise<{ dropped: string[]; kept: string[] }> {
  const now = opts.clock.monoMs();
  const dropped: string[] = [];
  const kept: string[] = [];
  for (const [slot, active] of orphans) {
    const since = orphanSince.get(slot) ?? now;
    orphanSince.set(slot, since);
    if (active || now - since < graceMs) {
      kept.push(slot);
      continue;
    }
    await opts.sql.query(
      `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots
       WHERE slot_name = $1 AND NOT active`,
      [slot],
      q,
    );
    orphanSince.delete(slot);
    dropped.push(slot);
  }
  return { dropped, kept };
}
