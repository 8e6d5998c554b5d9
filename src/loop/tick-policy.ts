// What a tick that threw means for the loop (DESIGN.md "Errors and logs", tick policy): a retryable
// failure (etcd or PostgreSQL briefly away) is tried again soon, logged as a warning; a
// configuration the agent cannot run with ends it with exit 2 (through the way out) and systemd
// decides; an invariant violation (the agent's own parts disagree) ends it with exit 70 the same
// way, the way out fencing first; anything else is logged as an error with its type and the loop
// goes on. Expected outcomes (a lost race, no leader, PostgreSQL down) are values and never reach
// this, and so are the agent's refusals on broken invariants of the cluster (foreign data: exit 3,
// a duplicate name or a foreign member: exit 2): decide() returns them as a `halt` action.
import { AgentError } from '../errors.js';

/** EX_SOFTWARE: an internal error; systemd's Restart=on-failure starts a fresh agent. */
export const INVARIANT_EXIT_CODE = 70;

export type TickFailure =
  | { readonly kind: 'retry'; readonly level: 'warn' | 'error' }
  | { readonly kind: 'halt'; readonly exitCode: number };

export function tickFailure(err: unknown): TickFailure {
  if (err instanceof AgentError) {
    if (err.code === 'CONFIG_INVALID') return { kind: 'halt', exitCode: 2 };
    if (err.code === 'INVARIANT_VIOLATION') return { kind: 'halt', exitCode: INVARIANT_EXIT_CODE };
    if (err.retryable) return { kind: 'retry', level: 'warn' };
  }
  return { kind: 'retry', level: 'error' };
}
