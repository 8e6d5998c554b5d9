// Polling with a deadline for the --wait options.
import type { CtlContext } from './context.js';

/**
 * Calls `check` every `intervalMs` until it returns a value other than null/undefined, or the
 * deadline passes (then resolves null). Errors thrown by `check` propagate.
 */
export async function pollUntil<T>(
  ctx: CtlContext,
  check: () => Promise<T | null | undefined>,
  timeoutMs: number,
  intervalMs: number,
): Promise<T | null> {
  const deadline = ctx.clock.monoMs() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined) return v;
    if (ctx.clock.monoMs() >= deadline) return null;
    await ctx.sleep(intervalMs);
  }
}
