// The agent's side of the fence guard over a recording spawner: nothing is sent before the first
// arming, a guard that dies is started again with the last message, and a clean exit waits for a
// disarmed guard to leave but only for the pipe's flush when it stays armed.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { GUARD_CLOSE_BOUND_MS, GUARD_RESTART_DELAY_MS, handoverFrom, startFenceGuard, type GuardChannel } from '../../../src/fence/fence-guard-client.js';
import { encodeHandover, type GuardMessage } from '../../../src/fence/fence-guard-protocol.js';
import { VirtualTime } from '../../support/sim/vtime.js';

interface FakeGuard { readonly pid: number; readonly got: GuardMessage[]; ended: boolean; exit(): void }

function harness() {
  const vt = new VirtualTime();
  const agent = vt.owner('agent');
  const guards: FakeGuard[] = [];
  const spawn = (): GuardChannel => {
    let exit: (v: { code: number | null; signal: string | null }) => void = () => undefined;
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => { exit = r; });
    let done = false;
    const g: FakeGuard = { pid: 100 + guards.length, got: [], ended: false, exit: () => { done = true; exit({ code: 0, signal: null }); } };
    guards.push(g);
    return { pid: g.pid, send: (m) => g.got.push(m), end: async () => { g.ended = true; }, exited, hasExited: () => done };
  };
  const client = startFenceGuard({ dataDir: '/unused', logger: pino({ enabled: false }), spawn, timers: agent.timers() });
  return { vt, guards, client };
}

describe('fence guard client', () => {
  it('sends nothing before the first arming, then only changes', () => {
    const { guards, client } = harness();
    expect(guards).toHaveLength(1);
    expect(guards[0]?.got).toEqual([]);
    client.update(true, 5_000, 'L1');
    client.update(true, 5_000, 'L1');
    client.update(false, 5_000, 'L1');
    expect(guards[0]?.got).toEqual([{ type: 'arm', deadlineMonoMs: 5_000, leaseId: 'L1' }, { type: 'disarm', leaseId: 'L1', paused: false }]);
  });

  it('an armed guard without a lease gets a deadline in the past (JSON has no -Infinity)', () => {
    const { guards, client } = harness();
    client.update(true, -Infinity, null);
    expect(guards[0]?.got).toEqual([{ type: 'arm', deadlineMonoMs: 0, leaseId: null }]);
  });

  it('starts a guard that died again, after the restart delay, with the last message', async () => {
    const { vt, guards, client } = harness();
    client.update(true, 9_000, 'L1');
    guards[0]?.exit();
    await vt.runUntil(vt.nowMs); // the client sees the exit
    await vt.runUntil(vt.nowMs + GUARD_RESTART_DELAY_MS - 1);
    expect(guards).toHaveLength(1);
    await vt.runUntil(vt.nowMs + 1);
    expect(guards).toHaveLength(2);
    expect(guards[1]?.got).toEqual([{ type: 'arm', deadlineMonoMs: 9_000, leaseId: 'L1' }]);
    expect(client.pid()).toBe(guards[1]?.pid);
  });

  it('a clean exit: a disarmed guard is waited for; an armed one only flushed, and not restarted', async () => {
    const disarmed = harness();
    disarmed.client.update(false, 0, null);
    let closed = false;
    void disarmed.client.close().then(() => { closed = true; });
    await disarmed.vt.runUntil(disarmed.vt.nowMs + 100);
    expect(disarmed.guards[0]?.got.at(-1)).toEqual({ type: 'exit' });
    expect(closed).toBe(false);
    disarmed.guards[0]?.exit();
    await disarmed.vt.runUntil(disarmed.vt.nowMs + 1);
    expect(closed).toBe(true);
    await disarmed.vt.runUntil(disarmed.vt.nowMs + GUARD_CLOSE_BOUND_MS);
    expect(disarmed.guards).toHaveLength(1);

    const armed = harness();
    armed.client.update(true, 60_000, 'L1');
    await armed.client.close();
    expect(armed.guards[0]?.ended).toBe(true);
    expect(armed.guards[0]?.got.at(-1)).toEqual({ type: 'exit' });
  });

  it('a hand-over record counts its deadline only while its guard lives', () => {
    const text = encodeHandover({ pid: 41, armed: true, deadlineMonoMs: 7_000, leaseId: 'L0', paused: false });
    expect(handoverFrom(text, () => true)).toEqual({ deadlineMonoMs: 7_000, leaseId: 'L0', paused: false, refused: null });
    expect(handoverFrom(text, () => false)).toEqual({ deadlineMonoMs: null, leaseId: 'L0', paused: false, refused: null });
    expect(handoverFrom(null, () => true)).toEqual({ deadlineMonoMs: null, leaseId: null, paused: false, refused: null });
    expect(handoverFrom('{"pid":41}', () => true).refused).toMatch(/no format version/);
  });
});
