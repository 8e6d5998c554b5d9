// The loop's timing (src/loop/scheduler.ts): how long it sleeps after each kind of tick, that a
// wake skips the sleep, that a failing tick is logged and retried soon, and how it ends.
import { pino } from 'pino';
import { ConfigError } from '../../../src/config/errors.js';
import { AgentError, InvariantViolation } from '../../../src/errors.js';
import { tickFailure } from '../../../src/loop/tick-policy.js';
import { describe, expect, it } from 'vitest';
import { LOOK_AGAIN_SLACK_MS, Scheduler, nextWaitMs, type TickOutcome } from '../../../src/loop/scheduler.js';
import type { Timers } from '../../../src/time/timers.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';

const WALL = Date.UTC(2026, 0, 1);

describe('nextWaitMs', () => {
  it('is loop_wait without a scheduled switchover', () => {
    expect(nextWaitMs(10, undefined, WALL, 30)).toBe(10_000);
  });

  it('wakes just after a scheduled switchover that comes due within loop_wait (counted from the tick start)', () => {
    expect(nextWaitMs(10, new Date(WALL + 3_000).toISOString(), WALL, 30)).toBe(3_000 + 5 + 30);
  });

  it('wakes at once for one that passed during the tick, not for one due before the tick started', () => {
    expect(nextWaitMs(10, new Date(WALL - 10).toISOString(), WALL, 30)).toBe(5 + 30);
    expect(nextWaitMs(10, new Date(WALL - 100).toISOString(), WALL, 30)).toBe(10_000);
  });

  it('ignores a scheduled time it cannot parse, and one beyond loop_wait', () => {
    expect(nextWaitMs(10, 'tomorrow-ish', WALL, 30)).toBe(10_000);
    expect(nextWaitMs(10, new Date(WALL + 60_000).toISOString(), WALL, 30)).toBe(10_000);
  });
});

/** Timers that fire on the next turn and record what was asked. */
function recordingTimers(asked: number[]): Timers {
  return {
    setTimeout: (fn, ms) => { asked.push(ms); return setImmediate(fn); },
    clearTimeout: (h) => clearImmediate(h as NodeJS.Immediate),
  };
}

function logger(lines: { level: number; msg: string }[]) {
  return pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
}

describe('Scheduler.run', () => {
  it('sleeps loop_wait after a plain tick, 500 ms after a failed one, 20 ms after a retick request; returns the halt code', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const lines: { level: number; msg: string }[] = [];
    const s = new Scheduler({ clock, logger: logger(lines), timers: recordingTimers(asked) });
    const script: (TickOutcome | Error)[] = [
      { halt: null, retickNow: false, retickSoon: false },
      new Error('etcd said no'),
      { halt: null, retickNow: true, retickSoon: false },
      { halt: 3, retickNow: false, retickSoon: false },
    ];
    const code = await s.run(async () => {
      const next = script.shift();
      if (next instanceof Error) throw next;
      clock.advance(5);
      return next as TickOutcome;
    }, () => 10_000, new AbortController().signal);
    expect(code).toBe(3);
    expect(asked).toEqual([10_000 - 5, 500, 20 - 5]);
    expect(lines.some((l) => l.msg === 'tick failed' && l.level === 50)).toBe(true);
  });

  it('looks again just after the moment a decision waits for, when that comes before loop_wait', async () => {
    const clock = new FakeClock({ monoMs: 1_000 });
    const asked: number[] = [];
    const s = new Scheduler({ clock, logger: logger([]), timers: recordingTimers(asked) });
    const script: TickOutcome[] = [
      { halt: null, retickNow: false, retickSoon: false, lookAgainAtMs: 1_000 + 3_000 },
      // Beyond loop_wait: loop_wait it is.
      { halt: null, retickNow: false, retickSoon: false, lookAgainAtMs: 60_000 },
      { halt: 0, retickNow: false, retickSoon: false },
    ];
    await s.run(async () => {
      clock.advance(5);
      return script.shift() as TickOutcome;
    }, () => 10_000, new AbortController().signal);
    expect(asked).toEqual([3_000 + LOOK_AGAIN_SLACK_MS - 5, 10_000 - 5]);
  });

  it('tick policy: a retryable failure is a warning and tried again soon; a config error ends the agent with exit 2', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const lines: { level: number; msg: string }[] = [];
    const s = new Scheduler({ clock, logger: logger(lines), timers: recordingTimers(asked) });
    const script: Error[] = [
      new AgentError('unavailable', 'etcd briefly away', { retryable: true }),
      new ConfigError([{ path: 'postgresql.data_dir', message: 'is required' }]),
    ];
    const code = await s.run(async () => { throw script.shift() as Error; }, () => 10_000, new AbortController().signal);
    expect(code).toBe(2);
    expect(asked).toEqual([500]);
    expect(lines.some((l) => l.msg === 'tick failed (retryable); trying again' && l.level === 40)).toBe(true);
    expect(lines.some((l) => l.level === 60 && l.msg.includes('cannot go on'))).toBe(true);
  });

  it('tickFailure classifies by type and code, not by message', () => {
    expect(tickFailure(new AgentError('x', 'm', { retryable: true }))).toEqual({ kind: 'retry', level: 'warn' });
    expect(tickFailure(new AgentError('x', 'm'))).toEqual({ kind: 'retry', level: 'error' });
    expect(tickFailure(new Error('CONFIG_INVALID'))).toEqual({ kind: 'retry', level: 'error' });
    expect(tickFailure('a string')).toEqual({ kind: 'retry', level: 'error' });
    expect(tickFailure(new ConfigError([]))).toEqual({ kind: 'halt', exitCode: 2 });
    expect(tickFailure(new InvariantViolation('two names'))).toEqual({ kind: 'halt', exitCode: 70 });
    expect(tickFailure(new Error('INVARIANT_VIOLATION'))).toEqual({ kind: 'retry', level: 'error' });
  });

  it('a wake during a tick skips the next sleep', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const s = new Scheduler({ clock, logger: logger([]), timers: recordingTimers(asked) });
    let n = 0;
    await s.run(async () => {
      n++;
      if (n === 1) s.wake();
      return { halt: n === 3 ? 0 : null, retickNow: false, retickSoon: false };
    }, () => 10_000, new AbortController().signal);
    expect(n).toBe(3);
    expect(asked).toEqual([10_000]);
  });

  it('ends with 0 when the signal aborts, and logs an aborted tick at info, not as an error', async () => {
    const clock = new FakeClock();
    const lines: { level: number; msg: string }[] = [];
    const s = new Scheduler({ clock, logger: logger(lines), timers: recordingTimers([]) });
    const stop = new AbortController();
    const code = await s.run(async () => {
      stop.abort();
      throw new Error('aborted');
    }, () => 10_000, stop.signal);
    expect(code).toBe(0);
    expect(lines.find((l) => l.msg === 'tick aborted: the agent is stopping')?.level).toBe(30);
    expect(lines.some((l) => l.msg === 'tick failed')).toBe(false);
  });
});
