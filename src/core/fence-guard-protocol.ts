// Messages from the agent to its fence guard process: one JSON object per line on the guard's stdin.

export type GuardMessage =
  /** PostgreSQL may be a writable primary until deadlineMonoMs (CLOCK_MONOTONIC ms, shared by processes). */
  | { readonly type: 'arm'; readonly deadlineMonoMs: number }
  | { readonly type: 'disarm' }
  /** The agent exits cleanly: the guard exits without fencing. */
  | { readonly type: 'exit' };

export function parseGuardMessage(line: string): GuardMessage | null {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (o['type'] === 'arm' && typeof o['deadlineMonoMs'] === 'number') return { type: 'arm', deadlineMonoMs: o['deadlineMonoMs'] };
    if (o['type'] === 'disarm') return { type: 'disarm' };
    if (o['type'] === 'exit') return { type: 'exit' };
    return null;
  } catch {
    return null;
  }
}
