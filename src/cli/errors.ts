// agentctl's outcomes and exit codes (SPEC 7): 0 success, 1 the action failed or was refused,
// 2 usage or configuration error. Every error carries the sentence to print and, where there is
// one, what the operator can do next.

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type CtlErrorKind =
  /** Bad command line: unknown command or option, missing argument. Exit 2. */
  | 'usage'
  /** The config file is missing or invalid. Exit 2. */
  | 'config'
  /** The cluster refused the action (unknown member, candidate not eligible, already paused). Exit 1. */
  | 'refused'
  /** The action was tried and failed (etcd or a member unreachable, auth failed, timeout). Exit 1. */
  | 'failed';

export class CtlError extends Error {
  readonly kind: CtlErrorKind;
  /** What to do next, printed on its own line after the message. */
  readonly hint: string | undefined;

  constructor(kind: CtlErrorKind, message: string, opts?: { hint?: string; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CtlError';
    this.kind = kind;
    this.hint = opts?.hint;
  }
}

export function exitCodeOf(kind: CtlErrorKind): number {
  switch (kind) {
    case 'usage':
    case 'config':
      return EXIT_USAGE;
    case 'refused':
    case 'failed':
      return EXIT_FAILED;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

export const refused = (message: string, hint?: string): CtlError =>
  new CtlError('refused', message, hint === undefined ? undefined : { hint });

export const failed = (message: string, hint?: string, cause?: unknown): CtlError =>
  new CtlError('failed', message, { ...(hint === undefined ? {} : { hint }), ...(cause === undefined ? {} : { cause }) });

export const usage = (message: string, hint?: string): CtlError =>
  new CtlError('usage', message, hint === undefined ? undefined : { hint });
