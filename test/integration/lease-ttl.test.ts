// S2 after a ttl lowered at run time. The leader's etcd lease keeps the TTL it was granted with
// (30 s here) after `PATCH /config {"ttl": 10}`, and so does its fence deadline. A replica that
// judged the former leader's deadline by the config's new ttl promoted 20 s too early when the
// key vanished while that leader was cut off from everyone (etcd, REST, WAL stream) but still
// served its own clients: two writable primaries. Replicas now count
// with the lease TTL the leader publishes in its member key (`lease_ttl`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, waitFor } from '../harness/index.js';
import { acceptsWrites, leaderKey, startChaosCluster, waitHealthy, watchHandover, type ChaosCluster, type Handover } from '../chaos/cluster.js';
import { patchConfig } from '../support/agent-cluster.js';

let c: ChaosCluster;

beforeAll(async () => {
  c = await startChaosCluster({ ttl: 30 });
}, 240_000);

afterAll(async () => {
  await c?.close();
}, 120_000);

describe('a ttl lowered at run time', () => {
  it('does not let a replica promote before the cut-off former leader fences (its lease keeps the old TTL)', async () => {
    expect(await waitHealthy(c, 180_000)).not.toBeNull();
    const leader = await c.leader();
    expect(await patchConfig(leader, { ttl: 10 })).toBe(200);
    // Every agent has read the new ttl.
    await waitFor('every node to report ttl 10', async () => {
      const ttls = await Promise.all(c.nodes.map(async (n) => {
        const res = await fetch(`http://127.0.0.1:${n.apiPort}/config`).catch(() => null);
        return res?.ok ? ((await res.json()) as { ttl?: number }).ttl : undefined;
      }));
      return ttls.every((t) => t === 10) ? true : null;
    }, { timeoutMs: 30_000 });
    // A whole-host partition: etcd, its REST API and its WAL stream cut off from the others; the
    // test still reaches its PostgreSQL directly (the clients on its side of the partition).
    const links = c.linksOf(leader);
    const cut = [...links.etcd, links.api, links.pg];
    for (const p of cut) p.cut('blackhole');
    await etcdctl(c.etcd, ['del', leaderKey()]);
    const others = c.nodes.filter((n) => n !== leader);
    const h: Handover = { leaderStoppedMs: null, promotedMs: null, overlapMs: 0 };
    try {
      await watchHandover(() => acceptsWrites(leader), others, h);
    } finally {
      for (const p of cut) p.restore();
    }
    console.log(`lease-ttl figures: ${JSON.stringify(h)}`);
    expect(h.overlapMs).toBe(0);
    expect(h.promotedMs).toBeGreaterThanOrEqual(h.leaderStoppedMs ?? Infinity);
    expect(await waitHealthy(c, 120_000)).not.toBeNull();
  }, 300_000);
});
