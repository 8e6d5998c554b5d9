// 3-member etcd: a member frozen with SIGSTOP (its sockets stay open, nothing answers) must not hold
// the leader's keepalives or snapshots. Every call gets one attempt deadline on the member it
// picked, then moves to another member; renewals continue well inside the lease. Measures and
// prints the gaps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeoutsFor } from '../../src/dcs/etcd-client.js';
import type { EtcdDcs } from '../../src/dcs/etcd-dcs.js';
import { systemClock } from '../../src/time/clock.js';
import { etcdctl, startEtcd, waitFor, type EtcdCluster, type EtcdMember } from '../harness/index.js';
import { etcdDcs } from '../support/dcs-env.js';
import { memberStatus } from '../support/member-status.js';
import { Renewer } from '../support/renewer.js';

const TTL = 10;
// The agent's default retry_timeout: 5 s per call, 2.5 s per attempt on one member.
const RETRY_TIMEOUT = 10;
const INTERVAL_MS = 200;
const STALL_MS = 12_000;
const timeouts = timeoutsFor(RETRY_TIMEOUT);
let etcd: EtcdCluster;
let a: EtcdDcs;
let renewer: Renewer;
const snapshots: { startMs: number; durationMs: number; ok: boolean }[] = [];
let snapping = true;
let snapLoop: Promise<void> = Promise.resolve();

async function snapshotLoop(): Promise<void> {
  while (snapping) {
    const startMs = systemClock.monoMs();
    const ok = await a.snapshot().then(() => true, () => false);
    snapshots.push({ startMs, durationMs: systemClock.monoMs() - startMs, ok });
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  a = etcdDcs({ endpoints: etcd.endpoints, scope: 'stall', name: 'a', ttlSec: TTL, retryTimeoutSec: RETRY_TIMEOUT });
  await a.touchMember(memberStatus('a', { role: 'primary' }));
  expect(await a.acquireLeader()).toBe(true);
  renewer = new Renewer(a, 'a', INTERVAL_MS);
  renewer.start();
  snapLoop = snapshotLoop();
  await waitFor('renewals to run', () => renewer.renewedSince(0).length >= 5);
});

afterAll(async () => {
  snapping = false;
  await renewer?.stop();
  await snapLoop;
  await a?.close();
  for (const m of etcd?.members ?? []) if (m.isPaused()) m.resume();
  await etcd?.close();
});

/**
 * The member the Dcs sends its calls to. (Before per-member clients every call picked a random
 * member: then any follower is "in use".)
 */
async function memberInUse(): Promise<EtcdMember> {
  const leader = await etcd.leader();
  const endpoint = typeof a.etcdMembers === 'function' ? a.etcdMembers().find((m) => m.inUse)?.endpoint : undefined;
  const found = etcd.members.find((m) => (endpoint === undefined ? m !== leader : `127.0.0.1:${m.clientPort}` === endpoint));
  if (found === undefined) throw new Error('no member in use');
  return found;
}

