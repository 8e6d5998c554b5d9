// S2 (the simulator's fault set 6, seeds 3 and 12): the leader is cut off from etcd, from its
// replicas and from their probes, and then etcd revokes its lease early (`etcdctl lease revoke`,
// as a resumed stale etcd leader does). Its leader key and member key vanish in one revision; its
// agent cannot see that, and keeps its PostgreSQL writable until the deadline of its last
// keepalive, when it fences. A replica used to take "unreachable, our WAL stream ended, its member
// key gone" for a host loss and promote at once: two writable primaries until that fence. Now
// only the former leader's own answer, the stopped mark of a clean release or its deadline count.
//
// The old primary's writes come through a session opened before the cut, straight to its
// PostgreSQL (a client the partition does not separate from it).
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, leaseHexOf } from '../harness/index.js';
import { commitsInto, leaderKey, leaderSession, startChaosCluster, waitHealthy, watchHandover, type ChaosCluster, type Handover } from '../chaos/cluster.js';

let c: ChaosCluster;

beforeAll(async () => {
  c = await startChaosCluster({});
}, 240_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

const commits = (session: pg.Client): Promise<boolean> => commitsInto(session, 'cut_off_writes');

// Seeds 774 and 939 of set 6: first in this file, while the leader is the one that bootstrapped
// (no promotion in the history key names it). Its agent is frozen, the replicas' agents are killed
// and its lease is revoked: its leader key and member key go in one revision. Restarted replica
// agents remember nothing; before the fix nothing in etcd named that leader and they raced at once,
// beside its PostgreSQL writable until its guard's deadline. Now the lease-less status key names it.
describe('replica agents restarted just as a frozen leader\'s lease is revoked', () => {
  it('wait for that leader (named by the status key): no promotion while it still commits writes', async () => {
    const { leader, others, session } = await leaderSession(c, 'revoked_writes');
    const lease = await leaseHexOf(c.etcd, leaderKey());
    const h: Handover = { leaderStoppedMs: null, promotedMs: null, overlapMs: 0 };
    try {
      for (const n of others) {
        c.expectExit(n);
        await n.agent?.kill();
      }
      leader.agent?.pause();
      await etcdctl(c.etcd, ['lease', 'revoke', lease]);
      for (const n of others) n.start();
      await watchHandover(() => commitsInto(session, 'revoked_writes'), others, h);
    } finally {
      leader.agent?.resume();
      await session.end().catch(() => undefined);
    }
    console.log(`lease-revoked-restart figures: ${JSON.stringify(h)}`);
    expect(h.overlapMs, 'two primaries committed writes').toBe(0);
    expect(h.promotedMs).toBeGreaterThanOrEqual(h.leaderStoppedMs ?? Infinity);
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);
});

describe('a leader cut off from everything whose lease etcd revokes early', () => {
  it('no replica promotes while the cut-off former primary still commits writes', async () => {
    const { leader, others, session } = await leaderSession(c, 'cut_off_writes');
    const lease = await leaseHexOf(c.etcd, leaderKey());
    const links = c.linksOf(leader);
    const h: Handover = { leaderStoppedMs: null, promotedMs: null, overlapMs: 0 };
    try {
      // etcd: its agent hears nothing (not even that its lease is gone); the replicas' streams and
      // probes through its addresses are reset, as a dead host's would be.
      for (const p of links.etcd) p.cut('blackhole');
      links.pg.cut('reset');
      links.api.cut('reset');
      expect(await commits(session), 'the session opened before the cut still commits').toBe(true);
      await etcdctl(c.etcd, ['lease', 'revoke', lease]);
      await watchHandover(() => commits(session), others, h);
    } finally {
      for (const p of [...links.etcd, links.pg, links.api]) p.restore();
      await session.end().catch(() => undefined);
    }
    console.log(`lease-revoked-cut-off figures: ${JSON.stringify(h)}`);
    expect(h.overlapMs, 'two primaries committed writes').toBe(0);
    expect(h.promotedMs).toBeGreaterThanOrEqual(h.leaderStoppedMs ?? Infinity);
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);
});
