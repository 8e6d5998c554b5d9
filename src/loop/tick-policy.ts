// What a tick that threw means for the loop (DESIGN.md "Errors and logs", tick policy): a retryable
// failure (etcd or PostgreSQL briefly away) is tried again soon, logged as a warning; a
// configuration the agent cannot run with ends it with exit 2 (through the way out) and systemd
// decides; anything else is logged as an error with its type and the loop goes on. Expected
// outcomes (a lost race, no leader, PostgreSQL down) are values and never reach this, and so are
// the agent's refusals on broken invariants (foreign data: exit 3, a duplicate name or a foreign
// member: exit 2): decide() returns them as a `halt` action.
import { AgentError } from '../errors.js';

export type TickFailure =
  | { readonly kind: 'retry'; readonly level: 'warn' | 'error' }
  | { readonly kind: 'halt'; readonly exitCode: number };

export function tickFailure(err: unknown): TickFailure {
  if (err instanceof AgentError) {
    if (err.code === 'CONFIG_INVALID') return { kind: 'halt', exitCode: 2 };
    if (err.retryable) return { kind: 'retry', level: 'warn' };
  }
  return { kind: 'retry', level: 'error' };
}
