// The supervisor's commands that work through SQL on a running PostgreSQL: promote and follow.
// They run under the supervisor's lock (src/postgres/supervisor.ts), which calls them.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { UpstreamNode } from './upstream.js';
import { PgError } from './errors.js';
import { replicaSettings, waitForSender, walReceiver, streamingFrom } from './follow.js';
import type { ReceiverState } from './follow.js';
import { fileOwner, writeReplicaConf } from './managed-files.js';
import { SqlError, localTarget, withSqlConnection } from './sql.js';
import type { SqlConnection } from './sql.js';

export interface PromoteResult {
  readonly alreadyPrimary: boolean;
  readonly timeline: number;
  readonly durationMs: number;
}

export interface FollowResult {
  /** False when the replica already followed this upstream (nothing rewritten or reloaded). */
  readonly changed: boolean;
  /** null for a nostream member, which has no WAL receiver to wait for. */
  readonly receiver: ReceiverState | null;
  readonly durationMs: number;
}

/** What promote and follow read of the supervisor; dynamic is its current cluster config. */
export interface SqlCommandContext {
  readonly config: Config;
  readonly log: Logger;
  readonly sql: SqlConnection;
  readonly dynamic: DynamicConfig | null;
  /** How long follow() waits for the WAL receiver to stream from the new sender; 0: not at all. */
  readonly followTimeoutMs?: number;
}

/** A dedicated connection for a long statement (CHECKPOINT, pg_promote), with its own bound. */
export function oneOff<T>(ctx: Pick<SqlCommandContext, 'config' | 'log'>, timeoutMs: number, fn: (c: SqlConnection) => Promise<T>): Promise<T> {
  return withSqlConnection({ target: localTarget(ctx.config), logger: ctx.log, timeoutMs, applicationName: 'pg-ha-agent supervisor' }, fn);
}

export async function promote(ctx: SqlCommandContext, timeoutMs: number, signal: AbortSignal): Promise<PromoteResult> {
  const { config, log } = ctx;
  const t0 = performance.now();
  return oneOff(ctx, timeoutMs + 5000, async (c) => {
    const [before] = await c.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r', [], { signal });
    const alreadyPrimary = before?.r === false;
    if (!alreadyPrimary) {
      const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
      const [res] = await c.query<{ ok: boolean }>('SELECT pg_catalog.pg_promote(true, $1) AS ok', [secs], { signal });
      if (res?.ok !== true) throw new PgError('promote-failed', `PostgreSQL did not finish promotion within ${secs}s`);
    }
    const [after] = await c.query<{ r: boolean; tl: number }>(
      `SELECT pg_catalog.pg_is_in_recovery() AS r,
              ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tl`,
      [],
      { signal },
    ).catch((err: unknown) => {
      throw new PgError('promote-failed', 'PostgreSQL is still in recovery after pg_promote', { cause: err });
    });
    if (!after || after.r) throw new PgError('promote-failed', 'PostgreSQL is still in recovery after pg_promote');
    // The replica include is dead weight on a primary; empty it so /patroni shows no upstream.
    if (await writeReplicaConf(config, 'primary', null, await fileOwner(config))) {
      await c.query('SELECT pg_catalog.pg_reload_conf()', [], { signal });
    }
    const durationMs = Math.round(performance.now() - t0);
    log.info({ timeline: after.tl, alreadyPrimary, durationMs }, 'postgres promoted');
    return { alreadyPrimary, timeline: after.tl, durationMs };
  });
}

export async function follow(ctx: SqlCommandContext, leader: UpstreamNode, signal: AbortSignal): Promise<FollowResult> {
  const { config, log, sql } = ctx;
  const t0 = performance.now();
  let inRecovery: boolean | undefined;
  try {
    const rows = await sql.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r', [], { signal });
    inRecovery = rows[0]?.r;
  } catch (err) {
    if (err instanceof SqlError && err.kind !== 'aborted') {
      throw new PgError('not-running', `cannot follow ${leader.name}: PostgreSQL does not answer (${err.message})`, { cause: err });
    }
    throw err;
  }
  if (inRecovery !== true) throw new PgError('follow-failed', `cannot follow ${leader.name}: PostgreSQL is not a replica`, { retryable: false });
  const settings = replicaSettings(config, ctx.dynamic, leader);
  const changed = await writeReplicaConf(config, 'replica', settings, await fileOwner(config));
  if (changed) {
    await sql.query('SELECT pg_catalog.pg_reload_conf()', [], { signal });
  }
  if (settings.stream === false) return { changed, receiver: null, durationMs: Math.round(performance.now() - t0) };
  if (!changed) {
    const now = await walReceiver(sql, signal);
    if (streamingFrom(now, leader) && now) return { changed, receiver: now, durationMs: Math.round(performance.now() - t0) };
  }
  const waitMs = ctx.followTimeoutMs ?? 10_000;
  if (waitMs <= 0) {
    const durationMs = Math.round(performance.now() - t0);
    log.info({ leader: leader.name, host: leader.host, port: leader.port, changed, durationMs }, 'replica repointed to new upstream');
    return { changed, receiver: null, durationMs };
  }
  const receiver = await waitForSender(sql, leader, waitMs, signal);
  const durationMs = Math.round(performance.now() - t0);
  log.info({ leader: leader.name, host: leader.host, port: leader.port, timeline: receiver.receivedTimeline, changed, durationMs }, 'replica follows new upstream');
  return { changed, receiver, durationMs };
}
