// A job that starts PostgreSQL writable reads the leader key once more first (seed 455 of the
// simulator): the tick that decided it may be seconds old when the executor reaches the start.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Dcs } from '../../../src/dcs/port.js';
import { DEFAULT_DYNAMIC_CONFIG } from '../../../src/config/dynamic.js';
import { createJobRunner, startsAs } from '../../../src/loop/jobs.js';
import type { PgPort } from '../../../src/loop/pg-port.js';

function runner(held: boolean, pause = false) {
  const calls: string[] = [];
  const pg = { startPrimary: async () => { calls.push('startPrimary'); }, stop: async () => { calls.push('stop'); } } as unknown as PgPort;
  const dcs = { checkLeadership: async () => { calls.push('checkLeadership'); return held; } } as unknown as Dcs;
  const jobs = createJobRunner({
    pg, dcs, clock: { monoMs: () => 0, wallNowMs: () => 0 } as never, logger: pino({ enabled: false }),
    dynamicConfig: () => ({ ...DEFAULT_DYNAMIC_CONFIG, pause }), onFinished: () => undefined, peerHttp: { getJson: async () => ({}) },
  });
  return { jobs, calls };
}

describe('a writable start proves the key first', () => {
  it('starts PostgreSQL as primary only after reading the key as ours', async () => {
    const { jobs, calls } = runner(true);
    expect((await jobs.start({ kind: 'startPrimary' })).ok).toBe(true);
    expect(calls).toEqual(['checkLeadership', 'startPrimary']);
  });

  it('with the key gone it does not start, and the failure is retryable (the next tick decides again)', async () => {
    const { jobs, calls } = runner(false);
    const r = await jobs.start({ kind: 'startPrimary' });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.error).toContain('the leader key is no longer ours');
    expect(calls).toEqual(['checkLeadership']);
    const restart = await runner(false).jobs.start({ kind: 'restart', role: 'primary', leader: null });
    expect(restart.ok).toBe(false);
  });

  it('in pause the operator runs PostgreSQL: no key read', async () => {
    const { jobs, calls } = runner(false, true);
    expect((await jobs.start({ kind: 'startPrimary' })).ok).toBe(true);
    expect(calls).toEqual(['startPrimary']);
  });

  it('says what a job starts PostgreSQL as (GET /patroni starting_as)', () => {
    expect(startsAs({ kind: 'startPrimary' })).toBe('primary');
    expect(startsAs({ kind: 'restart', role: 'primary', leader: null })).toBe('primary');
    expect(startsAs({ kind: 'startReplica', leader: null })).toBe('replica');
    expect(startsAs({ kind: 'promote', oldTimeline: 1, switchLsn: 0, reason: 'x' })).toBe('primary');
    expect(startsAs({ kind: 'switchover', candidate: { name: 'n2' } as never, failoverModRevision: 1 })).toBeNull();
    expect(startsAs(null)).toBeNull();
  });
});

describe('a promotion proves the key right before pg_promote', () => {
  function promoter(held: boolean) {
    const calls: string[] = [];
    const pg = { promote: async () => { calls.push('promote'); return 2; } } as unknown as PgPort;
    const dcs = {
      appendHistory: async () => { calls.push('appendHistory'); },
      checkLeadership: async () => { calls.push('checkLeadership'); return held; },
    } as unknown as Dcs;
    const jobs = createJobRunner({
      pg, dcs, clock: { monoMs: () => 0, wallNowMs: () => 0 } as never, logger: pino({ enabled: false }),
      dynamicConfig: () => DEFAULT_DYNAMIC_CONFIG, onFinished: () => undefined, peerHttp: { getJson: async () => ({}) },
    });
    return { jobs, calls };
  }
  const spec = { kind: 'promote', oldTimeline: 1, switchLsn: 100, reason: 'automatic failover' } as const;

  it('history entry, key read as ours, then pg_promote', async () => {
    const { jobs, calls } = promoter(true);
    expect((await jobs.start(spec)).ok).toBe(true);
    expect(calls).toEqual(['appendHistory', 'checkLeadership', 'promote']);
  });

  it('with the key gone after the history entry, it does not promote (stage leadership)', async () => {
    const { jobs, calls } = promoter(false);
    const r = await jobs.start(spec);
    expect(r).toMatchObject({ ok: false, stage: 'leadership' });
    expect(r.error).toContain('the leader key is no longer ours: not promoting');
    expect(calls).toEqual(['appendHistory', 'checkLeadership']);
  });
});
