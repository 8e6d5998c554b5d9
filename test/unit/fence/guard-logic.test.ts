// The fence guard's logic (what the guard process and the simulator's guard both run), on virtual
// time: it fences at the deadline it holds, not before, once; a newer deadline moves it; it takes a
// previous guard's live deadline over; it leaves once its agent is gone and nothing is left to guard.
import { describe, expect, it } from 'vitest';
import { encodeHandover, parseHandover } from '../../../src/fence/fence-guard-protocol.js';
import { GuardLogic, GUARD_IDLE_CHECK_MS, type GuardState } from '../../../src/fence/guard-logic.js';
import { VirtualTime } from '../../support/sim/vtime.js';

function harness(opts: { postmaster?: boolean } = {}) {
  const vt = new VirtualTime();
  const owner = vt.owner('guard');
  const h = {
    vt, fencedAt: [] as number[], exits: 0, saved: [] as GuardState[], logs: [] as string[], postmaster: opts.postmaster ?? true,
    logic: null as unknown as GuardLogic,
    at: (ms: number) => vt.runUntil(ms),
  };
  h.logic = new GuardLogic({
    clock: vt.clock, timers: owner.timers(),
    fence: async () => { h.fencedAt.push(vt.nowMs); h.postmaster = false; },
    postmasterAlive: () => h.postmaster,
    save: (s) => h.saved.push(s),
    exit: () => { h.exits++; owner.kill(); },
    log: (msg) => h.logs.push(msg),
  });
  return h;
}

describe('fence guard logic', () => {
  it('fences once at the deadline it holds, not before', async () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'arm', deadlineMonoMs: 5_000, leaseId: 'L1' });
    await h.at(4_999);
    expect(h.fencedAt).toEqual([]);
    await h.at(20_000);
    expect(h.fencedAt).toEqual([5_000]);
    expect(h.logic.state().armed).toBe(false);
    expect(h.saved.at(-1)).toMatchObject({ armed: false, leaseId: 'L1' });
    expect(h.exits).toBe(0); // its agent still runs: it waits for the next arm
  });

  it('a newer deadline moves the fence; a disarm cancels it', async () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'arm', deadlineMonoMs: 5_000, leaseId: 'L1' });
    await h.at(4_000);
    h.logic.message({ type: 'arm', deadlineMonoMs: 9_000, leaseId: 'L1' });
    await h.at(8_999);
    expect(h.fencedAt).toEqual([]);
    h.logic.message({ type: 'disarm', leaseId: 'L1' });
    await h.at(30_000);
    expect(h.fencedAt).toEqual([]);
  });

  it('an armed deadline in the past (no lease proven) fences at once', async () => {
    const h = harness();
    h.logic.start();
    await h.at(1_000);
    h.logic.message({ type: 'arm', deadlineMonoMs: 0, leaseId: null });
    await h.at(1_000);
    expect(h.fencedAt).toEqual([1_000]);
  });

  it('takes a live previous guard\'s armed deadline over and names it for retirement', async () => {
    const h = harness();
    const prev = parseHandover(encodeHandover({ pid: 41, armed: true, deadlineMonoMs: 7_000, leaseId: 'L0', paused: false }));
    expect(h.logic.takeOver(prev, 42, (pid) => pid === 41)).toBe(41);
    h.logic.start();
    expect(h.logic.state()).toEqual({ armed: true, deadlineMonoMs: 7_000, leaseId: 'L0', paused: false });
    await h.at(10_000);
    expect(h.fencedAt).toEqual([7_000]);
  });

  it('saves the pause its agent disarmed it for, and carries it over from a dead guard\'s record until the next arm', () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'disarm', leaseId: 'L1', paused: true });
    expect(h.saved.at(-1)).toMatchObject({ armed: false, paused: true });
    const next = harness();
    expect(next.logic.takeOver(parseHandover(encodeHandover({ pid: 41, ...h.logic.state() })), 42, () => false)).toBeNull();
    next.logic.start();
    expect(next.saved.at(-1)).toMatchObject({ paused: true, leaseId: 'L1' });
    next.logic.message({ type: 'arm', deadlineMonoMs: 5_000, leaseId: 'L2' });
    expect(next.saved.at(-1)).toMatchObject({ armed: true, paused: false });
  });

  it('from a dead previous guard it keeps only the lease; an unreadable record leaves that guard in charge', () => {
    const dead = harness();
    const rec = parseHandover(encodeHandover({ pid: 41, armed: true, deadlineMonoMs: 7_000, leaseId: 'L0', paused: false }));
    expect(dead.logic.takeOver(rec, 42, () => false)).toBeNull();
    expect(dead.logic.state()).toMatchObject({ armed: false, leaseId: 'L0' });
    const refused = harness();
    const v2 = parseHandover(JSON.stringify({ format: 'pg-ha-agent/fence-guard-state', version: 2, pid: 41 }));
    expect(refused.logic.takeOver(v2, 42, () => true)).toBeNull();
    expect(refused.logic.state()).toMatchObject({ armed: false, leaseId: null });
    expect(refused.logs.join('\n')).toContain('refusing');
  });

  it('leaves at once when its agent exits disarmed', async () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'disarm', leaseId: 'L1' });
    h.logic.message({ type: 'exit' });
    expect(h.exits).toBe(1);
    await h.at(10_000);
    expect(h.fencedAt).toEqual([]);
  });

  it('a killed agent (pipe closed) leaves it guarding until the deadline, then it fences and leaves', async () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'arm', deadlineMonoMs: 6_000, leaseId: 'L1' });
    h.logic.channelClosed();
    await h.at(5_900);
    expect(h.exits).toBe(0);
    await h.at(7_000);
    expect(h.fencedAt).toEqual([6_000]);
    expect(h.exits).toBe(1);
  });

  it('a killed agent whose postgresql stopped meanwhile: it leaves within the idle check, without fencing', async () => {
    const h = harness();
    h.logic.start();
    h.logic.message({ type: 'arm', deadlineMonoMs: 60_000, leaseId: 'L1' });
    h.logic.channelClosed();
    await h.at(1_000);
    h.postmaster = false;
    await h.at(1_000 + GUARD_IDLE_CHECK_MS);
    expect(h.exits).toBe(1);
    await h.at(70_000);
    expect(h.fencedAt).toEqual([]);
  });
});
