// The few ways the PostgreSQL controller fails. Expected outcomes (PostgreSQL down, a replica not
// streaming yet) are values elsewhere; these are failures the caller must report or retry.

import { AgentError, errorMessage } from '../errors.js';

export type PgErrorCode =
  | 'binary-missing'
  | 'data-dir-owner'
  | 'data-dir-not-empty'
  | 'data-dir-missing'
  | 'bad-config'
  /** A member's address (from etcd) that cannot be connected to or written to the pgpass file safely. */
  | 'bad-upstream'
  | 'fenced'
  | 'start-failed'
  | 'stop-failed'
  | 'not-running'
  | 'promote-failed'
  | 'follow-failed'
  | 'query-failed'
  | 'timeout'
  | 'aborted'
  | 'command-failed'
  | 'bootstrap-failed'
  | 'clone-failed'
  | 'rewind-failed'
  /** A rejoin ended on a rewind verdict with the data directory left stopped (the policy): final. */
  | 'rewind-verdict';

const RETRYABLE: ReadonlySet<PgErrorCode> = new Set<PgErrorCode>([
  'timeout',
  'aborted',
  'query-failed',
  'not-running',
  'follow-failed',
  'clone-failed',
]);

export class PgError extends AgentError<PgErrorCode> {
  /** Last lines of the server log, when the failure is PostgreSQL refusing to start. */
  readonly logTail: string | undefined;
  constructor(code: PgErrorCode, message: string, opts?: { cause?: unknown; logTail?: string; retryable?: boolean }) {
    super(code, message, { cause: opts?.cause, retryable: opts?.retryable ?? RETRYABLE.has(code) });
    this.logTail = opts?.logTail;
  }
}

export { errorMessage };
