import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import type { ReplicationRow } from '../../../src/core/local-pg.js';
import { STRICT_PLACEHOLDER, pickSyncStandbys, quoteStandbyName, renderSyncStandbyNames, syncCandidates } from '../../../src/core/sync-names.js';
import { action, cluster, dynamicConfig, input, kinds, localPg, member, memory, peer, peers, raceInput } from './builders.js';

const row = (name: string, over: Partial<ReplicationRow> = {}): ReplicationRow => ({
  applicationName: name, clientAddr: null, state: 'streaming', syncState: 'async',
  sentLsn: 5_000, writeLsn: 5_000, flushLsn: 5_000, replayLsn: 5_000, ...over,
});

const SYNC = dynamicConfig({ synchronous_mode: true });
const STRICT = dynamicConfig({ synchronous_mode: true, synchronous_mode_strict: true });

/** pg1 leads; its primary streams to `rows`, s_s_n is `ssn`, the sync key is `standbys` (or absent). */
function leader(opts: { rows?: ReplicationRow[]; ssn?: string; ours?: boolean; standbys?: string[] | null; strict?: boolean; base?: { value: string; lsn: number } }) {
  const { rows = [], ssn = '', standbys = [], strict = false } = opts;
  return input({
    config: strict ? STRICT : SYNC,
    cluster: cluster({ sync: standbys === null ? null : { leader: 'pg1', syncStandby: standbys } }),
    local: localPg.primary({ replication: rows, syncStandbyNames: ssn, syncStandbyNamesOurs: opts.ours ?? ssn !== '' }),
    memory: memory({ syncBase: opts.base ?? null }),
  });
}

describe('synchronous_standby_names as Patroni writes it', () => {
  it('names one standby as it is and several as "n (a,b)", sorted and quoted when needed', () => {
    expect(renderSyncStandbyNames(['pg2'], false)).toBe('pg2');
    expect(renderSyncStandbyNames(['pg3', 'pg2'], false)).toBe('2 (pg2,pg3)');
    expect(renderSyncStandbyNames(['node-1', 'first'], false)).toBe('2 ("first","node-1")');
    expect(quoteStandbyName('a"b')).toBe('"a""b"');
  });

  it('an empty set is asynchronous, or the placeholder that matches nobody in strict mode', () => {
    expect(renderSyncStandbyNames([], false)).toBe('');
    expect(renderSyncStandbyNames([], true)).toBe(STRICT_PLACEHOLDER);
  });
});

describe('choosing synchronous standbys', () => {
  const members = [member('pg1', { role: 'primary' }), member('pg2'), member('pg3', { tags: { sync_priority: 5 } }), member('pg4', { tags: { nosync: true } })];

  it('orders by sync_priority, then sync state, then WAL; nosync and non-streaming members never qualify', () => {
    const local = localPg.primary({ replication: [row('pg2', { flushLsn: 6_000 }), row('pg3'), row('pg4'), row('pg9'), row('pg2x', { state: 'catchup' })] });
    expect(syncCandidates(local, members, 'pg1').map((c) => c.name)).toEqual(['pg3', 'pg2']);
  });

  it('compares the position synchronous_commit waits for: replay for remote_apply, write for remote_write', () => {
    const local = localPg.primary({ replication: [row('pg2', { flushLsn: 6_000, replayLsn: 5_000 }), row('pg3', { flushLsn: 5_500, replayLsn: 5_900, writeLsn: 7_000 })] });
    const names = (sc?: string) => syncCandidates(local, [member('pg2'), member('pg3')], 'pg1', sc).map((c) => c.name);
    expect(names()).toEqual(['pg2', 'pg3']);
    expect(names('remote_apply')).toEqual(['pg3', 'pg2']);
    expect(names('remote_write')).toEqual(['pg3', 'pg2']);
    // A standby that replays nothing (replay paused) is behind by maximum_lag_on_syncnode under remote_apply.
    const c = syncCandidates(local, [member('pg2'), member('pg3')], 'pg1', 'remote_apply');
    expect(pickSyncStandbys(c, local, dynamicConfig({ synchronous_node_count: 2, maximum_lag_on_syncnode: 500 }))).toEqual(['pg3']);
  });

  it('takes up to synchronous_node_count and skips standbys lagging more than maximum_lag_on_syncnode', () => {
    const local = localPg.primary({ replication: [row('pg2', { flushLsn: 1_000 }), row('pg3', { flushLsn: 9_000 })] });
    const c = syncCandidates(local, [member('pg2'), member('pg3')], 'pg1');
    expect(pickSyncStandbys(c, local, dynamicConfig({ synchronous_node_count: 2 }))).toEqual(['pg3', 'pg2']);
    expect(pickSyncStandbys(c, local, dynamicConfig({ synchronous_node_count: 2, maximum_lag_on_syncnode: 4_000 }))).toEqual(['pg3']);
  });
});

