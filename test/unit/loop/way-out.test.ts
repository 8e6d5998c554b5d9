import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { afterAbort, bounded, StopProgress, stopDeadlineMs } from '../../../src/loop/way-out.js';

function memoryLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { logger, lines };
}

describe('the way out is bounded', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('bounded() gives up on a promise that never settles, and passes through one that fails', async () => {
    let done = false;
    void bounded(new Promise(() => undefined), 3_000).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await expect(bounded(Promise.reject(new Error('x')), 10)).resolves.toBeUndefined();
  });

  it('afterAbort() resolves only after the signal aborts and the bound passes', async () => {
    const ac = new AbortController();
    let value: number | null = null;
    void afterAbort(ac.signal, 10_000, 7).then((v) => { value = v; });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(value).toBeNull();
    ac.abort();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(value).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(value).toBe(7);
  });

  it('a stop that hangs names its stage and runs the last resort once; a finished one never does', async () => {
    const { logger, lines } = memoryLogger();
    const hung = new StopProgress(logger);
    let resorts = 0;
    hung.arm(30_000, () => { resorts += 1; });
    hung.arm(5_000, () => { resorts += 100; }); // a second signal does not shorten or double it
    hung.stage('stopping postgresql and releasing the key');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(resorts).toBe(1);
    const fatal = lines.find((l) => l['level'] === 60);
    expect(fatal?.['stage']).toBe('stopping postgresql and releasing the key');

    const finished = new StopProgress(logger);
    let late = 0;
    finished.arm(30_000, () => { late += 1; });
    finished.done();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(late).toBe(0);
  });

  it('the deadline covers a lease-long clean stop and stays under systemd\'s TimeoutStopSec', () => {
    expect(stopDeadlineMs(10)).toBe(30_000);
    expect(stopDeadlineMs(30)).toBe(45_000);
    expect(stopDeadlineMs(600)).toBe(110_000);
  });
});
