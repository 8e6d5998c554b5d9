// watchPrefix's own logic (hints, coalescing, restart after a cancelled watch with capped backoff)
// against a stand-in for etcd3's Watcher; the real watch runs in the integration suites.
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WatchHint } from '../../../src/dcs/backend.js';
import { WATCH_RETRY_MAX_MS, WATCH_RETRY_MIN_MS, watchPrefix } from '../../../src/dcs/etcd-watch.js';

class FakeWatcher extends EventEmitter {
  cancelled = false;
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

function fakeClient(): { client: Etcd3; watchers: FakeWatcher[]; prefixes: string[] } {
  const watchers: FakeWatcher[] = [];
  const prefixes: string[] = [];
  const client = {
    watch: () => ({
      prefix: (p: string) => {
        prefixes.push(p);
        return { watcher: () => { const w = new FakeWatcher(); watchers.push(w); return w; } };
      },
    }),
  } as unknown as Etcd3;
  return { client, watchers, prefixes };
}

const header = (revision: number) => ({ header: { revision: String(revision) } });
const event = (key: string) => ({ type: 'Put', kv: { key: Buffer.from(key) } });

afterEach(() => {
  vi.useRealTimers();
});

describe('watchPrefix', () => {
  it('says "re-read" on connect, then one hint per burst of events, skipping progress notifications', async () => {
    const { client, watchers, prefixes } = fakeClient();
    const ac = new AbortController();
    const it = watchPrefix(client, '/service/s/', ac.signal, pino({ enabled: false }))[Symbol.asyncIterator]();
    const first = it.next();
    const w = watchers[0];
    if (w === undefined) throw new Error('no watcher created');
    expect(prefixes).toEqual(['/service/s/']);
    w.emit('connected', header(5));
    expect((await first).value).toEqual({ revision: 5, keys: [], resync: true });
    w.emit('data', { ...header(6), events: [] });
    w.emit('data', { ...header(7), events: [event('/service/s/leader')] });
    w.emit('data', { ...header(8), events: [event('/service/s/leader'), event('/service/s/members/a')] });
    expect((await it.next()).value).toEqual({ revision: 8, keys: ['/service/s/leader', '/service/s/members/a'], resync: false });
    const pending = it.next();
    ac.abort();
    expect((await pending).done).toBe(true);
    expect(w.cancelled).toBe(true);
  });

  it('restarts a cancelled watch (compaction) after a capped, growing backoff and asks for a re-read', async () => {
    vi.useFakeTimers();
    const { client, watchers } = fakeClient();
    const ac = new AbortController();
    const it = watchPrefix(client, '/p/', ac.signal, pino({ enabled: false }))[Symbol.asyncIterator]();
    const hints: WatchHint[] = [];
    const pump = (async () => {
      for (let r = await it.next(); r.done !== true; r = await it.next()) hints.push(r.value);
    })();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const w = watchers[watchers.length - 1];
      w?.emit('error', new Error('Watcher canceled: mvcc: required revision has been compacted'));
      const before = watchers.length;
      let waited = 0;
      while (watchers.length === before) {
        await vi.advanceTimersByTimeAsync(10);
        waited += 10;
      }
      delays.push(waited);
    }
    expect(delays.slice(0, 3)).toEqual([WATCH_RETRY_MIN_MS, WATCH_RETRY_MIN_MS * 2, WATCH_RETRY_MIN_MS * 4]);
    expect(Math.max(...delays)).toBe(WATCH_RETRY_MAX_MS);
    watchers[watchers.length - 1]?.emit('connected', header(42));
    await vi.advanceTimersByTimeAsync(0);
    expect(hints.at(-1)).toEqual({ revision: 42, keys: [], resync: true });
    ac.abort();
    await pump;
  });

  it('ends instead of hanging when the client cannot start a watch (closed)', async () => {
    const client = { watch: () => { throw new Error('client closed'); } } as unknown as Etcd3;
    const it = watchPrefix(client, '/p/', new AbortController().signal, pino({ enabled: false }))[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(true);
  });
});
