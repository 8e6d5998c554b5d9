// The prefix watch behind Dcs.changes(): etcd3's Watcher resumes from its last revision across
// reconnects by itself; when etcd cancels the watch (compaction), we start a fresh one after a
// capped backoff and ask the caller to re-read everything. Bursts coalesce into one hint.
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { WatchHint } from './backend.js';
import { asError } from '../errors.js';

export const WATCH_RETRY_MIN_MS = 100;
export const WATCH_RETRY_MAX_MS = 2000;

class HintQueue {
  private pending: WatchHint | null = null;
  private closed = false;
  private wake: (() => void) | null = null;

  push(hint: WatchHint): void {
    const p = this.pending;
    this.pending = p === null ? hint : {
      revision: Math.max(p.revision, hint.revision),
      keys: [...new Set([...p.keys, ...hint.keys])],
      resync: p.resync || hint.resync,
    };
    this.poke();
  }

  poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  close(): void {
    this.closed = true;
    this.poke();
  }

  async take(signal: AbortSignal): Promise<WatchHint | null> {
    while (this.pending === null && !signal.aborted && !this.closed) {
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    const hint = this.pending;
    this.pending = null;
    return signal.aborted || this.closed ? null : hint;
  }
}

export async function* watchPrefix(
  client: Etcd3, prefix: string, signal: AbortSignal, log: Logger,
): AsyncIterable<WatchHint> {
  const queue = new HintQueue();
  let watcher: Watcher | null = null;
  let retryMs = WATCH_RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | null = null;
  let lastRevision = 0;
  let stopped = false;

  // Runs on abort even while the consumer is not iterating, so no watcher or timer outlives it.
  const stop = (): void => {
    stopped = true;
    if (retryTimer !== null) clearTimeout(retryTimer);
    // Not awaited: with etcd down the cancel only completes after a reconnect.
    void watcher?.cancel().catch(() => undefined);
    watcher = null;
    queue.close();
  };

  const start = (): void => {
    retryTimer = null;
    if (stopped) return;
    let w: Watcher;
    try {
      w = client.watch().prefix(prefix).watcher();
    } catch (err) {
      log.warn({ err: asError(err), prefix }, 'etcd watch cannot start');
      stop();
      return;
    }
    watcher = w;
    w.on('connected', (res: IWatchResponse) => {
      retryMs = WATCH_RETRY_MIN_MS;
      lastRevision = Math.max(lastRevision, Number(res.header.revision));
      // Whatever happened before the watch (re)attached is unknown to the caller.
      queue.push({ revision: lastRevision, keys: [], resync: true });
    });
    w.on('data', (res: IWatchResponse) => {
      lastRevision = Math.max(lastRevision, Number(res.header.revision));
      if (res.events.length === 0) return; // progress notification
      queue.push({ revision: lastRevision, keys: res.events.map((e) => e.kv.key.toString()), resync: false });
    });
    w.on('disconnected', (err: Error) => {
      if (!stopped) log.warn({ err, prefix }, 'etcd watch disconnected');
    });
    w.on('error', (err: Error) => {
      if (stopped) return;
      // etcd cancelled the watch (typically: resume revision compacted). Start over from now.
      log.warn({ err, prefix, retryMs }, 'etcd watch cancelled, restarting');
      watcher = null;
      retryTimer = setTimeout(start, retryMs);
      retryMs = Math.min(retryMs * 2, WATCH_RETRY_MAX_MS);
    });
  };

  signal.addEventListener('abort', stop, { once: true });
  start();
  try {
    for (;;) {
      const hint = await queue.take(signal);
      if (hint === null || stopped) return;
      yield hint;
    }
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
  }
}
