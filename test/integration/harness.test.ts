// Self-tests of the real-process harness: if these fail, no integration test can be trusted.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  createPrimary, createReplica, etcdctl, makeEmptyDataDir, makeTempDir, pgBinary, procStat, requireBinary,
  requireKnownBinary, runDir, spawnTracked, startEtcd, trackedProcesses, waitFor,
} from '../harness/index.js';
import type { EtcdCluster, EtcdMember } from '../harness/index.js';
import { findLeftovers, killLeftoversSync, sweepStaleRunDirs } from '../harness/leftovers.js';
import { isAlive } from '../harness/proc.js';
import type { PidRecord } from '../harness/processes.js';
import { createRunDir } from '../harness/run-dir.js';

async function putGet(endpoints: string[], key: string, value: string): Promise<string> {
  const client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`), dialTimeout: 3_000 });
  try {
    await client.put(key).value(value);
    return (await client.get(key).string()) ?? '<absent>';
  } finally {
    client.close();
  }
}

/** A serializable read answered by this member alone, from its own copy of the data. */
async function localRead(cluster: EtcdCluster, member: EtcdMember, key: string): Promise<string> {
  const url = `${member.clientUrl}/v3/kv/range`;
  const res = await fetch(url, {
    method: 'POST', signal: AbortSignal.timeout(3_000),
    body: JSON.stringify({ key: Buffer.from(key).toString('base64'), serializable: true }),
  });
  const body = (await res.json()) as { kvs?: Array<{ value: string }> };
  expect(cluster.members).toContain(member);
  const v = body.kvs?.[0]?.value;
  return v === undefined ? '<absent>' : Buffer.from(v, 'base64').toString();
}

function others(cluster: EtcdCluster, m: EtcdMember): EtcdMember[] {
  return cluster.members.filter((x) => x !== m);
}

describe('etcd', () => {
  it('a single member serves put/get (etcd3 client and etcdctl)', async () => {
    const etcd = await startEtcd();
    expect(etcd.members).toHaveLength(1);
    expect(etcd.endpoints[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await putGet(etcd.endpoints, '/test/a', 'one')).toBe('one');
    await etcdctl(etcd, ['put', '/test/b', 'two']);
    expect((await etcdctl(etcd, ['get', '--print-value-only', '/test/b'])).trim()).toBe('two');
    expect(existsSync(etcd.members[0]!.logFile)).toBe(true);
    await etcd.close();
    expect(etcd.members[0]!.pid()).toBeNull();
  });

  it('a 3-member cluster keeps serving after its leader is killed, and the member rejoins', async () => {
    const etcd = await startEtcd({ members: 3 });
    expect(new Set(etcd.endpoints).size).toBe(3);
    const leader = await etcd.leader();
    const pid = leader.pid()!;
    await leader.kill();
    expect(isAlive(pid)).toBe(false);
    const survivors = others(etcd, leader);
    const live = survivors.map((m) => `127.0.0.1:${m.clientPort}`);
    const got = await waitFor('writes through the surviving members', () =>
      putGet(live, '/test/after-kill', 'still-here'), { timeoutMs: 30_000 });
    expect(got).toBe('still-here');
    const newLeader = await etcd.leader();
    expect(newLeader).not.toBe(leader);

    await leader.start();
    await etcd.waitHealthy();
    // The restarted member caught up on what was written while it was dead.
    expect(await waitFor('the restarted member to have the new key', async () =>
      (await localRead(etcd, leader, '/test/after-kill')) === 'still-here' || undefined)).toBe(true);
    expect(await putGet(etcd.endpoints, '/test/all', 'three')).toBe('three');
  });

  it('pause (SIGSTOP) of the leader lets the others elect a new one; resume rejoins it', async () => {
    const etcd = await startEtcd({ members: 3 });
    const leader = await etcd.leader();
    leader.pause();
    expect(procStat(leader.pid()!)?.state).toBe('T');
    expect(leader.isPaused()).toBe(true);
    const newLeader = await etcd.leader(); // only unpaused members are asked
    expect(newLeader).not.toBe(leader);
    const live = others(etcd, leader).map((m) => `127.0.0.1:${m.clientPort}`);
    expect(await putGet(live, '/test/while-paused', 'yes')).toBe('yes');

    leader.resume();
    expect(procStat(leader.pid()!)?.state).not.toBe('T');
    await etcd.waitHealthy();
    expect(await waitFor('the resumed member to have the new key', async () =>
      (await localRead(etcd, leader, '/test/while-paused')) === 'yes' || undefined)).toBe(true);
  });

  it('stopAll and startAll bring the whole cluster back with its data', async () => {
    const etcd = await startEtcd({ members: 3 });
    await putGet(etcd.endpoints, '/test/persist', 'kept');
    await etcd.stopAll();
    expect(etcd.members.every((m) => m.pid() === null)).toBe(true);
    await etcd.startAll();
    await etcd.waitHealthy();
    expect((await etcdctl(etcd, ['get', '--print-value-only', '/test/persist'])).trim()).toBe('kept');
  });
});

describe('PostgreSQL', () => {
  it('a primary and a streaming replica (with a slot) replicate a row', async () => {
    const primary = await createPrimary({ parameters: { application_name: 'harness-test' } });
    const settings = await primary.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings
      WHERE name IN ('wal_level', 'hot_standby', 'wal_log_hints', 'data_checksums', 'listen_addresses')`);
    expect(Object.fromEntries(settings.map((r) => [r.name, r.setting]))).toEqual({
      data_checksums: 'on', hot_standby: 'on', listen_addresses: '127.0.0.1', wal_level: 'replica', wal_log_hints: 'on',
    });
    const replica = await createReplica(primary, { slot: 'replica_slot' });
    expect(replica.port).not.toBe(primary.port);
    expect((await replica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);
    const slots = await primary.query<{ active: boolean }>(
      "SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_slot'");
    expect(await waitFor('the slot to be active', async () => (await primary.query<{ active: boolean }>(
      "SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_slot'"))[0]?.active)).toBe(true);
    expect(slots).toHaveLength(1);

    await primary.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    await primary.query('INSERT INTO t VALUES ($1, $2)', [1, 'replicated']);
    const row = await waitFor('the row on the replica', async () =>
      (await replica.query<{ note: string }>('SELECT note FROM t WHERE id = 1').catch(() => []))[0]);
    expect(row.note).toBe('replicated');
  });

  it('stop, start and kill -9 of a primary (crash recovery keeps committed rows)', async () => {
    const pg = await createPrimary();
    await pg.query('CREATE TABLE k (v int)');
    await pg.query('INSERT INTO k VALUES (42)');
    const first = await pg.postmasterPid();
    expect(first).not.toBeNull();

    await pg.stop();
    expect(await pg.postmasterPid()).toBeNull();
    expect(isAlive(first!)).toBe(false);
    await expect(pg.query('SELECT 1')).rejects.toThrow();

    await pg.start();
    const second = await pg.postmasterPid();
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    const backends = (await pg.query<{ pid: number }>('SELECT pid FROM pg_stat_activity')).map((r) => r.pid);
    await pg.kill('SIGKILL');
    expect(isAlive(second!)).toBe(false);
    await waitFor('the killed postmaster backends to exit', () => backends.every((b) => !isAlive(b)));

    await pg.start();
    expect((await pg.query<{ v: number }>('SELECT v FROM k'))[0]?.v).toBe(42);
    await pg.stop('immediate');
    expect(await pg.postmasterPid()).toBeNull();
  });

  it('makeEmptyDataDir gives an empty 0700 directory owned by postgres', async () => {
    const dir = await makeEmptyDataDir('pg-empty');
    expect(readdirSync(dir)).toEqual([]);
    const { statSync } = await import('node:fs');
    const st = statSync(dir);
    expect(st.mode & 0o777).toBe(0o700);
    if (process.getuid?.() === 0) expect(st.uid).not.toBe(0);
  });
});