/** Makes another member etcd's raft leader, so freezing `m` tests our failover, not etcd's. */
async function moveLeaderOff(m: EtcdMember): Promise<void> {
  const leader = await etcd.leader();
  if (leader !== m) return;
  const target = etcd.members.find((x) => x !== m);
  if (target === undefined) throw new Error('no other member');
  const res = await fetch(`${target.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
  const memberId = String(((await res.json()) as { header?: { member_id?: string } }).header?.member_id ?? '');
  await etcdctl(etcd, ['move-leader', BigInt(memberId).toString(16)]);
  await waitFor('the raft leader to move', async () => (await etcd.leader()) === target, { timeoutMs: 15_000 });
}

interface StallFigures { gapMs: number; slowestSnapshotMs: number; slowRenewals: number; slowSnapshots: number }

async function stallAndMeasure(victim: EtcdMember, label: string): Promise<StallFigures> {
  const pausedAt = systemClock.monoMs();
  victim.pause();
  await waitFor(`the stall of ${label} to last ${STALL_MS} ms`, () => systemClock.monoMs() - pausedAt >= STALL_MS, { timeoutMs: STALL_MS + 5000 });
  const endMs = systemClock.monoMs();
  victim.resume();
  const gapMs = renewer.maxGapMs(pausedAt - 2 * INTERVAL_MS, endMs);
  const during = snapshots.filter((s) => s.startMs >= pausedAt && s.startMs <= endMs);
  const slowestSnapshotMs = Math.max(0, ...during.map((s) => s.durationMs));
  const renewals = renewer.outcomes.filter((o) => o.startMs >= pausedAt - 2 * INTERVAL_MS && o.startMs <= endMs);
  const slowRenewals = renewals.filter((o) => o.durationMs > 1000).length;
  const slowSnapshots = during.filter((s) => s.durationMs > 1000).length;
  console.log(JSON.stringify({
    measure: `renewal gap while the etcd ${label} is frozen (SIGSTOP ${STALL_MS} ms)`, ttlSec: TTL,
    attemptTimeoutMs: timeouts.attemptTimeoutMs, callTimeoutMs: timeouts.callTimeoutMs, renewIntervalMs: INTERVAL_MS,
    maxGapBetweenRenewalsMs: Math.round(gapMs),
    slowestRenewalMs: Math.round(Math.max(0, ...renewals.map((o) => o.durationMs))),
    failedRenewals: renewals.filter((o) => o.result !== 'renewed').length, renewals: renewals.length, slowRenewals, slowSnapshots,
    slowestSnapshotMs: Math.round(slowestSnapshotMs), failedSnapshots: during.filter((s) => !s.ok).length, snapshots: during.length,
  }));
  await etcd.waitHealthy();
  return { gapMs, slowestSnapshotMs, slowRenewals, slowSnapshots };
}

describe('a frozen etcd member (SIGSTOP) does not hold renewals or snapshots (3 members)', () => {
  it('the member in use frozen: calls move to another member after one attempt deadline and stay off it', async () => {
    const victim = await memberInUse();
    await moveLeaderOff(victim);
    await waitFor('renewals after the leader move', () => renewer.renewedSince(systemClock.monoMs() - 1000).length >= 3);
    const endpoint = `127.0.0.1:${victim.clientPort}`;
    const { gapMs, slowestSnapshotMs, slowRenewals, slowSnapshots } = await stallAndMeasure(victim, 'member in use (a follower)');
    // The budget: one attempt deadline on the frozen member, once; then the next member answers
    // and the frozen one gets no more calls, only background probes.
    expect(gapMs).toBeLessThan(timeouts.attemptTimeoutMs + 1000);
    expect(slowestSnapshotMs).toBeLessThan(timeouts.attemptTimeoutMs + 1000);
    expect(slowRenewals, 'renewal rounds held by the frozen member').toBeLessThanOrEqual(1);
    expect(slowSnapshots, 'snapshots held by the frozen member').toBeLessThanOrEqual(1);
    const health = a.etcdMembers().find((m) => m.endpoint === endpoint);
    expect(health?.errorsTotal).toBeGreaterThan(0);
    await waitFor('the resumed member to be probed back up', () => a.etcdMembers().find((m) => m.endpoint === endpoint)?.up === true,
      { timeoutMs: 15_000 });
  });

  it('the frozen raft leader: renewals continue once etcd elects a new leader, well inside the lease', async () => {
    await waitFor('renewals with all members back', () => renewer.renewedSince(systemClock.monoMs() - 1000).length >= 3);
    const leader = await etcd.leader();
    const { gapMs } = await stallAndMeasure(leader, 'raft leader');
    // etcd's own election and lease re-arm come on top of our one attempt deadline. The safety
    // bound is the lease deadline (ttl - 1 s margin): renewals must resume with room to spare
    // (typical 2.7-2.9 s; 5.2 s seen on a machine at load 20+).
    expect(gapMs).toBeLessThan(TTL * 1000 - 2_000);
    expect(a.lease().validUntilMs).toBeGreaterThan(systemClock.monoMs());
  });
});