describe('decide: the leader in synchronous mode', () => {
  it('first names itself in the sync key, with no standby, compared on its absence', () => {
    const d = decide(leader({ standbys: null }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: [], modRevision: 0 });
    expect(d.reason).toBe('leader: renewing the lease; synchronous mode: no sync key; writing it with this node as leader and no synchronous standby before choosing one');
  });

  it('rewrites a sync key that names another leader', () => {
    const i = leader({});
    const d = decide({ ...i, cluster: cluster({ sync: { leader: 'pg3', syncStandby: ['pg1'] } }) });
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: [], modRevision: 50 });
  });

  it('adding a standby: synchronous_standby_names first, the sync key only once it is confirmed', () => {
    const d = decide(leader({ rows: [row('pg2')] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('pg2');
    expect(kinds(d)).not.toContain('writeSync');
    expect(d.reason).toBe("leader: renewing the lease; synchronous mode: setting synchronous_standby_names to 'pg2'; the sync key follows once pg2 has caught up");
  });

  it('does not name a standby in the key before it flushed past the position at the change', () => {
    const d = decide(leader({ rows: [row('pg2', { syncState: 'sync', flushLsn: 4_000 })], ssn: 'pg2', base: { value: 'pg2', lsn: 4_500 } }));
    expect(kinds(d)).not.toContain('writeSync');
    expect(d.reason).toBe('leader: renewing the lease; waiting for pg2 to catch up before naming it synchronous');
  });

  it('names it once it is sync and flushed past that position', () => {
    const d = decide(leader({ rows: [row('pg2', { syncState: 'sync', flushLsn: 4_600 })], ssn: 'pg2', base: { value: 'pg2', lsn: 4_500 } }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: ['pg2'], modRevision: 50 });
    expect(d.reason).toBe('leader: renewing the lease; synchronous mode: adding pg2 to the sync key: synchronous and flushed past 4500');
  });

  it('a first sight of synchronous_standby_names records the flush position it must be confirmed against', () => {
    const d = decide(leader({ rows: [row('pg2', { syncState: 'sync', flushLsn: 4_000 })], ssn: 'pg2' }));
    expect(kinds(d)).not.toContain('writeSync');
    expect(d.memory.syncBase).toEqual({ value: 'pg2', lsn: 5_000 });
  });

  it('forgets the recorded base once this node no longer leads a running primary', () => {
    const base = { value: 'pg2', lsn: 4_500 };
    const replica = decide(input({ name: 'pg2', config: SYNC, local: localPg.replica(), memory: memory({ syncBase: base }) }));
    expect(replica.memory.syncBase).toBeNull();
    const unreachable = decide({ ...leader({ ssn: 'pg2', base }), cluster: null, dcsError: 'etcd down' });
    expect(unreachable.memory.syncBase).toBeNull();
  });

  it('steady: says which standby is synchronous and does nothing', () => {
    const d = decide(leader({ rows: [row('pg2', { syncState: 'sync' })], ssn: 'pg2', standbys: ['pg2'] }));
    expect(kinds(d)).not.toContain('writeSync');
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
    expect(d.reason).toBe('leader: renewing the lease; synchronous standby pg2');
  });

  it('removing a standby that stopped streaming: the sync key first', () => {
    const d = decide(leader({ rows: [row('pg3')], ssn: 'pg2', standbys: ['pg2'] }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: [], modRevision: 50 });
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
    expect(d.reason).toBe('leader: renewing the lease; synchronous mode: removing pg2 from the sync key before synchronous_standby_names stops waiting for it (not streaming)');
  });

  it('then synchronous_standby_names moves to the replacement', () => {
    const d = decide(leader({ rows: [row('pg3')], ssn: 'pg2', standbys: [] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('pg3');
  });

  it('a standby still synchronous but no longer chosen (lag) leaves the key before s_s_n changes', () => {
    const rows = [row('pg2', { syncState: 'sync', flushLsn: 1_000 }), row('pg3', { flushLsn: 9_000 })];
    const i = leader({ rows, ssn: 'pg2', standbys: ['pg2'] });
    const d = decide({ ...i, config: dynamicConfig({ synchronous_mode: true, maximum_lag_on_syncnode: 4_000 }) });
    expect(action(d, 'writeSync').standbys).toEqual([]);
    expect(d.reason).toContain('removing pg2 from the sync key before synchronous_standby_names stops waiting for it (no longer chosen)');
  });

  it('non-strict with no standby left: key emptied first, then asynchronous', () => {
    expect(action(decide(leader({ ssn: 'pg2', standbys: ['pg2'] })), 'writeSync').standbys).toEqual([]);
    const d = decide(leader({ ssn: 'pg2', standbys: [] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('');
    expect(d.reason).toBe("leader: renewing the lease; synchronous mode: setting synchronous_standby_names to ''; no standby streams; replication is asynchronous until one does");
  });

  it('strict with no standby left: keeps waiting for the last synchronous standby, never asynchronous', () => {
    const d = decide(leader({ ssn: 'pg2', standbys: ['pg2'], strict: true }));
    expect(kinds(d)).not.toContain('writeSync');
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
    expect(d.reason).toBe('leader: renewing the lease; synchronous_mode_strict: no standby can be synchronous; commits wait for pg2');
  });

  it('strict with an empty key and no standby: the placeholder, so commits wait', () => {
    const d = decide(leader({ ssn: '', standbys: [], strict: true }));
    expect(action(d, 'setSyncStandbyNames').value).toBe(STRICT_PLACEHOLDER);
    expect(d.reason).toContain('synchronous_mode_strict: no standby can be synchronous; setting synchronous_standby_names to');
  });

  it('strict replaces a lost standby through the same order, never through an empty value', () => {
    const first = decide(leader({ rows: [row('pg3')], ssn: 'pg2', standbys: ['pg2'], strict: true }));
    expect(action(first, 'writeSync').standbys).toEqual([]);
    const then = decide(leader({ rows: [row('pg3')], ssn: 'pg2', standbys: [], strict: true }));
    expect(action(then, 'setSyncStandbyNames').value).toBe('pg3');
  });

  it('synchronous_mode off: deletes the sync key, then resets synchronous_standby_names', () => {
    const i = leader({ ssn: 'pg2', standbys: ['pg2'] });
    const off = { ...i, config: dynamicConfig() };
    const d = decide(off);
    expect(action(d, 'deleteSync')).toEqual({ kind: 'deleteSync', modRevision: 50 });
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
    expect(d.reason).toBe('leader: renewing the lease; synchronous_mode is off: deleting the sync key');
    const after = decide({ ...off, cluster: cluster({ sync: null }) });
    expect(action(after, 'setSyncStandbyNames').value).toBeNull();
    expect(after.reason).toBe('leader: renewing the lease; synchronous_mode is off: resetting synchronous_standby_names to the configured value');
  });

  it('synchronous_mode off and nothing of ours left: no sync action at all', () => {
    const d = decide(input({ local: localPg.primary({ syncStandbyNames: 'x', syncStandbyNamesOurs: false }) }));
    expect(d.reason).toBe('leader: renewing the lease');
  });

  it('paused: still manages synchronous_standby_names and the key, as Patroni does', () => {
    const i = leader({ rows: [row('pg2')] });
    const d = decide({ ...i, config: dynamicConfig({ synchronous_mode: true, pause: true }) });
    expect(action(d, 'setSyncStandbyNames')).toEqual({ kind: 'setSyncStandbyNames', value: 'pg2' });
    expect(d.reason).toMatch(/^paused; leader: renewing the lease; synchronous mode: setting synchronous_standby_names to 'pg2'/);
  });
});

describe('decide: promotion in synchronous mode', () => {
  const c = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg2', 'pg3'] } });

  it('non-strict: the new leader names itself with no standby and goes asynchronous before pg_promote', () => {
    const d = decide(raceInput({ config: SYNC, cluster: c, local: localPg.replica({ syncStandbyNames: 'pg2', syncStandbyNamesOurs: true }) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'writeSync', 'setSyncStandbyNames', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg2', standbys: [], modRevision: 50 });
    expect(action(d, 'setSyncStandbyNames').value).toBe('');
  });

  it('strict: keeps the other former synchronous standbys and waits for them from its first write', () => {
    const d = decide(raceInput({ config: STRICT, cluster: c }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg2', standbys: ['pg3'], modRevision: 50 });
    expect(action(d, 'setSyncStandbyNames').value).toBe('pg3');
    expect(kinds(d).indexOf('setSyncStandbyNames')).toBeLessThan(kinds(d).indexOf('promote'));
  });

  it('strict as the only synchronous standby: the placeholder until a standby is confirmed', () => {
    const only = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg2'] } });
    const d = decide(raceInput({ config: STRICT, cluster: only }));
    expect(action(d, 'setSyncStandbyNames').value).toBe(STRICT_PLACEHOLDER);
  });

  it('an asynchronous member does not promote, even when it is the most advanced', () => {
    const only = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg3'] } });
    const d = decide(raceInput({ config: SYNC, cluster: only, local: localPg.replica({ receiveLsn: 9_000 }), peers: peers(peer('pg3', { walPosition: 4_000 })) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: synchronous mode: not listed in the sync key (sync key: leader pg1, sync_standby pg3)');
  });

  it('the sync standby is not beaten by a more advanced asynchronous member', () => {
    const only = cluster({ leader: null, members: [member('pg2'), member('pg3')], sync: { leader: 'pg1', syncStandby: ['pg2'] } });
    const d = decide(raceInput({ config: SYNC, cluster: only, peers: peers(peer('pg3', { walPosition: 9_000 })) }));
    expect(kinds(d)[0]).toBe('acquireLeader');
  });

  it('a key holder still in recovery runs the same steps before promoting', () => {
    const d = decide(input({ name: 'pg2', config: SYNC, cluster: cluster({ leader: 'pg2', sync: { leader: 'pg1', syncStandby: ['pg2'] } }), local: localPg.replica() }));
    expect(kinds(d)).toEqual(['renewLeader', 'writeSync', 'createSlots', 'promote', 'publishLeaderStatus']);
  });
});
