// Single faults at exact moments, on the simulator's real loop. A known gap is pinned with
// it.fails (it passes while the gap is there) and flipped to it once it is fixed.
import { describe, expect, it } from 'vitest';
import { crash, isWritable } from '../../support/sim/fake-pg.js';
import { bootScenario } from '../../support/sim/scenario.js';

describe('simulator scenarios on the real loop', () => {
  it('a cluster boots to one leader and streaming replicas', async () => {
    const sc = await bootScenario(1);
    try {
      expect(sc.w.nodes.filter((n) => isWritable(n.pg))).toHaveLength(1);
      expect(sc.w.nodes.filter((n) => n.pg.streaming)).toHaveLength(sc.w.nodes.length - 1);
      expect(sc.w.violations).toEqual([]);
    } finally {
      sc.close();
    }
  }, 60_000);

  // Was a gap (S1, seed 66): a leader whose PostgreSQL crashed is disarmed; its startPrimary job
  // made it writable and nothing armed either enforcer until the end of the next tick, so an agent
  // frozen in that window left a writable primary unguarded past its lease. A job that starts
  // PostgreSQL writable now arms both at the leadership deadline (src/core/fencing.ts).
  it('a leader that restarts its crashed PostgreSQL in place is guarded from the moment it is writable', async () => {
    const sc = await bootScenario(1);
    try {
      const leader = sc.w.nodes.find((n) => isWritable(n.pg));
      if (!leader) throw new Error('no leader after boot');
      crash(leader.pg);
      expect(await sc.untilExactly(() => leader.pg.running)).toBe(true);
      sc.freeze(leader, 30_000);
      await sc.steps(40, (w) => w.violations.length > 0);
      expect(sc.w.violations).toEqual([]);
    } finally {
      sc.close();
    }
  }, 60_000);
});
