import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { candidateHealthy } from '../../../src/core/eligibility.js';
import type { ReplicationRow } from '../../../src/core/local-pg.js';
import { parseSyncStandbyNames, renderAny } from '../../../src/core/quorum-names.js';
import { STRICT_PLACEHOLDER } from '../../../src/core/sync-names.js';
import { action, cluster, dynamicConfig, input, kinds, localPg, member, memory, peer, peers, raceInput } from './builders.js';

const row = (name: string, over: Partial<ReplicationRow> = {}): ReplicationRow => ({
  applicationName: name, clientAddr: null, state: 'streaming', syncState: 'quorum',
  sentLsn: 5_000, writeLsn: 5_000, flushLsn: 5_000, replayLsn: 5_000, ...over,
});

const QUORUM = dynamicConfig({ synchronous_mode: 'quorum', synchronous_node_count: 2 });
const STRICT = dynamicConfig({ synchronous_mode: 'quorum', synchronous_node_count: 2, synchronous_mode_strict: true });
const MEMBERS = [member('pg1', { role: 'primary' }), member('pg2'), member('pg3'), member('pg4')];
const ALL3 = ['pg2', 'pg3', 'pg4'];
const LEAD = 'leader: renewing the lease; ';

/** pg1 leads; its primary streams to `rows`; s_s_n `ssn`; the key `voters`/`quorum` (null: absent). */
function leader(opts: { rows?: ReplicationRow[]; ssn?: string; voters?: string[] | null; quorum?: number; strict?: boolean; base?: { value: string; lsn: number; ready?: string[] } }) {
  const { rows = [], ssn = '', voters = [], quorum = 0 } = opts;
  return input({
    config: opts.strict === true ? STRICT : QUORUM,
    cluster: cluster({ members: MEMBERS, sync: voters === null ? null : { leader: 'pg1', syncStandby: voters, quorum } }),
    local: localPg.primary({ replication: rows, syncStandbyNames: ssn, syncStandbyNamesOurs: ssn !== '' }),
    memory: memory({ syncBase: opts.base ?? null }),
  });
}

describe('synchronous_standby_names in quorum mode', () => {
  it('renders ANY k (sorted, quoted), the placeholder when commits must wait for nobody known, else empty', () => {
    expect(renderAny(['pg3', 'pg2'], 1)).toBe('ANY 1 (pg2,pg3)');
    expect(renderAny(['node-1'], 1)).toBe('ANY 1 ("node-1")');
    expect(renderAny([], 1)).toBe(`ANY 1 (${STRICT_PLACEHOLDER})`);
    expect(renderAny([], 0)).toBe('');
  });

  it('parses what PostgreSQL accepts: ANY, FIRST, a bare number, a bare list, quotes', () => {
    expect(parseSyncStandbyNames('ANY 2 (pg2, "a,b", pg4)')).toEqual({ type: 'quorum', num: 2, members: ['pg2', 'a,b', 'pg4'], hasStar: false });
    expect(parseSyncStandbyNames('2 (pg2,pg3)')).toMatchObject({ type: 'priority', num: 2, members: ['pg2', 'pg3'] });
    expect(parseSyncStandbyNames('first 1 (*)')).toMatchObject({ type: 'priority', num: 1, hasStar: true });
    expect(parseSyncStandbyNames('pg2')).toMatchObject({ type: 'priority', num: 1, members: ['pg2'] });
    expect(parseSyncStandbyNames('')).toMatchObject({ type: 'off', num: 0, members: [] });
  });
});

