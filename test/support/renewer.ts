// Stands in for the agent loop in DCS fault tests: renews the leader key and touches the member
// every intervalMs (the loop_wait schedule, not a wait for a condition) and records each outcome.
import type { Dcs } from '../../src/dcs/port.js';
import { DcsError } from '../../src/dcs/port.js';
import { systemClock } from '../../src/time/clock.js';
import { memberStatus } from './member-status.js';

export interface Outcome {
  /** Monotonic ms when renewLeader() was called (the keepalive send time). */
  readonly startMs: number;
  readonly durationMs: number;
  readonly result: 'renewed' | 'lost' | 'error';
  readonly code?: string;
  readonly retryable?: boolean;
}

export class Renewer {
  readonly outcomes: Outcome[] = [];
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly dcs: Dcs, private readonly name: string, private readonly intervalMs: number) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  renewedSince(ms: number): Outcome[] {
    return this.outcomes.filter((o) => o.result === 'renewed' && o.startMs >= ms);
  }

  failedSince(ms: number): Outcome[] {
    return this.outcomes.filter((o) => o.result === 'error' && o.startMs >= ms);
  }

  /** Longest time between consecutive successful renewals that started in [fromMs, toMs]. */
  maxGapMs(fromMs: number, toMs: number): number {
    const starts = this.outcomes.filter((o) => o.result === 'renewed' && o.startMs >= fromMs && o.startMs <= toMs).map((o) => o.startMs);
    let gap = 0;
    for (let i = 1; i < starts.length; i++) gap = Math.max(gap, (starts[i] ?? 0) - (starts[i - 1] ?? 0));
    return gap;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const startMs = systemClock.monoMs();
      try {
        const ok = await this.dcs.renewLeader();
        await this.dcs.touchMember(memberStatus(this.name, { role: 'primary' }));
        this.outcomes.push({ startMs, durationMs: systemClock.monoMs() - startMs, result: ok ? 'renewed' : 'lost' });
      } catch (err) {
        const e = err instanceof DcsError ? { code: err.code, retryable: err.retryable } : { code: String(err) };
        this.outcomes.push({ startMs, durationMs: systemClock.monoMs() - startMs, result: 'error', ...e });
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }
}
