// S4 and the replica behind the cluster's newest timeline: when it may race and which history
// files it writes first (src/core/timeline-catchup.ts, through decide()).
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../../src/core/cluster.js';
import { decide } from '../../../src/core/decide.js';
import { historyFileName, historyFileText, timelineCatchUp } from '../../../src/core/timeline-catchup.js';
import { action, cluster, input, kinds, localPg, member, memory, NOW_MS, peer, peers, raceInput as baseRaceInput } from './builders.js';

const h = (timeline: number, switchLsn: number, newLeader = 'pg9'): HistoryEntry => ({ timeline, switchLsn, reason: 'automatic failover', newLeader });

describe('timelineCatchUp', () => {
  it('needs nothing when no entry is at or past its timeline', () => {
    expect(timelineCatchUp([h(1, 4_000)], 2, 9_000)).toEqual({ ok: true, newest: 2, files: [] });
  });

  it('writes every history file between its timeline and the newest one, each with its ancestors', () => {
    const r = timelineCatchUp([h(1, 4_000), h(2, 6_000), h(3, 8_000)], 2, 5_000);
    expect(r).toEqual({
      ok: true, newest: 4,
      files: [
        { timeline: 3, content: '1\t0/FA0\tautomatic failover\n2\t0/1770\tautomatic failover\n' },
        { timeline: 4, content: '1\t0/FA0\tautomatic failover\n2\t0/1770\tautomatic failover\n3\t0/1F40\tautomatic failover\n' },
      ],
    });
  });

  it('accepts WAL that ends exactly at the switch point (the new timeline begins there)', () => {
    expect(timelineCatchUp([h(1, 4_000)], 1, 4_000)).toMatchObject({ ok: true, newest: 2 });
  });

  it('refuses WAL past any later switch point: that member wrote or received a branch the newer timelines do not have', () => {
    const r = timelineCatchUp([h(1, 4_000), h(2, 3_000)], 1, 3_500);
    expect(r).toEqual({ ok: false, reason: "timeline 1 is behind the cluster's: pg9 already promoted from timeline 1 at 4000; own wal 3500 is past the switch point 3000 of timeline 2" });
  });

  it('refuses a history key that is not one chain (it cannot tell which numbers exist)', () => {
    const r = timelineCatchUp([h(1, 4_000), h(1, 3_000)], 1, 2_000);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toContain('not one chain');
  });

  it('refuses a timeline older than the chain the key keeps', () => {
    const r = timelineCatchUp([h(3, 4_000)], 2, 2_000);
    expect(r.ok ? '' : r.reason).toContain('timeline 2 is not in the history key');
  });

  it('writes PostgreSQL\'s history file format and name', () => {
    expect(historyFileText([{ timeline: 1, switchLsn: 0x1_0000_0060, reason: 'a\nb' }])).toBe('1\t1/60\ta b\n');
    expect(historyFileName(26)).toBe('0000001A.history');
  });
});

describe('decide: a replica behind the newest timeline', () => {
  const behind = cluster({ leader: null, members: [member('pg2'), member('pg3')], history: [h(1, 6_000)] });
  // pg9, the leader of the newest timeline, was seen long ago (its deadline is past): the race
  // turns on the timelines alone. With no sighting at all it is waited for (former-leader tests).
  const longGone = memory({ leaderSeen: { name: 'pg9', activityMs: -1_000_000, statusRev: 0, memberRev: 0, keySeenMs: -1_000_000, streaming: false, historyTl: 1 } });
  const raceInput = (over: Parameters<typeof baseRaceInput>[0] = {}) => baseRaceInput({ memory: longGone, ...over });

  it('races with the history files written first, and records the newest timeline as the one it follows', () => {
    const d = decide(raceInput({ cluster: behind, peers: peers() }));
    expect(kinds(d)).toEqual(['acquireLeader', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'promote')).toEqual({
      kind: 'promote', oldTimeline: 2, switchLsn: 5_000, reason: 'automatic failover',
      timelineFiles: [{ timeline: 2, content: '1\t0/1770\tautomatic failover\n' }],
    });
    expect(d.reason).toContain('a prefix of the cluster\'s timeline 2');
  });

  it('is not stopped by a member on a timeline its files cover, but is by one on a newer timeline', () => {
    // Past the wait for a stopped member with more WAL to start (src/core/starting-peers.ts).
    const covered = peers(peer('pg3', { walPosition: 6_100, timeline: 2, running: false }));
    expect(kinds(decide(raceInput({ cluster: behind, peers: covered, memory: { ...longGone, startingPeers: { pg3: NOW_MS - 10_000 } } })))[0]).toBe('acquireLeader');
    const newer = decide(raceInput({ cluster: behind, peers: peers(peer('pg3', { walPosition: 6_100, timeline: 3, running: false })) }));
    expect(kinds(newer)).toEqual([]);
    expect(newer.reason).toContain('member pg3 is on timeline 3');
  });

  it('a running member already on the newest timeline is the better candidate', () => {
    const d = decide(raceInput({ cluster: behind, peers: peers(peer('pg3', { walPosition: 6_100, timeline: 2 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('pg3 is a better candidate');
  });

  it('a primary on the old timeline never qualifies: it fences', () => {
    const d = decide(input({ cluster: cluster({ leader: null, history: [h(1, 6_000, 'pg2')] }) }));
    expect(kinds(d)).toEqual(['fence']);
    expect(d.reason).toContain("timeline 1 is behind the cluster's");
  });

  it('holding the key, it promotes with the files; past the switch point it gives the key back', () => {
    const held = cluster({ history: [h(1, 6_000)] });
    const d = decide(input({ cluster: held, local: localPg.replica() }));
    expect(action(d, 'promote')).toMatchObject({ oldTimeline: 2, timelineFiles: [{ timeline: 2 }] });
    const past = decide(input({ cluster: held, local: localPg.replica({ receiveLsn: 7_000, replayLsn: 7_000 }) }));
    expect(kinds(past)).toEqual(['releaseLeader']);
    expect(past.reason).toContain('past the switch point 6000');
  });
});
