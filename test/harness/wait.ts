// Poll a condition with a deadline. Tests never sleep a fixed time and hope: they wait for the
// condition they need and fail with a message naming it (and the last error seen) when it never comes.

export interface WaitOptions {
  /** Overall deadline; default 30 s. */
  timeoutMs?: number;
  /** Pause between attempts; default 100 ms. */
  intervalMs?: number;
}

/** Thrown by a waitFor callback to stop waiting at once (the condition can no longer become true). */
export class StopWaiting extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StopWaiting';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 100;

/**
 * Calls `fn` until it returns something other than undefined, null or false, and returns that.
 * Errors thrown by `fn` count as "not yet" (the last one is quoted on timeout), except StopWaiting,
 * which is rethrown at once. A single slow attempt cannot overrun the deadline.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts?: WaitOptions,
): Promise<T> {
  const timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = opts?.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!(timeoutMs > 0)) throw new Error(`waitFor(${what}): timeoutMs must be > 0, got ${timeoutMs}`);
  if (!(intervalMs >= 0)) throw new Error(`waitFor(${what}): intervalMs must be >= 0, got ${intervalMs}`);
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const remaining = deadline - performance.now();
    try {
      const result = await withTimeout(Promise.resolve().then(fn), Math.max(remaining, 1));
      if (result !== undefined && result !== null && result !== false) return result;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      if (!(err instanceof AttemptTimeout)) lastError = err;
    }
    if (performance.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} (${attempts} attempts)` +
    (lastError === undefined ? '' : `; last error: ${describe(lastError)}`), { cause: lastError });
}

/** A plain delay, for pacing loops (not for waiting on conditions: use waitFor). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class AttemptTimeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