describe('decide: the leader in quorum mode', () => {
  it('with no sync key, first writes one naming itself, no voters, quorum 0', () => {
    const d = decide(leader({ voters: null }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: [], quorum: 0, modRevision: 0 });
    expect(d.reason).toBe(`${LEAD}quorum mode: no sync key; writing it with this node as leader and no voters`);
  });

  it('three standbys streaming: s_s_n names them all (ANY 2) before the key lists any', () => {
    const d = decide(leader({ rows: [row('pg2', { syncState: 'async' }), row('pg3', { syncState: 'async' }), row('pg4', { syncState: 'async' })] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 2 (pg2,pg3,pg4)');
    expect(kinds(d)).not.toContain('writeSync');
    expect(d.reason).toBe(`${LEAD}quorum mode: setting synchronous_standby_names to 'ANY 2 (pg2,pg3,pg4)'`);
  });

  it('once they flushed past the position at the change, the key lists the three with quorum 1', () => {
    const ssn = 'ANY 2 (pg2,pg3,pg4)';
    const d = decide(leader({ rows: ALL3.map((n) => row(n)), ssn, base: { value: ssn, lsn: 5_000 } }));
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: ALL3, quorum: 1, modRevision: 50 });
    expect(d.reason).toBe(`${LEAD}quorum mode: writing the sync key: leader pg1, quorum 1 of pg2, pg3, pg4`);
  });

  it('standbys not past that position are not counted: nothing is written yet', () => {
    const ssn = 'ANY 2 (pg2,pg3,pg4)';
    const d = decide(leader({ rows: ALL3.map((n) => row(n, { flushLsn: 4_000 })), ssn, base: { value: ssn, lsn: 5_000 } }));
    expect(kinds(d)).not.toContain('writeSync');
    expect(d.memory.syncBase).toEqual({ value: ssn, lsn: 5_000, ready: [] });
    expect(d.reason).toBe(`${LEAD}quorum mode: no voters (waiting for pg2, pg3, pg4 to confirm)`);
  });

  it('steady: says so and writes nothing', () => {
    const ssn = 'ANY 2 (pg2,pg3,pg4)';
    const d = decide(leader({ rows: ALL3.map((n) => row(n)), ssn, voters: ALL3, quorum: 1, base: { value: ssn, lsn: 5_000 } }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'createSlots']);
    expect(d.reason).toBe(`${LEAD}quorum mode: quorum 1 of pg2, pg3, pg4, synchronous_standby_names 'ANY 2 (pg2,pg3,pg4)'`);
  });

  it('a standby stops streaming: s_s_n shrinks first, the key keeps quorum 1 of three meanwhile', () => {
    const ssn = 'ANY 2 (pg2,pg3,pg4)';
    const d = decide(leader({ rows: [row('pg2'), row('pg3')], ssn, voters: ALL3, quorum: 1, base: { value: ssn, lsn: 5_000 } }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 2 (pg2,pg3)');
    expect(kinds(d)).not.toContain('writeSync');
  });

  it('then the key lowers the quorum only for standbys seen past the primary position after that change', () => {
    const ssn = 'ANY 2 (pg2,pg3)';
    const caughtUp = decide(leader({ rows: [row('pg2'), row('pg3')], ssn, voters: ALL3, quorum: 1 }));
    expect(action(caughtUp, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: ['pg2', 'pg3'], quorum: 0, modRevision: 50 });
    // pg3 lags: it may miss commits only pg4 acknowledged; a candidate needs both.
    const lagging = decide(leader({ rows: [row('pg2'), row('pg3', { flushLsn: 4_000 })], ssn, voters: ALL3, quorum: 1 }));
    expect(action(lagging, 'writeSync')).toMatchObject({ standbys: ['pg2', 'pg3'], quorum: 1 });
  });

  it('a new standby: the key raises the quorum before s_s_n widens', () => {
    const ssn = 'ANY 2 (pg2,pg3)';
    const d = decide(leader({ rows: [row('pg2'), row('pg3'), row('pg4', { syncState: 'async' })], ssn, voters: ['pg2', 'pg3'], quorum: 0, base: { value: ssn, lsn: 5_000 } }));
    expect(action(d, 'writeSync')).toMatchObject({ standbys: ALL3, quorum: 1 });
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
  });

  it('strict with no standby streaming: commits wait for any |voters| - quorum of the voters', () => {
    const d = decide(leader({ strict: true, ssn: 'ANY 2 (pg2,pg3)', voters: ['pg2', 'pg3', 'pg4'], quorum: 1 }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 2 (pg2,pg3,pg4)');
    expect(d.reason).toBe(`${LEAD}quorum mode, synchronous_mode_strict: no standby streams; setting synchronous_standby_names to 'ANY 2 (pg2,pg3,pg4)' so commits wait for pg2, pg3, pg4`);
  });

  it('strict with no voters and no standby: the placeholder, never asynchronous', () => {
    const d = decide(leader({ strict: true, voters: [] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe(`ANY 1 (${STRICT_PLACEHOLDER})`);
  });

  it('non-strict with nobody streaming and no voters: asynchronous', () => {
    const d = decide(leader({ ssn: 'ANY 1 (pg2)', voters: [] }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('');
    expect(d.reason).toBe(`${LEAD}quorum mode: no standby streams and no voters; replication is asynchronous until one does`);
  });

  it('switched back to synchronous_mode true: the quorum voters leave the key before s_s_n becomes FIRST n', () => {
    const ssn = 'ANY 2 (pg2,pg3,pg4)';
    const d = decide({ ...leader({ rows: ALL3.map((n) => row(n)), ssn, voters: ALL3, quorum: 1 }), config: dynamicConfig({ synchronous_mode: true, synchronous_node_count: 2 }) });
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg1', standbys: [], modRevision: 50 });
    expect(kinds(d)).not.toContain('setSyncStandbyNames');
  });

  it('switched from synchronous_mode true: the same standbys rewritten as ANY', () => {
    const d = decide({ ...leader({ rows: [row('pg2', { syncState: 'sync' })], ssn: 'pg2', voters: ['pg2'] }), config: dynamicConfig({ synchronous_mode: 'quorum' }) });
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 1 (pg2)');
  });
});

describe('decide: promotion in quorum mode', () => {
  const key = { leader: 'pg1', syncStandby: ALL3, quorum: 1 };
  const c = cluster({ leader: null, members: MEMBERS.slice(1), sync: key });

  it('before pg_promote: s_s_n waits for the former leader and the other voters, the key is left as it is', () => {
    const d = decide(raceInput({ config: QUORUM, cluster: c, peers: peers(peer('pg3', { walPosition: 4_000 }), peer.unreachable('pg4')) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'setSyncStandbyNames', 'createSlots', 'promote', 'publishLeaderStatus']);
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 2 (pg1,pg3,pg4)');
    expect(d.reason).toBe('taking the leader key: wal position 5000; best candidate, most advanced of 2 reachable members at wal 5000, quorum 1 reached (votes from pg3)');
  });

  it('a key whose quorum is all its voters (a manual failover): s_s_n waits for one of the others, never ANY 0', () => {
    const all = cluster({ leader: null, members: MEMBERS.slice(1), sync: { leader: 'pg1', syncStandby: ['pg2', 'pg3'], quorum: 2 }, failover: { member: 'pg2' } });
    const d = decide(raceInput({ config: QUORUM, cluster: all }));
    expect(action(d, 'setSyncStandbyNames').value).toBe('ANY 1 (pg1,pg3)');
  });

  it('without enough votes a voter does not promote', () => {
    const two = cluster({ leader: null, members: MEMBERS.slice(1), sync: { ...key, quorum: 2 } });
    const d = decide(raceInput({ config: QUORUM, cluster: two, peers: peers(peer('pg3', { walPosition: 4_000 }), peer.unreachable('pg4')) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('not promoting: quorum mode: 1 vote(s) from pg3, quorum 2 of pg1, pg2, pg3, pg4 not reached');
  });

  it('a member outside the voters does not promote', () => {
    const d = decide(raceInput({ config: QUORUM, cluster: cluster({ leader: null, members: MEMBERS.slice(1), sync: { leader: 'pg1', syncStandby: ['pg3', 'pg4'], quorum: 0 } }) }));
    expect(d.reason).toBe('not promoting: synchronous mode: not listed in the sync key (sync key: leader pg1, sync_standby pg3,pg4, quorum 0)');
  });

  it('the new leader then writes the key: the former leader takes its place among the voters, quorum unchanged', () => {
    const ssn = 'ANY 2 (pg1,pg3,pg4)';
    const i = input({ name: 'pg2', config: QUORUM, cluster: cluster({ leader: 'pg2', members: MEMBERS, sync: key }),
      local: localPg.primary({ replication: [row('pg3'), row('pg4')], syncStandbyNames: ssn, syncStandbyNamesOurs: true }) });
    const d = decide(i);
    expect(action(d, 'writeSync')).toEqual({ kind: 'writeSync', leader: 'pg2', standbys: ['pg1', 'pg3', 'pg4'], quorum: 1, modRevision: 50 });
  });

  it('a switchover candidate must be a quorum standby', () => {
    const i = input({ config: QUORUM, cluster: cluster({ members: MEMBERS, sync: { leader: 'pg1', syncStandby: ['pg2', 'pg3'], quorum: 1 } }), peers: peers(peer('pg4')) });
    expect(candidateHealthy(i, 'pg4')).toEqual({ ok: false, reason: 'member pg4 is not a quorum standby (sync key: leader pg1, sync_standby pg2,pg3, quorum 1)' });
  });
});