describe('processes', () => {
  it('runs with the run directory handed over by global-setup (the leftover check depends on it)', () => {
    expect(process.env.PGHA_TEST_RUN_DIR).toMatch(/pgha-run-/);
    expect(runDir()).toBe(process.env.PGHA_TEST_RUN_DIR);
    expect(existsSync(join(runDir(), 'pids'))).toBe(true);
  });

  it('spawnTracked captures output, pauses, resumes and stops a process', async () => {
    const proc = spawnTracked(['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exec sleep 600'], { name: 'sleeper' });
    expect(trackedProcesses().some((p) => p.pid === proc.pid)).toBe(true);
    expect(readdirSync(join(runDir(), 'pids')).some((f) => f.startsWith(`${proc.pid}-`))).toBe(true);
    const out = await waitFor('both lines in the output', () => {
      const o = proc.output();
      return o.includes('to-stdout') && o.includes('to-stderr') ? o : undefined;
    });
    expect(out).toContain('to-stderr');
    proc.pause();
    await waitFor('state T', () => procStat(proc.pid)?.state === 'T');
    proc.resume();
    await waitFor('state not T', () => procStat(proc.pid)?.state !== 'T');
    const exit = await proc.stop();
    expect(exit.signal).toBe('SIGTERM');
    expect(isAlive(proc.pid)).toBe(false);
    expect(trackedProcesses().some((p) => p.pid === proc.pid)).toBe(false);
    expect(readdirSync(join(runDir(), 'pids')).some((f) => f.startsWith(`${proc.pid}-`))).toBe(false);
  });

  it('spawnTracked runs as postgres without a wrapper process', async () => {
    const proc = spawnTracked(['sh', '-c', 'id -un; exec sleep 600'], { user: 'postgres' });
    await waitFor('id output', () => proc.output().includes('postgres'));
    await expect(proc.waitExit(200)).rejects.toThrow(/still running after 200ms/);
    const exit = await proc.kill();
    expect(exit.signal).toBe('SIGKILL');
  });

  it('the leftover check finds and kills a recorded process that is still alive', async () => {
    const dir = createRunDir();
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const record: PidRecord = { pid, startTicks: procStat(pid)!.startTicks, name: 'leak', kind: 'process',
        stopSignal: 'SIGTERM', argv: ['sleep', '600'], trackedBy: process.pid };
      writeFileSync(join(dir, 'pids', `${pid}-${record.startTicks}.json`), JSON.stringify(record));
      const found = findLeftovers(dir);
      expect(found.map((l) => l.pid)).toEqual([pid]);
      expect(found[0]!.description).toContain('leak');
      expect(killLeftoversSync(found)).toEqual([]);
      await waitFor('the leaked process to be gone', () => !isAlive(pid));
      expect(findLeftovers(dir)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a run dir whose vitest process died is swept by the next run, its processes killed', async () => {
    const dir = createRunDir();
    const owner = spawn('true', { stdio: 'ignore' });
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => owner.once('exit', resolve));
      expect(sweepStaleRunDirs()).not.toContain(dir); // still owned by this live process
      expect(existsSync(dir)).toBe(true);
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: owner.pid, startTicks: null }));
      const pid = child.pid!;
      const record: PidRecord = { pid, startTicks: procStat(pid)!.startTicks, name: 'orphan', kind: 'process',
        stopSignal: 'SIGTERM', argv: ['sleep', '600'], trackedBy: owner.pid! };
      writeFileSync(join(dir, 'pids', `${pid}-${record.startTicks}.json`), JSON.stringify(record));
      const swept = sweepStaleRunDirs();
      expect(swept.some((d) => d.includes('orphan'))).toBe(true);
      expect(existsSync(dir)).toBe(false);
      await waitFor('the orphan to be gone', () => !isAlive(pid));
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing binary names the Debian package that provides it', async () => {
    expect(() => requireBinary('/nonexistent/bin/etcd', 'etcd-server etcd-client'))
      .toThrow('install it with: apt-get install -y etcd-server etcd-client');
    expect(() => pgBinary('no_such_pg_tool')).toThrow(/postgresql-15/);
    expect(requireKnownBinary('etcd')).toBe('/usr/bin/etcd');
    const dir = await makeTempDir('bin');
    expect(() => requireBinary(join(dir, 'haproxy'), 'haproxy')).toThrow(/apt-get install -y haproxy/);
  });
});
