// SPEC 5.1: bootstrap race through `initialize`, cloning, and refusing to join a foreign cluster.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import {
  SYSID,
  action,
  cluster,
  control,
  finished,
  input,
  jobOf,
  kinds,
  localPg,
  member,
  memory,
  patroniMember,
  peer,
  peers,
  ref,
  running,
} from './builders.js';

const fresh = cluster({ initialize: null, leader: null, config: null, members: [member('pg2', { state: 'stopped', role: 'uninitialized' })] });

describe('decide: bootstrap and clone', () => {
  it('claims initialize, takes the leader key and bootstraps when there is neither an initialize key nor a leader', () => {
    const d = decide(input({ name: 'pg2', local: localPg.empty(), cluster: fresh }));
    expect(kinds(d)).toEqual(['claimInitialize', 'acquireLeader', 'startJob']);
    expect(action(d, 'claimInitialize').systemId).toBe('');
    expect(jobOf(d)).toEqual({ kind: 'bootstrap' });
    expect(d.reason).toContain('bootstrapping a new cluster');
  });

  it('puts the initialize claim first: it is the guard that decides the bootstrap race', () => {
    const d = decide(input({ name: 'pg3', local: localPg.empty(), cluster: fresh }));
    expect(d.actions[0]).toEqual({ kind: 'claimInitialize', systemId: '' });
  });

  it('waits when another node has claimed initialize but holds no leader key yet', () => {
    const d = decide(input({ name: 'pg2', local: localPg.empty(), cluster: { ...fresh, initialize: '' } }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('waiting for the leader to bootstrap');
  });

  it('does not bootstrap a node tagged nofailover: it could never lead the cluster it creates', () => {
    const d = decide(input({ name: 'pg2', tags: { nofailover: true }, local: localPg.empty(), cluster: fresh }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('nofailover');
  });

  it('does not bootstrap or clone in pause', () => {
    const d = decide(input({ name: 'pg2', local: localPg.empty(), cluster: fresh, config: { ...input().config, pause: true } }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('paused: data directory empty');
  });

  it('clones from the leader when the data directory is empty', () => {
    const d = decide(input({ name: 'pg3', local: localPg.empty() }));
    expect(kinds(d)).toEqual(['startJob']);
    expect(jobOf(d)).toEqual({ kind: 'clone', source: ref('pg1') });
    expect(d.reason).toContain('cloning from pg1');
  });

  it('clones from a running member tagged clonefrom rather than the leader', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2', { tags: { clonefrom: true } }), member('pg3')] });
    const d = decide(input({ name: 'pg3', local: localPg.empty(), cluster: c }));
    expect(jobOf(d)).toEqual({ kind: 'clone', source: ref('pg2') });
    expect(d.reason).toContain('cloning from pg2');
  });

  it('ignores a clonefrom member whose postgresql is not running', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2', { tags: { clonefrom: true }, state: 'stopped' }), member('pg3')] });
    const d = decide(input({ name: 'pg3', local: localPg.empty(), cluster: c }));
    expect(jobOf(d)).toEqual({ kind: 'clone', source: ref('pg1') });
  });

  it('waits for the leader to publish its member key before cloning', () => {
    const c = cluster({ members: [member('pg3')] });
    const d = decide(input({ name: 'pg3', local: localPg.empty(), cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('waiting for leader pg1 to run before cloning from it');
  });

  it('waits while the leader postgresql is not running yet (still bootstrapping)', () => {
    const c = cluster({ initialize: '', members: [member('pg1', { state: 'initializing new cluster', role: 'uninitialized' }), member('pg3')] });
    const d = decide(input({ name: 'pg3', local: localPg.empty(), cluster: c }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('waiting for leader pg1 to run');
  });

  it('the bootstrapping node holds the leader key and renews it while initdb runs', () => {
    const c = cluster({ initialize: '', config: null, members: [] });
    const d = decide(input({ local: localPg.empty(), cluster: c, job: running({ kind: 'bootstrap' }) }));
    expect(kinds(d)).toEqual(['renewLeader']);
    expect(d.reason).toBe('job bootstrap running; renewing the leader lease');
  });

  it('only reports while the bootstrap job runs', () => {
    const d = decide(input({ name: 'pg2', local: localPg.empty(), cluster: { ...fresh, initialize: '' }, job: running({ kind: 'bootstrap' }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toBe('job bootstrap running');
  });

  it('a bootstrapped primary that lost its key takes it back, records the system identifier and seeds the config in one decision', () => {
    const c = cluster({ initialize: '', leader: null, config: null, status: null, members: [member('pg1', { state: 'running', role: 'primary' }), member('pg2', { state: 'stopped', role: 'uninitialized' })] });
    const d = decide(input({ cluster: c, peers: peers(peer('pg2', { running: false, walPosition: null, role: 'other' })), memory: memory({ lastJob: finished({ kind: 'bootstrap' }, true) }) }));
    expect(kinds(d)).toEqual(['acquireLeader', 'setInitialize', 'seedConfig', 'createSlots', 'publishLeaderStatus']);
    expect(action(d, 'setInitialize').systemId).toBe(SYSID);
    expect(d.reason).toContain('taking the leader key');
    expect(d.memory.lastJob).toBeNull();
  });

  it('the leader replaces the initialize claim with its system identifier and seeds a missing config', () => {
    const d = decide(input({ cluster: cluster({ initialize: '', config: null }) }));
    expect(kinds(d)).toEqual(['renewLeader', 'publishLeaderStatus', 'setInitialize', 'seedConfig', 'createSlots']);
    expect(action(d, 'setInitialize').systemId).toBe(SYSID);
    expect(d.reason).toContain('recording the system identifier, seeding the dynamic configuration');
  });

  it('after a failed bootstrap hands the race back (key and initialize claim) and stops', () => {
    const c = cluster({ initialize: '', config: null, members: [] });
    const d = decide(input({ local: localPg.empty(), cluster: c, memory: memory({ lastJob: finished({ kind: 'bootstrap' }, false, 'initdb: exit 1') }) }));
    expect(d.actions).toEqual([{ kind: 'fence', reason: 'bootstrap failed' }, { kind: 'releaseLeader' }, { kind: 'deleteInitialize' }, { kind: 'halt', exitCode: 1 }]);
    expect(d.reason).toContain('bootstrap failed (initdb: exit 1)');
    expect(d.memory.lastJob).toBeNull();
  });

  it('retries a failed clone once its backoff is over', () => {
    const lastJob = finished({ kind: 'clone', source: ref('pg1') }, false, 'pg_basebackup: exit 1');
    const d = decide(input({ name: 'pg3', local: localPg.empty(), memory: memory({ lastJob }) }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toMatch(/^backing off: job clone \(pg1\) failed 1 time in a row \(pg_basebackup: exit 1\)/);
    expect(d.memory.lastJob).toBeNull();
    const later = decide(input({ name: 'pg3', local: localPg.empty(), memory: d.memory, nowMs: lastJob.finishedMs + 5_000 }));
    expect(jobOf(later)).toEqual({ kind: 'clone', source: ref('pg1') });
  });

  it('a leader whose data directory vanished releases the key instead of cloning from itself', () => {
    const d = decide(input({ local: localPg.empty() }));
    expect(kinds(d)).toEqual(['releaseLeader']);
    expect(d.reason).toContain('data directory is empty');
  });
});

describe('decide: refusing to join', () => {
  it('halts with exit code 3 when running postgresql has a foreign system identifier', () => {
    const d = decide(input({ name: 'pg2', local: localPg.replica({ systemIdentifier: '999' }) }));
    expect(d.actions).toEqual([{ kind: 'halt', exitCode: 3 }]);
    expect(d.reason).toContain('system identifier 999');
    expect(d.reason).toContain(`holds ${SYSID}`);
  });

  it('halts with exit code 3 when stopped data has a foreign system identifier (from pg_controldata)', () => {
    const d = decide(input({ name: 'pg2', local: localPg.down({ control: control({ systemIdentifier: '999' }) }) }));
    expect(d.actions).toEqual([{ kind: 'halt', exitCode: 3 }]);
    expect(d.reason).toContain('data from another cluster');
  });

  it('does not compare system identifiers while initialize only holds the bootstrap claim', () => {
    const d = decide(input({ cluster: cluster({ initialize: '' }), local: localPg.primary({ systemIdentifier: '999' }) }));
    expect(kinds(d)).not.toContain('halt');
  });

  it('refuses to join a cluster with a Patroni member (no agent field)', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2'), patroniMember('pg3')] });
    const d = decide(input({ name: 'pg2', local: localPg.replica(), cluster: c }));
    expect(d.actions).toEqual([{ kind: 'halt', exitCode: 2 }]);
    expect(d.reason).toContain('member pg3 is not a pg-ha-agent');
  });

  it('refuses to start when another live member uses the same name', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2', { connUrl: 'postgres://elsewhere:5432/postgres', leaseId: 'lease-other' })] });
    const d = decide(input({ name: 'pg2', local: localPg.replica(), cluster: c, leaseId: 'lease-mine' }));
    expect(d.actions).toEqual([{ kind: 'halt', exitCode: 2 }]);
    expect(d.reason).toContain('another live member already uses the name pg2');
  });

  it('accepts its own previous member key (same conn_url, older lease) after a restart', () => {
    const c = cluster({ members: [member('pg1', { role: 'primary' }), member('pg2', { leaseId: 'lease-before-restart' })] });
    const d = decide(input({ name: 'pg2', local: localPg.replica(), cluster: c, leaseId: 'lease-now' }));
    expect(kinds(d)).toEqual([]);
    expect(d.reason).toContain('replica streaming from pg1');
  });
});
