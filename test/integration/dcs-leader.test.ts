// Leader election on real etcd: a race of N clients, and a lease holder killed with SIGKILL.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dcs } from '../../src/dcs/port.js';
import { spawnTracked, startEtcd, waitFor, type EtcdCluster } from '../harness/index.js';
import { etcdDcs } from '../support/dcs-env.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
let etcd: EtcdCluster;
const clients: Dcs[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await etcd?.close();
});

describe('leader race on real etcd', () => {
  it('4 clients race 100 times: exactly one wins each round and every loser reads the winner', async () => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    const nodes = names.map((name) => etcdDcs({ endpoints: etcd.endpoints, scope: 'race', name, ttlSec: 10 }));
    clients.push(...nodes);
    const wins = new Map<string, number>();
    for (let round = 0; round < 100; round++) {
      const results = await Promise.all(nodes.map((n) => n.acquireLeader()));
      const winners = names.filter((_, i) => results[i]);
      expect(winners, `round ${round}`).toHaveLength(1);
      const winner = winners[0] ?? '';
      wins.set(winner, (wins.get(winner) ?? 0) + 1);
      const views = await Promise.all(nodes.map((n) => n.snapshot()));
      for (const v of views) expect(v.leader?.name, `round ${round}`).toBe(winner);
      const w = nodes[names.indexOf(winner)];
      expect(await w?.releaseLeader()).toBe(true);
    }
    // Not a fairness requirement; it shows the race was real rather than won by whoever went first.
    console.log(JSON.stringify({ measure: 'leader race wins per client', wins: Object.fromEntries(wins) }));
    expect([...wins.values()].reduce((a, b) => a + b, 0)).toBe(100);
  });
});

describe('lease holder killed with SIGKILL', () => {
  it('its leader and member keys vanish within ttl + 2 s, and a watcher sees the delete within 1 s of expiry', async () => {
    const ttlSec = 5;
    const scope = 'killed';
    const holder = spawnTracked([
      process.execPath, '--import', 'tsx', 'test/support/lease-holder.ts', etcd.endpoints.join(','), scope, 'holder', String(ttlSec), '1000',
    ], { name: 'lease-holder', cwd: REPO, stdio: 'pipe' });
    const events: { event: string; sendWallMs?: number }[] = [];
    let buf = '';
    holder.child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        events.push(JSON.parse(buf.slice(0, i)) as { event: string });
        buf = buf.slice(i + 1);
      }
    });
    await waitFor('the lease holder to renew twice', () => events.filter((e) => e.event === 'renewed').length >= 2,
      { timeoutMs: 60_000 }).catch((err: Error) => { throw new Error(`${err.message}\n${holder.output()}`); });

    const watcher = etcdDcs({ endpoints: etcd.endpoints, scope, name: 'watcher', ttlSec: 10 });
    clients.push(watcher);
    expect((await watcher.snapshot()).leader?.name).toBe('holder');
    const ac = new AbortController();
    let leaderGoneAt: number | null = null;
    const watching = (async () => {
      for await (const hint of watcher.changes(ac.signal)) {
        if (hint.keys?.includes('leader') === true && (await watcher.snapshot()).leader === null) {
          leaderGoneAt = Date.now();
          return;
        }
      }
    })();
    // Let the watch attach (its first hint) before the kill.
    await waitFor('watch to attach', async () => (await watcher.snapshot()).revision > 0);

    await holder.kill();
    const killedAt = Date.now();
    const lastSend = Math.max(...events.filter((e) => e.event === 'renewed').map((e) => e.sendWallMs ?? 0));
    const expiresAt = lastSend + ttlSec * 1000;
    await waitFor('leader key deletion', () => leaderGoneAt, { timeoutMs: (ttlSec + 5) * 1000, intervalMs: 20 });
    const view = await watcher.snapshot();
    expect(view.leader).toBeNull();
    expect(view.members.map((m) => m.name)).toEqual([]);
    const seen = leaderGoneAt ?? 0;
    console.log(JSON.stringify({
      measure: 'SIGKILL of lease holder', ttlSec, killToDeleteSeenMs: seen - killedAt,
      lastKeepaliveToDeleteSeenMs: seen - lastSend, deleteSeenAfterExpiryMs: seen - expiresAt,
    }));
    expect(seen - killedAt).toBeLessThanOrEqual(ttlSec * 1000 + 2000);
    // etcd counts the TTL from when it received the keepalive, after we sent it.
    expect(seen).toBeGreaterThanOrEqual(expiresAt - 50);
    expect(seen - expiresAt).toBeLessThanOrEqual(1000);
    ac.abort();
    await watching;
  });
});
