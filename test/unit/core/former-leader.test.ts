// S2, last clause: a replica that finds the leader key gone before the former leader's lease could
// have run out promotes only with evidence that the former primary stopped, or after its deadline.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import type { DecideInput, LeaderSeen, Memory } from '../../../src/core/decide-types.js';
import { trackLeader } from '../../../src/core/former-leader.js';
import { cluster, dynamicConfig, kinds, localPg, member, memory, NOW_MS, peer, peers, raceInput, replicaInput } from './builders.js';

const TTL_MS = 10_000; // dynamicConfig()'s ttl

const released = (): ReturnType<typeof cluster> => cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000, stopped: 'pg1' }, statusModRevision: 90 });

function seen(over: Partial<LeaderSeen> = {}): LeaderSeen {
  return { name: 'pg1', activityMs: NOW_MS - 3_000, statusRev: 10, memberRev: 20, keySeenMs: NOW_MS - 500, streaming: true, paused: false, ...over };
}

/** pg2's race after pg1's key vanished; pg1 is still listed (its member key lives on its own lease). */
function afterKeyLoss(over: Partial<DecideInput> = {}, mem: Partial<Memory> = {}): DecideInput {
  return raceInput({
    cluster: cluster({ leader: null, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] }),
    peers: peers(peer.unreachable('pg1', 'timeout'), peer('pg3', { walPosition: 4_000 })),
    memory: memory({ lastLeader: 'pg1', leaderSeen: seen(), ...mem }),
    ...over,
  });
}

describe('former leader: what a replica remembers of the leader', () => {
  it('a first sighting counts as activity now, with whether we stream', () => {
    const m = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }) }));
    expect(m.leaderSeen).toMatchObject({ name: 'pg1', activityMs: NOW_MS, keySeenMs: NOW_MS, streaming: true });
  });

  it('an unchanged status key, leader key and member key is no new activity; the key sighting moves on', () => {
    const first = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }) }));
    const later = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }), memory: first, nowMs: NOW_MS + 4_000 }));
    expect(later.leaderSeen).toMatchObject({ activityMs: NOW_MS, keySeenMs: NOW_MS + 4_000 });
  });

  it('a new status put is activity', () => {
    const first = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }) }));
    const later = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 11 }), memory: first, nowMs: NOW_MS + 2_000 }));
    expect(later.leaderSeen?.activityMs).toBe(NOW_MS + 2_000);
  });

  it('having streamed from the leader is remembered after the stream ends while its key lives on (host loss)', () => {
    const first = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }) }));
    const later = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }), local: localPg.replica({ walReceiver: null }), memory: first, nowMs: NOW_MS + 2_000 }));
    expect(later.leaderSeen?.streaming).toBe(true);
  });

  it('a status put while the key is absent counts (missed while cut off from etcd), an expired member key does not', () => {
    const m = memory({ leaderSeen: seen() });
    const unlocked = (statusModRevision: number, members = [member('pg1'), member('pg2')]) => cluster({ leader: null, statusModRevision, members });
    expect(trackLeader(raceInput({ memory: m, cluster: unlocked(11) })).leaderSeen?.activityMs).toBe(NOW_MS);
    expect(trackLeader(raceInput({ memory: m, cluster: unlocked(10, [member('pg2')]) })).leaderSeen?.activityMs).toBe(NOW_MS - 3_000);
  });

  it('remembers the largest lease TTL the leader published (a ttl lowered at run time leaves its lease as it was)', () => {
    const c = (leaseTtl: number) => cluster({ statusModRevision: 10, members: [member('pg1', { role: 'primary', leaseTtl }), member('pg2'), member('pg3')] });
    const first = trackLeader(replicaInput({ cluster: c(30) }));
    expect(first.leaderSeen?.leaseTtlSec).toBe(30);
    expect(trackLeader(replicaInput({ cluster: c(10), memory: first })).leaderSeen?.leaseTtlSec).toBe(30);
  });

  it('is kept while the key is absent and cleared while this node leads', () => {
    const m = memory({ leaderSeen: seen() });
    expect(trackLeader(raceInput({ memory: m })).leaderSeen).toEqual(seen());
    expect(trackLeader(replicaInput({ name: 'pg1', local: localPg.primary(), memory: m })).leaderSeen).toBeNull();
  });
});

