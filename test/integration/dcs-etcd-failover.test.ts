// 3-member etcd: killing a member the client uses (a follower, then the raft leader) must not stop
// renewals for longer than etcd's own failover. Measures and prints the gaps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLeaseMarginMs } from '../../src/dcs/lease-tracker.js';
import type { Dcs, DcsChangeHint } from '../../src/dcs/port.js';
import { systemClock } from '../../src/time/clock.js';
import { startEtcd, waitFor, type EtcdCluster, type EtcdMember } from '../harness/index.js';
import { etcdDcs } from '../support/dcs-env.js';
import { memberStatus } from '../support/member-status.js';
import { Renewer } from '../support/renewer.js';

const TTL = 10;
const INTERVAL_MS = 200;
let etcd: EtcdCluster;
let a: Dcs;
let watcher: Dcs;
let renewer: Renewer;
const hints: { atMs: number; hint: DcsChangeHint }[] = [];
const ac = new AbortController();
let watching: Promise<void> = Promise.resolve();

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  a = etcdDcs({ endpoints: etcd.endpoints, scope: 'failover', name: 'a', ttlSec: TTL, retryTimeoutSec: 4 });
  watcher = etcdDcs({ endpoints: etcd.endpoints, scope: 'failover', name: 'w', ttlSec: TTL, retryTimeoutSec: 4 });
  await a.touchMember(memberStatus('a', { role: 'primary' }));
  expect(await a.acquireLeader()).toBe(true);
  watching = (async () => {
    for await (const hint of watcher.changes(ac.signal)) hints.push({ atMs: systemClock.monoMs(), hint });
  })();
  renewer = new Renewer(a, 'a', INTERVAL_MS);
  renewer.start();
  await waitFor('renewals to run', () => renewer.renewedSince(0).length >= 5);
});

afterAll(async () => {
  await renewer?.stop();
  ac.abort();
  await watching;
  await a?.close();
  await watcher?.close();
  await etcd?.close();
});

async function killAndMeasure(victim: EtcdMember, label: string): Promise<{ gapMs: number; etcdFailoverMs: number | null }> {
  const wasLeader = (await etcd.leader()).name === victim.name;
  const killedAt = systemClock.monoMs();
  await victim.kill();
  let etcdFailoverMs: number | null = null;
  if (wasLeader) {
    await etcd.leader();
    etcdFailoverMs = systemClock.monoMs() - killedAt;
  }
  await waitFor(`renewals after killing ${label}`, () => renewer.renewedSince(killedAt + 3000).length >= 3, { timeoutMs: 60_000 });
  const gapMs = renewer.maxGapMs(killedAt - 2 * INTERVAL_MS, systemClock.monoMs());
  // The change feed survives too: a write after the kill wakes the watcher.
  const wroteAt = systemClock.monoMs();
  await a.setStatus({ optime: Math.round(wroteAt) });
  await waitFor(`a watch hint after killing ${label}`, () => hints.some((h) => h.atMs >= wroteAt && (h.hint.keys ?? []).includes('status')),
    { timeoutMs: 15_000 });
  const failed = renewer.failedSince(killedAt).length;
  console.log(JSON.stringify({
    measure: `renewal gap when the etcd ${label} is killed`, ttlSec: TTL, renewIntervalMs: INTERVAL_MS,
    maxGapBetweenRenewalsMs: Math.round(gapMs), etcdFailoverMs: etcdFailoverMs === null ? null : Math.round(etcdFailoverMs),
    failedRenewals: failed, watchHintAfterWriteMs: Math.round((hints.find((h) => h.atMs >= wroteAt)?.atMs ?? 0) - wroteAt),
  }));
  // Never close to losing the lease.
  expect(gapMs).toBeLessThan(TTL * 1000 - defaultLeaseMarginMs(TTL) - 2000);
  expect(a.lease().validUntilMs).toBeGreaterThan(systemClock.monoMs());
  return { gapMs, etcdFailoverMs };
}

describe('renewals through etcd member failures (3 members)', () => {
  it('a follower killed: renewals move to the other endpoints at once', async () => {
    const leader = await etcd.leader();
    const follower = etcd.members.find((m) => m.name !== leader.name);
    if (follower === undefined) throw new Error('no follower');
    const { gapMs } = await killAndMeasure(follower, 'follower');
    // One failed attempt on the dead endpoint at most, then the breaker skips it.
    expect(gapMs).toBeLessThanOrEqual(INTERVAL_MS + 1500);
    await follower.start();
    await etcd.waitHealthy();
  });

  it('the raft leader killed: the gap is etcd\'s own failover plus at most one renewal round', async () => {
    await waitFor('renewals with all members back', () => renewer.renewedSince(systemClock.monoMs() - 1000).length >= 3);
    const leader = await etcd.leader();
    const { gapMs, etcdFailoverMs } = await killAndMeasure(leader, 'raft leader');
    expect(etcdFailoverMs).not.toBeNull();
    expect(gapMs).toBeLessThanOrEqual((etcdFailoverMs ?? 0) + 2500);
    await leader.start();
    await etcd.waitHealthy();
  });
});
