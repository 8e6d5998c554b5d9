// Messages from the agent to its fence guard process (one JSON object per line on the guard's
// stdin), and the hand-over record the guard keeps on disk for the next agent run.
//
// The two have different audiences. The pipe only ever joins an agent and the guard it spawned
// from the same installation, so its messages need no version. The hand-over record is read by a
// *later* agent run, which after an upgrade is another version: it carries a format version, and
// a run that does not know the version refuses the record (SPEC 5.12 safe path: fence, then join
// as a replica) instead of guessing what its fields mean.

export type GuardMessage =
  /**
   * PostgreSQL may be a writable primary until deadlineMonoMs (CLOCK_MONOTONIC ms, shared by
   * processes). leaseId: the lease the leader key is proven attached to (null: not proven).
   */
  | { readonly type: 'arm'; readonly deadlineMonoMs: number; readonly leaseId: string | null }
  /** paused: disarmed because the operator holds the fence (SPEC 5.8), kept for the next run. */
  | { readonly type: 'disarm'; readonly leaseId: string | null; readonly paused?: boolean }
  /** The agent exits cleanly: the guard exits without fencing (or keeps guarding while armed). */
  | { readonly type: 'exit' };

function leaseIdOf(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

export function parseGuardMessage(line: string): GuardMessage | null {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (o['type'] === 'arm' && typeof o['deadlineMonoMs'] === 'number') return { type: 'arm', deadlineMonoMs: o['deadlineMonoMs'], leaseId: leaseIdOf(o['leaseId']) };
    if (o['type'] === 'disarm') return { type: 'disarm', leaseId: leaseIdOf(o['leaseId']), paused: o['paused'] === true };
    if (o['type'] === 'exit') return { type: 'exit' };
    return null;
  } catch {
    return null;
  }
}

/** What the record calls itself, so a stray JSON file next to the data dir is never mistaken for one. */
export const HANDOVER_FORMAT = 'pg-ha-agent/fence-guard-state';
/** Bump when a field changes meaning; a run that reads another version refuses the record. */
export const HANDOVER_VERSION = 1;

/**
 * The guard's state, rewritten on every change: what the next agent run needs to carry on where
 * this one stopped (restart in place, or a crash).
 */
export interface HandoverRecord {
  /** The guard process that holds this state (its deadline counts only while it lives). */
  readonly pid: number;
  readonly armed: boolean;
  /** Monotonic ms; meaningful only while `pid` is that guard (same boot). */
  readonly deadlineMonoMs: number;
  /**
   * The lease the leader key was last proven attached to by the agent run this guard served; the
   * only foreign lease a later run may re-attach the key from (it proves the key is its own).
   */
  readonly leaseId: string | null;
  /**
   * The agent run last saw pause (SPEC 5.8). A later run that cannot read etcd keeps its hands off
   * such a PostgreSQL; any other writable PostgreSQL it cannot prove a lease for, it fences. Added
   * within version 1: a record without it reads as not paused (the safe side).
   */
  readonly paused: boolean;
}

export function encodeHandover(r: HandoverRecord): string {
  return JSON.stringify({
    format: HANDOVER_FORMAT, version: HANDOVER_VERSION, pid: r.pid, armed: r.armed,
    deadlineMonoMs: Number.isFinite(r.deadlineMonoMs) ? r.deadlineMonoMs : 0, leaseId: r.leaseId, paused: r.paused,
  });
}

export type HandoverParse =
  | { readonly ok: true; readonly record: HandoverRecord }
  /** pid: the writer's guard pid when it can be told at all (so it is left in charge, not retired). */
  | { readonly ok: false; readonly reason: string; readonly pid: number | null };

export function parseHandover(text: string): HandoverParse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON', pid: null };
  }
  if (typeof v !== 'object' || v === null) return { ok: false, reason: 'not a JSON object', pid: null };
  const o = v as Record<string, unknown>;
  const pid = typeof o['pid'] === 'number' && Number.isInteger(o['pid']) && o['pid'] > 0 ? o['pid'] : null;
  if (o['format'] !== HANDOVER_FORMAT || o['version'] === undefined) {
    return { ok: false, reason: 'no format version (written by an older pg-ha-agent, before hand-over records were versioned)', pid };
  }
  if (o['version'] !== HANDOVER_VERSION) {
    return { ok: false, reason: `format version ${JSON.stringify(o['version'])}; this pg-ha-agent reads version ${HANDOVER_VERSION}`, pid };
  }
  if (pid === null || typeof o['armed'] !== 'boolean' || typeof o['deadlineMonoMs'] !== 'number' || (o['leaseId'] !== null && typeof o['leaseId'] !== 'string')) {
    return { ok: false, reason: 'version 1 record with missing or mistyped fields', pid };
  }
  return { ok: true, record: { pid, armed: o['armed'], deadlineMonoMs: o['deadlineMonoMs'], leaseId: leaseIdOf(o['leaseId']), paused: o['paused'] === true } };
}