describe('former leader: no promotion while it may still be writable', () => {
  it('waits while the former leader is unreachable and our wal stream from it still runs', () => {
    const d = decide(afterKeyLoss());
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe(
      'not promoting: former leader pg1 may still be writable until its lease deadline in 7000 ms (unreachable: timeout; our wal stream still runs; its member key is still alive); waiting for evidence',
    );
  });

  it('counts the deadline with the lease TTL the leader published when it is larger than the config ttl', () => {
    const d = decide(afterKeyLoss({}, { leaderSeen: seen({ leaseTtlSec: 30 }) }));
    expect(d.reason).toContain('may still be writable until its lease deadline in 27000 ms');
    expect(decide(afterKeyLoss({}, { leaderSeen: seen({ leaseTtlSec: 5 }) })).reason).toContain('until its lease deadline in 7000 ms');
  });

  it('waits for the deadline when it is unreachable, our wal stream ended and its member key is gone: a lease revoked early looks the same as a host loss (fault set 6, seeds 3 and 12)', () => {
    const gone = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const input = afterKeyLoss({ cluster: gone, peers: peers(peer('pg3', { walPosition: 4_000 })), local: localPg.replica({ walReceiver: null }) });
    const d = decide(input);
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 7000 ms (not probed; our wal stream ended); waiting for evidence');
    // Its deadline (seen alive + ttl) has passed: promote.
    expect(kinds(decide({ ...input, nowMs: NOW_MS + 7_000, memory: d.memory }))).toContain('promote');
  });

  it('promotes at once after the former leader released its key with the stopped mark of a clean stop (systemctl stop)', () => {
    const d = decide(afterKeyLoss({ cluster: released(), peers: peers(peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: seen({ keyRev: 80 }) }));
    expect(kinds(d)).toContain('promote');
  });

  it('a stopped mark from before the term we watched, or another member\'s, is no evidence', () => {
    const old = cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000, stopped: 'pg1' }, statusModRevision: 70 });
    const before = decide(afterKeyLoss({ cluster: old, peers: peers(peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: seen({ keyRev: 80 }) }));
    expect(kinds(before)).toEqual([]);
    expect(before.reason).toContain('former leader pg1 may still be writable');
    const other = cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000, stopped: 'pg3' }, statusModRevision: 90 });
    expect(kinds(decide(afterKeyLoss({ cluster: other, peers: peers(peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: seen({ keyRev: 80 }) })))).toEqual([]);
    // Never having seen it hold the key (no key revision), we cannot place the mark: wait.
    expect(kinds(decide(afterKeyLoss({ cluster: released(), peers: peers(peer('pg3', { walPosition: 4_000 })) })))).toEqual([]);
  });

  it('remembers the leader key\'s revision of the term it watched', () => {
    const m = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }) }));
    expect(m.leaderSeen?.keyRev).toBe(cluster().leader?.modRevision);
    const gone = trackLeader(replicaInput({ cluster: cluster({ leader: null, statusModRevision: 11 }), memory: m }));
    expect(gone.leaderSeen?.keyRev).toBe(m.leaderSeen?.keyRev);
  });

  it('waits while its member key is alive although it is unreachable and our stream ended (a partition looks the same)', () => {
    const d = decide(afterKeyLoss({ local: localPg.replica({ walReceiver: null }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('(unreachable: timeout; our wal stream ended; its member key is still alive); waiting for evidence');
  });

  it('promotes at once when its REST API says it is no running primary (stopped for a switchover)', () => {
    const d = decide(afterKeyLoss({ peers: peers(peer('pg1', { role: 'other', running: false, walPosition: null }), peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toContain('promote');
  });

  it('does not promote while its REST API still reports a running primary', () => {
    const d = decide(afterKeyLoss({ peers: peers(peer('pg1', { role: 'primary' }), peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('not promoting: member pg1 still reports itself primary');
  });

  it('promotes once the former leader\'s own deadline (last activity + ttl) has passed', () => {
    const d = decide(afterKeyLoss({ nowMs: NOW_MS + TTL_MS - 3_000 }));
    expect(kinds(d)).toContain('promote');
  });

  it('cleared by its deadline alone: probes sent before the deadline are sent again first (it may have streamed after them)', () => {
    const deadline = NOW_MS - 3_000 + TTL_MS;
    const at = deadline + 100;
    const early = decide(afterKeyLoss({ nowMs: at, peersProbedAtMs: deadline - 1_900 }));
    expect(kinds(early)).toEqual(['probeAgain']);
    expect(early.reason).toBe('not promoting yet: the peers were probed 1900 ms before former leader pg1\'s deadline passed (it may have streamed wal after); probing again');
    expect(kinds(decide(afterKeyLoss({ nowMs: at, peersProbedAtMs: deadline + 10 })))).toContain('promote');
    // Cleared by evidence before its deadline (it answers that it stopped): the probes stand.
    const answered = afterKeyLoss({ peers: peers(peer('pg1', { role: 'replica', running: false }), peer('pg3', { walPosition: 4_000 })), peersProbedAtMs: NOW_MS - 1_500 });
    expect(kinds(decide(answered))).toContain('promote');
  });

  it('waits for the deadline when it was not streaming from the former leader (no stream that could end)', () => {
    const d = decide(afterKeyLoss({ local: localPg.replica({ walReceiver: null }) }, { leaderSeen: seen({ streaming: false }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('(unreachable: timeout; we were not streaming from it; its member key is still alive); waiting for evidence');
  });

  it('waits when its member key expired but our wal stream from it still runs', () => {
    const gone = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const d = decide(afterKeyLoss({ cluster: gone, peers: peers(peer('pg3', { walPosition: 4_000 })) }));
    expect(d.reason).toContain('(not probed; our wal stream still runs); waiting for evidence');
  });

  it('after a restart (empty memory) a member key that still says primary counts as seen alive now', () => {
    const d = decide(afterKeyLoss({}, { leaderSeen: null }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 10000 ms');
    expect(d.memory.leaderSeen).toMatchObject({ name: 'pg1', activityMs: NOW_MS });
    // The wait ends at that deadline: the loop looks again then, not up to loop_wait later.
    expect(d.lookAgainAtMs).toBe(NOW_MS + TTL_MS);
  });

  it('after a restart with no member claiming primary it races as before', () => {
    const c = cluster({ leader: null, members: [member('pg1'), member('pg2'), member('pg3')] });
    const d = decide(afterKeyLoss({ cluster: c }, { leaderSeen: null }));
    expect(kinds(d)).toContain('promote');
  });

  it('after a restart with both of the leader\'s keys revoked, the status key names the leader to judge (seeds 774 and 939 of set 6)', () => {
    const revoked = cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000, leader: 'pg1' }, statusModRevision: 90 });
    const d = decide(afterKeyLoss({ cluster: revoked }, { leaderSeen: null }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 10000 ms');
    // Its own answer is evidence as before; a status naming ourselves or a clean release names nobody.
    const answered = decide(afterKeyLoss({ cluster: revoked, peers: peers(peer('pg1', { role: 'replica', running: false }), peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: null }));
    expect(kinds(answered)).toContain('promote');
    const ours = cluster({ leader: null, members: [member('pg2'), member('pg3')], status: { optime: 5_000, leader: 'pg2' }, statusModRevision: 90 });
    expect(kinds(decide(afterKeyLoss({ cluster: ours }, { leaderSeen: null })))).toContain('promote');
    expect(kinds(decide(afterKeyLoss({ cluster: released() }, { leaderSeen: null })))).toContain('promote');
  });

  it('also waits for a member whose key still says primary when we remember another leader (missed a switchover)', () => {
    const c = cluster({ leader: null, members: [member('pg2'), member('pg3', { role: 'primary' })] });
    // pg1, the leader we remember, answers as a stopped replica; pg3 is unreachable.
    const answers = peers(peer('pg1', { role: 'replica', running: false, walPosition: 1_500 }), peer.unreachable('pg3', 'timeout'));
    const d = decide(afterKeyLoss({ cluster: c, peers: answers, local: localPg.replica({ walReceiver: null }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg3 may still be writable until its lease deadline in 7000 ms (unreachable: timeout; our wal stream ended; its member key is still alive)');
  });

  it('a history entry newer than our last sighting names a leader promoted while we did not look: that one is judged (seen alive now)', () => {
    // pg1 was the leader we remember (its history entry: timeline 2); while we were frozen pg3
    // took the key and promoted (entry for timeline 3), then its key was deleted and its agent frozen.
    const history = [{ timeline: 1, switchLsn: 1_000, reason: 'x', newLeader: 'pg1' }, { timeline: 2, switchLsn: 6_000, reason: 'y', newLeader: 'pg3' }];
    const c = cluster({ leader: null, history, members: [member('pg1'), member('pg2'), member('pg3')] });
    const local = localPg.replica({ timeline: 2, walReceiver: null });
    const d = decide(afterKeyLoss({ cluster: c, local, peers: peers(peer('pg1', { role: 'replica', running: false, walPosition: 1_500 }), peer.unreachable('pg3', 'timeout')) },
      { leaderSeen: seen({ historyTl: 1 }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg3 may still be writable until its lease deadline in 10000 ms (unreachable: timeout; we were not streaming from it; its member key is still alive)');
    // Its member key gone too: still no evidence (our stream was from pg1, not from it).
    const gone = cluster({ leader: null, history, members: [member('pg1'), member('pg2')] });
    const noKey = decide(afterKeyLoss({ cluster: gone, local, peers: peers(peer('pg1', { role: 'replica', running: false, walPosition: 1_500 }), peer.unreachable('pg3', 'timeout')) },
      { leaderSeen: seen({ historyTl: 1 }) }));
    expect(noKey.reason).toContain('former leader pg3 may still be writable');
    expect(d.memory.leaderSeen).toMatchObject({ name: 'pg3', activityMs: NOW_MS, historyTl: 2 });
    // The same history already seen (historyTl 2): the leader we remember is the one judged.
    const known = decide(afterKeyLoss({ cluster: c, local, peers: peers(peer('pg1', { role: 'replica', running: false, walPosition: 1_500 }), peer.unreachable('pg3', 'timeout')) },
      { leaderSeen: seen({ historyTl: 2 }) }));
    expect(known.memory.leaderSeen?.name).toBe('pg1');
  });

  it('with no sighting at all (it led itself, or restarted), the newest history entry names the leader to judge', () => {
    // Seed 735: pg2 led timeline 2 itself (nothing remembered); frozen, it missed pg3's promotion
    // from timeline 2, whose key was then deleted and whose agent froze.
    const history = [{ timeline: 1, switchLsn: 1_000, reason: 'x', newLeader: 'pg2' }, { timeline: 2, switchLsn: 6_000, reason: 'y', newLeader: 'pg3' }];
    const c = cluster({ leader: null, history, members: [member('pg1'), member('pg2'), member('pg3')] });
    const race = (timeline: number) => decide(raceInput({ cluster: c, local: localPg.replica({ timeline, walReceiver: null }),
      peers: peers(peer('pg1', { walPosition: 1_500 }), peer.unreachable('pg3', 'timeout')), memory: memory() }));
    const behind = race(2);
    expect(kinds(behind)).toEqual([]);
    expect(behind.reason).toContain('former leader pg3 may still be writable');
    expect(behind.memory.leaderSeen).toMatchObject({ name: 'pg3', activityMs: NOW_MS });
    // On the timeline pg3 created (it followed pg3, then restarted): pg3 is still the leader to judge
    // (seed 582 of set 5: a restarted agent took the vanished key for no leader at all).
    expect(race(3).memory.leaderSeen).toMatchObject({ name: 'pg3', activityMs: NOW_MS });
    expect(race(3).reason).toContain('former leader pg3 may still be writable');
    // A timeline past any the history knows: no entry names its leader (pg3's entry is two behind).
    expect(race(4).memory.leaderSeen).toBeNull();
  });

  it('a restarted agent that never saw the leader learns from the status key that it was put in pause (seed 582 of set 5)', () => {
    // pg3 led timeline 3 and was killed in pause; after the resume its key and member key lapsed.
    // pg2's agent restarted meanwhile: nothing in its memory, and only the status key, which has no
    // lease, says pg3 was paused when last seen alive: nothing fences it.
    const history = [{ timeline: 2, switchLsn: 6_000, reason: 'y', newLeader: 'pg3' }];
    const status = (pause: boolean) => cluster({ leader: null, history, status: { optime: 7_000, ...(pause ? { pause } : {}) }, members: [member('pg1'), member('pg2')] });
    const race = (pause: boolean, nowMs = NOW_MS) => decide(raceInput({ cluster: status(pause), local: localPg.replica({ timeline: 3, walReceiver: null }), nowMs,
      peers: peers(peer('pg1', { walPosition: 6_500 })), memory: memory() }));
    const paused = race(true);
    expect(kinds(paused)).toEqual([]);
    expect(paused.reason).toContain('former leader pg3 was paused when last seen alive and a paused agent does not fence');
    expect(paused.memory.leaderSeen).toMatchObject({ name: 'pg3', paused: true });
    // Put outside pause: its deadline (ttl from our first sight) is what it waits for.
    expect(race(false).reason).toContain('former leader pg3 may still be writable until its lease deadline');
  });

  it('a status put in pause that names its writer: that leader counts as paused without a history entry (a bootstrap leader)', () => {
    const status = (leader: string) => cluster({ leader: null, status: { optime: 7_000, pause: true, leader }, members: [member('pg2'), member('pg3')] });
    const d = decide(afterKeyLoss({ cluster: status('pg1') }, { leaderSeen: null }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 was paused when last seen alive');
    // A status another member put in pause says nothing of pg1 (named by its member key here).
    const other = cluster({ leader: null, status: { optime: 7_000, pause: true, leader: 'pg3' }, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });
    expect(decide(afterKeyLoss({ cluster: other }, { leaderSeen: null })).memory.leaderSeen).toMatchObject({ name: 'pg1', paused: false });
  });

  it('a former leader that answers "starting as primary" is no evidence: stopped now, writable a moment later', () => {
    // Seed 455: the leader's start job was decided with the key held; it ran after the key was deleted.
    const starting = peer('pg1', { role: 'primary', running: false, walPosition: 4_000, startingAs: 'primary' });
    // Past the race's wait for a starting member (starting-peers.ts), the former-leader rule still holds.
    const d = decide(afterKeyLoss({ peers: peers(starting, peer('pg3', { walPosition: 4_000 })) }, { startingPeers: { 'pg1/starting': NOW_MS - TTL_MS } }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 7000 ms (it is starting postgresql as primary)');
    const asReplica = peer('pg1', { role: 'replica', running: false, walPosition: 4_000, startingAs: 'replica' });
    expect(decide(afterKeyLoss({ peers: peers(asReplica, peer('pg3', { walPosition: 4_000 })) })).reason).not.toContain('may still be writable');
  });

  it('a former leader whose agent answers but cannot reach its postgresql (state starting: neither running nor stopped) is no evidence', () => {
    // Seed 572 of set 5: the leader's PostgreSQL hung and it was cut from etcd; its key was deleted.
    // Read as "not running", its answer cleared a promotion while its backends could still commit.
    const hung = peer('pg1', { role: 'primary', running: false, mayRun: true, walPosition: null });
    const d = decide(afterKeyLoss({ peers: peers(hung, peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 7000 ms (it reports itself primary with postgresql in an unknown state)');
    const stopped = peer('pg1', { role: 'primary', running: false, walPosition: null });
    expect(decide(afterKeyLoss({ peers: peers(stopped, peer('pg3', { walPosition: 4_000 })) })).reason).not.toContain('may still be writable');
  });

  it('a former leader whose agent cannot reach its postgresql is no evidence whatever role it reports', () => {
    // Seed 867 of set 6: the hung leader's agent restarted in place, its key deleted before the new
    // run's first tick; the new run reported the role of a PostgreSQL it does not lead: replica.
    const hung = peer('pg1', { role: 'replica', running: false, mayRun: true, walPosition: null });
    const d = decide(afterKeyLoss({ peers: peers(hung, peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable until its lease deadline in 7000 ms (it reports itself replica with postgresql in an unknown state');
    // Past its deadline its guard has fenced it: the race goes on.
    expect(decide(afterKeyLoss({ peers: peers(hung, peer('pg3', { walPosition: 4_000 })), nowMs: NOW_MS + TTL_MS })).reason).not.toContain('may still be writable');
  });

  it('a requested candidate (manual failover) waits too', () => {
    const c = cluster({ leader: null, failover: { member: 'pg2' }, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });
    const d = decide(afterKeyLoss({ cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 may still be writable');
  });

  it('over ticks: the deadline counts from the last status put seen, not from the key loss', () => {
    let mem = memory();
    const tick = (nowMs: number, over: Partial<DecideInput>) => {
      const d = decide(replicaInput({ nowMs, memory: mem, ...over }));
      mem = d.memory;
      return d;
    };
    tick(NOW_MS, { cluster: cluster({ statusModRevision: 10 }) });
    tick(NOW_MS + 2_000, { cluster: cluster({ statusModRevision: 11 }) });
    tick(NOW_MS + 4_000, { cluster: cluster({ statusModRevision: 11 }) }); // frozen leader: no more puts
    const gone = cluster({ leader: null, members: [member('pg1', { role: 'primary' }), member('pg2')], statusModRevision: 11 });
    const unreachable = peers(peer.unreachable('pg1', 'timeout'));
    const waiting = tick(NOW_MS + 5_000, { cluster: gone, peers: unreachable });
    expect(waiting.reason).toContain('until its lease deadline in 7000 ms');
    expect(kinds(tick(NOW_MS + 2_000 + TTL_MS, { cluster: gone, peers: unreachable }))).toContain('promote');
  });
});

describe('a primary whose key vanished', () => {
  it('takes it back rather than defer to a requested candidate (never writable without a key)', () => {
    const c = cluster({ leader: null, failover: { leader: 'pg1', member: 'pg2' }, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });
    const d = decide(raceInput({ name: 'pg1', local: localPg.primary(), cluster: c, peers: peers(peer('pg2', { walPosition: 4_000 }), peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toContain('acquireLeader');
    expect(kinds(d)).not.toContain('promote');
  });
});

describe('a former leader last seen in pause (it does not fence itself)', () => {
  const longAgo = { activityMs: NOW_MS - 10 * TTL_MS, paused: true };
  const gone = cluster({ leader: null, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });

  it('remembers whether the cluster was paused at the leader\'s last sign of life', () => {
    const inPause = trackLeader(replicaInput({ config: dynamicConfig({ pause: true }), cluster: cluster({ statusModRevision: 10 }) }));
    expect(inPause.leaderSeen?.paused).toBe(true);
    // Resumed, but no new sign of life from the leader: still last seen in pause.
    const resumed = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 10 }), memory: inPause, nowMs: NOW_MS + 1_000 }));
    expect(resumed.leaderSeen?.paused).toBe(true);
    const putAgain = trackLeader(replicaInput({ cluster: cluster({ statusModRevision: 11 }), memory: resumed, nowMs: NOW_MS + 2_000 }));
    expect(putAgain.leaderSeen?.paused).toBe(false);
  });

  it('a sign of life first seen after the resume still counts as paused when the leader\'s member key says it was paused when it wrote', () => {
    // The leader's last puts (status, member key with pause) happened in pause; it died before it
    // saw the resume; this replica reads them only after the resume.
    const inPause = trackLeader(replicaInput({ config: dynamicConfig({ pause: true }), cluster: cluster({ statusModRevision: 10 }) }));
    const lastPut = cluster({ statusModRevision: 11, members: [member('pg1', { role: 'primary', pause: true }), member('pg2'), member('pg3')] });
    const seenAfterResume = trackLeader(replicaInput({ cluster: lastPut, memory: inPause, nowMs: NOW_MS + 2_000 }));
    expect(seenAfterResume.leaderSeen).toMatchObject({ paused: true, activityMs: NOW_MS + 2_000 });
  });

  it('a status put older than the resume (the config key\'s last change) was made in pause, also when the member key has expired (seed 537)', () => {
    const inPause = memory({ leaderSeen: seen({ paused: true, statusRev: 10, memberRev: 20 }) });
    // The resume is the config key's change at revision 40; the leader's last status put (30) came
    // before it, read only now: its member key has lapsed since (cut off, it never saw the resume).
    const resumed = (statusModRevision: number) => cluster({ leader: null, statusModRevision, config: { value: dynamicConfig(), modRevision: 40 }, members: [member('pg2'), member('pg3')] });
    expect(trackLeader(raceInput({ memory: inPause, cluster: resumed(30) })).leaderSeen).toMatchObject({ paused: true, activityMs: NOW_MS });
    const d = decide(raceInput({ memory: inPause, cluster: resumed(30), peers: peers(peer.unreachable('pg1', 'timeout'), peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 was paused when last seen alive');
    // A put after the resume is a sign of life outside pause.
    expect(trackLeader(raceInput({ memory: inPause, cluster: resumed(50) })).leaderSeen?.paused).toBe(false);
  });

  it('a stranger first seen claiming primary in pause, whose member key is gone since, holds back nothing (seed 450 of set 6)', () => {
    // This node led (no memory of another leader), was cut off and fenced; in pause it saw no
    // leader key and a Patroni member key (no agent field) claiming primary, then that key was removed.
    const { agent: _agent, ...stranger } = member('patroni1', { role: 'primary' });
    const claimed = trackLeader(raceInput({ config: dynamicConfig({ pause: true }), memory: memory({ leaderSeen: null }), cluster: cluster({ leader: null, members: [stranger, member('pg2'), member('pg3')] }) }));
    expect(claimed.leaderSeen).toMatchObject({ name: 'patroni1', paused: true, foreign: true });
    const removed = cluster({ leader: null, members: [member('pg2'), member('pg3')] });
    const d = decide(raceInput({ memory: claimed, cluster: removed, peers: peers(peer('pg3', { walPosition: 4_000 })) }));
    expect(d.reason).not.toContain('patroni1');
    expect(kinds(d)).toContain('acquireLeader');
    // One of our agents whose keys lapsed is still waited for.
    const ours = decide(raceInput({ memory: memory({ leaderSeen: seen({ paused: true }) }), cluster: removed, peers: peers(peer('pg3', { walPosition: 4_000 })) }));
    expect(ours.reason).toContain('former leader pg1 was paused when last seen alive');
  });

  it('after the resume, no automatic failover long past its deadline while it cannot be asked', () => {
    const d = decide(afterKeyLoss({ cluster: gone }, { leaderSeen: seen(longAgo) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: former leader pg1 was paused when last seen alive and a paused agent does not fence (unreachable: timeout); waiting for evidence that it stopped accepting writes');
    const stillPrimary = decide(afterKeyLoss({ cluster: gone, peers: peers(peer('pg1', { role: 'primary' }), peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: seen(longAgo) }));
    expect(stillPrimary.reason).toBe('not promoting: member pg1 still reports itself primary');
  });

  it('fails over once it answers that it runs no primary', () => {
    const d = decide(afterKeyLoss({ cluster: gone, peers: peers(peer('pg1', { running: false }), peer('pg3', { walPosition: 4_000 })) }, { leaderSeen: seen(longAgo) }));
    expect(kinds(d)).toContain('promote');
  });

  it('an operator\'s failover to a named candidate keeps the deadline rule', () => {
    const c = cluster({ leader: null, failover: { member: 'pg2' }, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });
    expect(kinds(decide(afterKeyLoss({ cluster: c }, { leaderSeen: seen(longAgo) })))).toContain('promote');
  });

  it('a switchover naming that leader does not: the leader was to hand over, and it never did (seed 541)', () => {
    const c = cluster({ leader: null, failover: { leader: 'pg1', member: 'pg2' }, members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')] });
    const d = decide(afterKeyLoss({ cluster: c }, { leaderSeen: seen(longAgo) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('former leader pg1 was paused when last seen alive and a paused agent does not fence');
  });
});

