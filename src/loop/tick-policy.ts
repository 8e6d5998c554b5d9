// What a tick that threw means for the loop (DESIGN.md "Errors and logs", tick policy): a retryable
// failure (etcd or PostgreSQL briefly away) is tried again by the next tick; a configuration the
// agent cannot run with ends it with exit 2 and systemd decides; a broken invariant ends it with
// exit 1 (a wrong HA agent is worse than a dead one; the way out stops or fences a PostgreSQL that
// may be writable first); anything else is logged with its type and the loop goes on. Expected
// outcomes (a lost race, no leader, PostgreSQL down) are values and never reach this.
import { AgentError } from '../errors.js';

export type TickFailure =
  | { readonly kind: 'retry'; readonly level: 'warn' | 'error' }
  | { readonly kind: 'halt'; readonly exitCode: number };

/** An invariant of the agent itself found broken at run time: fatal. */
export class InvariantViolation extends AgentError<'INVARIANT_VIOLATION'> {
  constructor(message: string, cause?: unknown) {
    super('INVARIANT_VIOLATION', message, cause === undefined ? {} : { cause });
  }
}

export function tickFailure(err: unknown): TickFailure {
  if (err instanceof AgentError) {
    if (err.code === 'INVARIANT_VIOLATION') return { kind: 'halt', exitCode: 1 };
    if (err.code === 'CONFIG_INVALID') return { kind: 'halt', exitCode: 2 };
    if (err.retryable) return { kind: 'retry', level: 'warn' };
  }
  return { kind: 'retry', level: 'error' };
}
