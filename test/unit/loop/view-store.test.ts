// What a run knows of the cluster before and after its first etcd read: the fence and the decision
// keep the pause the previous run saw until etcd answers (sim seed 945 of set 6).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ViewStore } from '../../../src/loop/view-store.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { FakeEtcdStore } from '../../support/fakes/fake-store.js';
import { testConfig } from '../api/fixtures.js';

const silent = pino({ level: 'silent' });

async function aView() {
  const clock = new FakeClock();
  const dcs = createFakeDcs({ scope: 'vs', name: 'a', ttlSec: 30, clock, store: new FakeEtcdStore(clock) });
  return dcs.snapshot();
}

describe('ViewStore', () => {
  it('reads as pending, then unreadable after a failed read, then read', async () => {
    const views = new ViewStore(silent);
    expect(views.readState()).toBe('pending');
    views.readFailed();
    expect(views.readState()).toBe('unreadable');
    views.remember(await aView());
    expect(views.readState()).toBe('read');
  });

  it('keeps the previous run\'s pause until etcd is read; then etcd\'s config rules', async () => {
    const config = testConfig('a');
    const views = new ViewStore(silent, true);
    expect(views.dynamic(config).pause).toBe(true);
    views.readFailed();
    expect(views.dynamic(config).pause).toBe(true);
    views.remember(await aView());
    expect(views.dynamic(config).pause).toBe(false);
    expect(new ViewStore(silent).dynamic(config).pause).toBe(false);
  });
});
