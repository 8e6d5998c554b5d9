// A manual clock for unit tests and the simulator: time moves only when advance() is called, and
// listeners (the fake etcd store's lease expiry) run synchronously inside advance().
import type { Clock } from '../../../src/core/clock.js';

export class FakeClock implements Clock {
  private mono: number;
  private wall: number;
  private readonly listeners = new Set<(monoMs: number) => void>();

  constructor(opts: { monoMs?: number; wallNowMs?: number } = {}) {
    this.mono = opts.monoMs ?? 1_000;
    this.wall = opts.wallNowMs ?? Date.UTC(2026, 0, 1);
  }

  monoMs(): number {
    return this.mono;
  }

  wallNowMs(): number {
    return this.wall;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance() needs a finite ms >= 0, got ${ms}`);
    this.mono += ms;
    this.wall += ms;
    for (const l of [...this.listeners]) l(this.mono);
  }

  onAdvance(listener: (monoMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
