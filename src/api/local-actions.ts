// POST /restart, DELETE /restart, POST /reinitialize, POST /reload: actions on this node's own
// PostgreSQL. The API never runs them itself; it validates the request and hands it to the agent
// through callbacks (the supervisor is the sole owner of the postmaster).
import type { MemberRole } from '../core/cluster.js';
import type { Outcome } from './replies.js';
import type { Parsed } from './units.js';
import { parseZonedTimestamp } from './units.js';

export interface RestartRequest {
  /** Epoch ms of a scheduled restart; absent means now. */
  readonly scheduledAtMs?: number;
  /** Restart only if this node runs in this role. */
  readonly role?: Extract<MemberRole, 'primary' | 'replica' | 'standby_leader'>;
  /** Restart only if the running server version is lower than this (e.g. "15.4"). */
  readonly postgresVersion?: string;
  /** Give up (and report failure) if the restart takes longer. */
  readonly timeoutSec?: number;
  /** Restart only if PostgreSQL reports pending_restart. */
  readonly restartPending?: boolean;
}

export type RestartOutcome =
  | { readonly kind: 'restarted' }
  | { readonly kind: 'not_needed'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'scheduled' }
  | { readonly kind: 'already_scheduled' };

export interface ReinitializeRequest {
  /** Cancel a running task (e.g. a stuck clone) first. */
  readonly force: boolean;
  /** Clone from the leader even if a `clonefrom` member exists. */
  readonly fromLeader: boolean;
}

/** Started, or refused with the reason (e.g. "I am the leader, can not reinitialize"). */
export type ReinitializeOutcome = { readonly kind: 'started' } | { readonly kind: 'refused'; readonly reason: string };

export const RESTART_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    schedule: { type: 'string', maxLength: 64 },
    role: { type: 'string', enum: ['primary', 'master', 'replica', 'standby_leader'] },
    postgres_version: { type: 'string', maxLength: 32 },
    timeout: { type: ['number', 'string'] },
    // Patroni takes any value and tests its truth: patronictl sends true, the suite "True".
    restart_pending: { type: ['boolean', 'string', 'number', 'null'] },
  },
} as const;

export const REINITIALIZE_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    force: { type: 'boolean' },
    from_leader: { type: 'boolean' },
  },
} as const;

export interface RestartBody {
  readonly schedule?: string;
  readonly role?: 'primary' | 'master' | 'replica' | 'standby_leader';
  readonly postgres_version?: string;
  readonly timeout?: number | string;
  readonly restart_pending?: boolean | string | number | null;
}

/** Python's truth of a JSON value, as Patroni reads restart_pending. */
function truthy(v: boolean | string | number | null): boolean {
  return v !== null && v !== false && v !== '' && v !== 0;
}

/** Seconds as a number or a string with an optional unit: 30, "30", "30s", "2min", "1h". */
export function parseTimeoutSec(value: number | string): Parsed<number> {
  const units: Readonly<Record<string, number>> = { '': 1, s: 1, min: 60, h: 3600, d: 86400, ms: 0.001 };
  const m = typeof value === 'number' ? null : /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const seconds = typeof value === 'number' ? value : m ? Number(m[1]) * (units[(m[2] ?? '').toLowerCase()] ?? Number.NaN) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return { ok: false, error: `Timeout should be a positive number of seconds (got ${JSON.stringify(value)})` };
  }
  return { ok: true, value: seconds };
}

/** Validate a restart body beyond its schema: 400/422 outcomes or the request for the agent. */
export function parseRestartBody(body: RestartBody, paused: boolean, nowWallMs: number): Outcome | RestartRequest {
  let scheduledAtMs: number | undefined;
  if (body.schedule !== undefined) {
    if (paused) return { status: 400, message: "Can't schedule restart in the paused state" };
    const at = parseZonedTimestamp('scheduled restart', body.schedule);
    if (!at.ok) return { status: 422, message: at.error };
    if (at.value < nowWallMs) return { status: 422, message: 'Cannot schedule restart in the past' };
    scheduledAtMs = at.value;
  }
  if (body.postgres_version !== undefined && !/^\d+(\.\d+){1,2}$/.test(body.postgres_version)) {
    return {
      status: 400,
      message: `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${body.postgres_version}`,
    };
  }
  let timeoutSec: number | undefined;
  if (body.timeout !== undefined) {
    const t = parseTimeoutSec(body.timeout);
    if (!t.ok) return { status: 400, message: t.error };
    timeoutSec = t.value;
  }
  const role = body.role === 'master' ? 'primary' : body.role;
  return {
    ...(scheduledAtMs !== undefined ? { scheduledAtMs } : {}),
    ...(role !== undefined ? { role } : {}),
    ...(body.postgres_version !== undefined ? { postgresVersion: body.postgres_version } : {}),
    ...(timeoutSec !== undefined ? { timeoutSec } : {}),
    ...(body.restart_pending !== undefined ? { restartPending: truthy(body.restart_pending) } : {}),
  };
}

export function restartOutcome(o: RestartOutcome): Outcome {
  switch (o.kind) {
    case 'restarted':
      return { status: 200, message: 'restarted successfully' };
    case 'not_needed':
      return { status: 503, message: `restart conditions are not satisfied: ${o.reason}` };
    case 'failed':
      return { status: 503, message: `restart failed: ${o.reason}` };
    case 'scheduled':
      return { status: 202, message: 'Restart scheduled' };
    case 'already_scheduled':
      return { status: 409, message: 'Another restart is already scheduled' };
    default: {
      const never: never = o;
      return never;
    }
  }
}
