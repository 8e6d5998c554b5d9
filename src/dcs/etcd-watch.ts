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
  const w: WatchState = {
    client, prefix, log, queue: new HintQueue(), watcher: null, retryMs: WATCH_RETRY_MIN_MS, retryTimer: null, lastRevision: 0, stopped: false,
  };
  // Runs on abort even while the consumer is not iterating, so no watcher or timer outlives it.
  const stop = (): void => stopWatch(w);
  signal.addEventListener('abort', stop, { once: true });
  startWatch(w);
  try {
    for (;;) {
      const hint = await w.queue.take(signal);
      if (hint === null || w.stopped) return;
      yield hint;
    }
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
  }
}

interface WatchState {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly log: Logger;
  readonly queue: HintQueue;
  watcher: Watcher | null;
  retryMs: number;
  retryTimer: NodeJS.Timeout | null;
  lastRevision: number;
  stopped: boolean;
}

function stopWatch(w: WatchState): void {
  w.stopped = true;
  if (w.retryTimer !== null) clearTimeout(w.retryTimer);
  // Not awaited: with etcd down the cancel only completes after a reconnect.
  void w.watcher?.cancel().catch(() => undefined);
  w.watcher = null;
  w.queue.close();
}

function startWatch(w: WatchState): void {
  w.retryTimer = null;
  if (w.stopped) return;
  let watcher: Watcher;
  try {
    watcher = w.client.watch().prefix(w.prefix).watcher();
  } catch (err) {
    w.log.warn({ err: asError(err), prefix: w.prefix }, 'etcd watch cannot start');
    stopWatch(w);
    return;
  }
  w.watcher = watcher;
  listen(w, watcher);
}

function listen(w: WatchState, watcher: Watcher): void {
  const { log, prefix, queue } = w;
  watcher.on('connected', (res: IWatchResponse) => {
    w.retryMs = WATCH_RETRY_MIN_MS;
    w.lastRevision = Math.max(w.lastRevision, Number(res.header.revision));
    // Whatever happened before the watch (re)attached is unknown to the caller.
    queue.push({ revision: w.lastRevision, keys: [], resync: true });
  });
  watcher.on('data', (res: IWatchResponse) => {
    w.lastRevision = Math.max(w.lastRevision, Number(res.header.revision));
    if (res.events.length === 0) return; // progress notification
    queue.push({ revision: w.lastRevision, keys: res.events.map((e) => e.kv.key.toString()), resync: false });
  });
  watcher.on('disconnected', (err: Error) => {
    if (!w.stopped) log.warn({ err, prefix }, 'etcd watch disconnected');
  });
  watcher.on('error', (err: Error) => {
    if (w.stopped) return;
    // etcd cancelled the watch (typically: resume revision compacted). Start over from now.
    log.warn({ err, prefix, retryMs: w.retryMs }, 'etcd watch cancelled, restarting');
    w.watcher = null;
    w.retryTimer = setTimeout(() => startWatch(w), w.retryMs);
    w.retryMs = Math.min(w.retryMs * 2, WATCH_RETRY_MAX_MS);
  });
}
