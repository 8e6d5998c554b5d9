import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Mutex } from '../../../src/postgres/mutex.js';
import { createSlotManager } from '../../../src/postgres/slots.js';
import type { SqlConnection } from '../../../src/postgres/sql.js';
import { testConfig } from './fixtures.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

describe('Mutex', () => {
  it('runs commands one at a time, in order', async () => {
    const m = new Mutex();
    const order: string[] = [];
    const gate = deferred();
    const first = m.run('first', async () => {
      order.push('first start');
      await gate.promise;
      order.push('first end');
    });
    const second = m.run('second', async () => {
      order.push('second');
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(m.current()).toBe('first');
    expect(order).toEqual(['first start']);
    gate.resolve();
    await Promise.all([first, second]);
    expect(order).toEqual(['first start', 'first end', 'second']);
    expect(m.current()).toBeNull();
  });

  it('lets a waiter give up without blocking the ones behind it', async () => {
    const m = new Mutex();
    const gate = deferred();
    const first = m.run('first', () => gate.promise);
    const ac = new AbortController();
    const second = m.run('second', async () => 'never', ac.signal);
    const third = m.run('third', async () => 'third');
    ac.abort(new Error('gave up'));
    await expect(second).rejects.toThrow('gave up');
    gate.resolve();
    await first;
    expect(await third).toBe('third');
  });

  it('releases after a failure', async () => {
    const m = new Mutex();
    await expect(m.run('a', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await m.run('b', async () => 1)).toBe(1);
  });
});

/** A fake primary: a list of slots and the statements run against it. */
function fakeSql(slots: { slot_name: string; active: boolean }[]): SqlConnection & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      const name = params[0] as string;
      if (text.includes('pg_create_physical_replication_slot')) {
        statements.push(`create ${name}`);
        slots.push({ slot_name: name, active: false });
      } else if (text.includes('pg_drop_replication_slot')) {
        statements.push(`drop ${name}`);
        const i = slots.findIndex((s) => s.slot_name === name && !s.active);
        if (i >= 0) slots.splice(i, 1);
      } else {
        return slots.map((s) => ({ ...s })) as T[];
      }
      return [];
    },
    async close() {},
  };
}

describe('syncSlots', () => {
  const config = testConfig({ name: 'node1' });
  const logger = pino({ level: 'silent' });

  it('creates one slot per other member, named like Patroni', async () => {
    const sql = fakeSql([]);
    const mgr = createSlotManager({ config, logger, sql, clock: { monoMs: () => 0, wallNowMs: () => 0 } });
    const res = await mgr.syncSlots({ members: ['node1', 'node-2', 'Node3'], graceMs: 1000 });
    expect(res.created).toEqual(['node_2', 'node3']);
    expect(sql.statements).toEqual(['create node_2', 'create node3']);
    expect((await mgr.syncSlots({ members: ['node1', 'node-2', 'Node3'], graceMs: 1000 })).created).toEqual([]);
  });

  it('drops an inactive orphan slot only after the grace period, never an active or kept one', async () => {
    let now = 0;
    const slots = [
      { slot_name: 'gone', active: false },
      { slot_name: 'busy', active: true },
      { slot_name: 'permanent', active: false },
      { slot_name: 'node2', active: true },
    ];
    const sql = fakeSql(slots);
    const mgr = createSlotManager({ config, logger, sql, clock: { monoMs: () => now, wallNowMs: () => 0 } });
    const opts = { members: ['node1', 'node2'], graceMs: 10_000, keep: ['permanent'] };
    expect(await mgr.syncSlots(opts)).toEqual({ created: [], dropped: [], kept: ['gone', 'busy'] });
    now = 9_999;
    expect((await mgr.syncSlots(opts)).dropped).toEqual([]);
    now = 10_000;
    const res = await mgr.syncSlots(opts);
    expect(res.dropped).toEqual(['gone']);
    expect(res.kept).toEqual(['busy']);
    expect(slots.map((s) => s.slot_name)).toEqual(['busy', 'permanent', 'node2']);
  });

  it('restarts the grace period when the member comes back', async () => {
    let now = 0;
    const slots = [{ slot_name: 'node3', active: false }];
    const sql = fakeSql(slots);
    const mgr = createSlotManager({ config, logger, sql, clock: { monoMs: () => now, wallNowMs: () => 0 } });
    await mgr.syncSlots({ members: ['node1'], graceMs: 100 });
    now = 50;
    await mgr.syncSlots({ members: ['node1', 'node3'], graceMs: 100 });
    now = 120;
    expect((await mgr.syncSlots({ members: ['node1'], graceMs: 100 })).dropped).toEqual([]);
    now = 220;
    expect((await mgr.syncSlots({ members: ['node1'], graceMs: 100 })).dropped).toEqual(['node3']);
  });
});
