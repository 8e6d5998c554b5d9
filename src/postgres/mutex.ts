// One command at a time: a FIFO async mutex whose waiters can give up through an AbortSignal.

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holder: string | null = null;

  /** The name of the command holding the lock, for "busy with X" reports. */
  current(): string | null {
    return this.holder;
  }

  async run<T>(name: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const prev = this.tail;
    this.tail = prev.then(() => mine);
    try {
      await waitOrAbort(prev, signal);
    } catch (err) {
      // Our turn must still pass, or every later waiter would hang behind us.
      void prev.then(release);
      throw err;
    }
    this.holder = name;
    try {
      return await fn();
    } finally {
      this.holder = null;
      release();
    }
  }
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted while waiting for the previous command');
}
