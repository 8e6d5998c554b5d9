// decide() asks for the peers (a probePeers decision) only when probeReason() says so; it must then
// never read peers on any other tick, or a decision would rest on a map the loop left empty. Checked over a grid of
// states: wherever probeReason() is null, decide() answers the same with and without peers.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import type { DecideInput, PeerProbe } from '../../../src/core/decide-types.js';
import type { LocalPg } from '../../../src/core/local-pg.js';
import { probeReason } from '../../../src/core/probe-policy.js';
import { cluster, dynamicConfig, input, localPg, member, peer, peers } from './builders.js';

const LOCALS: Record<string, LocalPg> = {
  primary: localPg.primary(),
  replica: localPg.replica(),
  crashedPrimary: localPg.down({ state: 'in production' }),
  stoppedReplica: localPg.down(),
  unresponsive: localPg.unresponsive(),
  empty: localPg.empty(),
};

const PEER_SETS: ReadonlyArray<ReadonlyMap<string, PeerProbe>> = [
  peers(peer('pg1', { walPosition: 9_000 }), peer('pg3', { walPosition: 9_000, timeline: 2 })),
  peers(peer('pg1', { role: 'primary', walPosition: 9_000 }), peer.unreachable('pg3')),
  peers(peer('pg1', { running: false }), peer('pg3', { walPosition: 1_000, nofailover: true })),
];

function* grid(): Generator<{ label: string; input: DecideInput }> {
  for (const self of ['pg1', 'pg2']) {
    for (const [localName, local] of Object.entries(LOCALS)) {
      for (const leader of [null, self, self === 'pg1' ? 'pg2' : 'pg1']) {
        for (const failover of [null, { member: 'pg3' }]) {
          for (const primaryStartTimeout of [0, 300]) {
            for (const pause of [false, true]) {
              for (const fenced of [false, true]) {
                const c = cluster({ leader, failover, members: [member('pg1', { role: leader === 'pg1' ? 'primary' : 'replica' }), member('pg2'), member('pg3')] });
                const label = `${self} ${localName} leader=${leader} failover=${failover !== null} pst=${primaryStartTimeout} pause=${pause} fenced=${fenced}`;
                yield { label, input: input({ name: self, local, cluster: c, fenced, config: dynamicConfig({ primary_start_timeout: primaryStartTimeout, pause }) }) };
              }
            }
          }
        }
      }
    }
  }
}

describe('probeReason', () => {
  it('names the ticks that need peers', () => {
    const race = cluster({ leader: null });
    expect(probeReason({ cluster: race, local: localPg.replica(), self: 'pg2', primaryStartTimeoutSec: 300 })).toBe('leader race');
    expect(probeReason({ cluster: cluster(), local: localPg.down({ state: 'in production' }), self: 'pg1', primaryStartTimeoutSec: 0 })).toContain('primary_start_timeout 0');
    expect(probeReason({ cluster: cluster(), local: localPg.down({ state: 'in production' }), self: 'pg1', primaryStartTimeoutSec: 300 })).toBeNull();
    expect(probeReason({ cluster: cluster(), local: localPg.replica(), self: 'pg1', primaryStartTimeoutSec: 300 })).toContain('S2 again');
    expect(probeReason({ cluster: cluster({ failover: { member: 'pg2' } }), local: localPg.primary(), self: 'pg1', primaryStartTimeoutSec: 300 })).toContain('switchover');
    expect(probeReason({ cluster: cluster(), local: localPg.replica(), self: 'pg2', primaryStartTimeoutSec: 300 })).toBeNull();
    expect(probeReason({ cluster: null, local: localPg.replica(), self: 'pg2', primaryStartTimeoutSec: 300 })).toBeNull();
  });

  it('decide() reads no peers on a tick the loop does not probe', () => {
    let checked = 0;
    for (const { label, input: i } of grid()) {
      const why = probeReason({ cluster: i.cluster, local: i.local, self: i.self.name, primaryStartTimeoutSec: i.config.primary_start_timeout });
      if (why !== null) continue;
      const without = decide({ ...i, peers: new Map() });
      for (const set of PEER_SETS) {
        const withPeers = decide({ ...i, peers: set });
        expect({ label, actions: withPeers.actions, reason: withPeers.reason }).toEqual({ label, actions: without.actions, reason: without.reason });
      }
      checked++;
    }
    // The grid must keep exercising the unprobed ticks, not skip them all.
    expect(checked).toBeGreaterThan(100);
  });

  it('decide() asks for the peers exactly on those ticks, alone and with memory unchanged, and never once they answered', () => {
    let asked = 0;
    for (const { label, input: i } of grid()) {
      const why = probeReason({ cluster: i.cluster, local: i.local, self: i.self.name, primaryStartTimeoutSec: i.config.primary_start_timeout });
      const first = decide({ ...i, peers: new Map(), peersProbed: false });
      if (why === null) {
        expect({ label, kinds: first.actions.map((a) => a.kind) }).not.toEqual({ label, kinds: expect.arrayContaining(['probePeers']) });
        expect(first).toEqual(decide({ ...i, peers: new Map() }));
        continue;
      }
      asked++;
      expect({ label, actions: first.actions, memory: first.memory }).toEqual({ label, actions: [{ kind: 'probePeers', why }], memory: i.memory });
      expect(first.answers).toBeUndefined();
      for (const set of PEER_SETS) {
        const answered = decide({ ...i, peers: set, peersProbed: true });
        expect({ label, kinds: answered.actions.map((a) => a.kind) }).not.toEqual({ label, kinds: expect.arrayContaining(['probePeers']) });
      }
    }
    expect(asked).toBeGreaterThan(20);
  });
});
