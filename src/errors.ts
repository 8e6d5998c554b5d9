// The agent's failures share one shape (DESIGN.md "Errors and logs"): a stable `code` per
// failure, `retryable` (the next tick may try again), and the `cause` they wrap. Each adapter keeps
// its own subclass and codes; callers and logs read the common fields.

export interface AgentErrorOptions {
  readonly cause?: unknown;
  readonly retryable?: boolean;
}

export class AgentError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly retryable: boolean;
  constructor(code: Code, message: string, opts: AgentErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/**
 * The agent found itself in a state its own logic rules out (an action it does not know, parts
 * that disagree on who this member is). It cannot trust its next move: the tick policy ends it
 * through the way out, which stops or fences a PostgreSQL that may be writable first.
 */
export class InvariantViolation extends AgentError<'INVARIANT_VIOLATION'> {
  constructor(message: string, opts: AgentErrorOptions = {}) {
    super('INVARIANT_VIOLATION', message, { ...opts, retryable: false });
  }
}

/**
 * Whatever was thrown, as an Error for the log: pino's `err` serializer then writes its type, code,
 * message, stack and cause. A thrown non-Error (a string, a rejected plain value) is wrapped.
 */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The one-line text of a failure, for reason sentences, member keys and CLI output. */
export function errorMessage(err: unknown): string {
  return asError(err).message;
}
