// The lease deadline through an etcd outage: renewals fail, the deadline stays where the last
// acknowledged keepalive put it and passes on time, and the client recovers when etcd returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeoutsFor } from '../../src/dcs/etcd-client.js';
import { defaultLeaseMarginMs } from '../../src/dcs/lease-tracker.js';
import type { Dcs, LeaseState } from '../../src/dcs/port.js';
import { systemClock } from '../../src/time/clock.js';
import { startEtcd, waitFor, type EtcdCluster } from '../harness/index.js';
import { etcdDcs, rawEtcd } from '../support/dcs-env.js';
import { memberStatus } from '../support/member-status.js';
import { Renewer } from '../support/renewer.js';

const TTL = 6;
const RETRY_TIMEOUT = 4;
let etcd: EtcdCluster;
let a: Dcs;

beforeAll(async () => {
  etcd = await startEtcd();
  a = etcdDcs({ endpoints: etcd.endpoints, scope: 'outage', name: 'a', ttlSec: TTL, retryTimeoutSec: RETRY_TIMEOUT });
});

afterAll(async () => {
  await a?.close();
  await etcd?.close();
});

describe('etcd stopped while a client leads', () => {
  it('renewals fail, validUntil never moves and passes on time, and the client recovers after etcd returns', async () => {
    await a.touchMember(memberStatus('a', { role: 'primary' }));
    expect(await a.acquireLeader()).toBe(true);
    const changes: { atMs: number; state: LeaseState }[] = [];
    a.onLeaseDeadline((state) => changes.push({ atMs: systemClock.monoMs(), state }));
    const renewer = new Renewer(a, 'a', 500);
    renewer.start();
    try {
      await waitFor('three renewals', () => renewer.renewedSince(0).length >= 3);

      const member = etcd.members[0];
      if (member === undefined) throw new Error('no etcd member');
      await member.stop();
      const stoppedAt = systemClock.monoMs();
      const frozen = a.lease();
      const changesAtStop = changes.length;
      const margin = defaultLeaseMarginMs(TTL);
      expect(frozen.validUntilMs).toBeLessThanOrEqual(stoppedAt + TTL * 1000 - margin);
      expect(frozen.validUntilMs).toBeGreaterThan(stoppedAt);

      await waitFor('the lease deadline to pass', () => systemClock.monoMs() > frozen.validUntilMs + 500,
        { timeoutMs: TTL * 1000 + 5000 });
      expect(a.lease()).toEqual(frozen);
      expect(changes.length).toBe(changesAtStop);
      expect(renewer.renewedSince(stoppedAt)).toEqual([]);
      const failed = renewer.failedSince(stoppedAt);
      expect(failed.length).toBeGreaterThanOrEqual(2);
      for (const f of failed) {
        expect(f.retryable, JSON.stringify(f)).toBe(true);
        expect(['unavailable', 'deadline']).toContain(f.code);
        // Per-call deadlines: renew + touch never block a tick much beyond two call timeouts.
        expect(f.durationMs).toBeLessThanOrEqual(2 * timeoutsFor(RETRY_TIMEOUT).callTimeoutMs + 500);
      }
      const downFor = systemClock.monoMs() - stoppedAt;

      await member.start();
      await etcd.waitHealthy();
      const restartedAt = systemClock.monoMs();
      await waitFor('renewals to succeed again', () => renewer.renewedSince(restartedAt).length >= 2, { timeoutMs: 30_000 });
      const recoveredAfterMs = (renewer.renewedSince(restartedAt)[0]?.startMs ?? 0) - restartedAt;
      expect(a.lease().validUntilMs).toBeGreaterThan(systemClock.monoMs());
      const view = await a.snapshot();
      expect(view.leader).toMatchObject({ name: 'a', leaseId: a.lease().leaseId });
      expect(view.members.find((m) => m.name === 'a')?.leaseId).toBe(a.lease().leaseId);
      console.log(JSON.stringify({
        measure: 'etcd stopped while leading', ttlSec: TTL, etcdDownMs: Math.round(downFor),
        validUntilAfterStopMs: Math.round(frozen.validUntilMs - stoppedAt), failedRenewals: failed.length,
        maxFailedCallMs: Math.round(Math.max(...failed.map((f) => f.durationMs))),
        firstRenewalAfterRestartMs: Math.round(recoveredAfterMs), sameLeaseAfterRestart: a.lease().leaseId === frozen.leaseId,
      }));
    } finally {
      await renewer.stop();
    }
  });

  it('a lease etcd no longer has is re-granted and the member re-registers, without a restart', async () => {
    const before = a.lease().leaseId;
    expect(before).not.toBeNull();
    const raw = rawEtcd(etcd.endpoints);
    try {
      await raw.leaseClient.leaseRevoke({ ID: before ?? '0' });
    } finally {
      raw.close();
    }
    expect((await a.snapshot()).leader).toBeNull();
    expect(await a.renewLeader()).toBe(false);
    const after = a.lease().leaseId;
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(a.lease().validUntilMs).toBeGreaterThan(systemClock.monoMs());
    expect(await a.acquireLeader()).toBe(true);
    await a.touchMember(memberStatus('a', { role: 'primary' }));
    const view = await a.snapshot();
    expect(view.leader?.leaseId).toBe(after);
    expect(view.members.find((m) => m.name === 'a')?.leaseId).toBe(after);
  });
});
