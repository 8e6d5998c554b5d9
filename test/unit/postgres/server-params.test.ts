import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runner, RunResult } from '../../../src/exec/runner.js';
import { writeMainConf } from '../../../src/postgres/managed-files.js';
import { adaptToServer, parseDescribeConfig, parseMajorVersion } from '../../../src/postgres/server-params.js';
import type { ParamValue } from '../../../src/postgres/postgresql-conf.js';
import { testConfig, testDynamicConfig } from './fixtures.js';

const PG15 = { majorVersion: 150000, knownParameters: new Set(['wal_keep_size', 'wal_level', 'work_mem', 'max_connections']) };

function params(o: Record<string, ParamValue>): Map<string, ParamValue> {
  return new Map(Object.entries(o));
}

describe('adaptToServer (Patroni postgresql/config.py and validator.py)', () => {
  it('writes wal_keep_segments as wal_keep_size on PostgreSQL 13+ (16MB segments)', () => {
    const out = adaptToServer(params({ wal_keep_segments: 100, work_mem: '4MB' }), PG15);
    expect(out.params.has('wal_keep_segments')).toBe(false);
    expect(out.params.get('wal_keep_size')).toBe('1600MB');
    expect(out.params.get('work_mem')).toBe('4MB');
    expect(out.changes).toEqual(['wal_keep_segments (written as wal_keep_size = 1600MB on PostgreSQL 13+)']);
  });

  it('keeps a wal_keep_size that is set and drops wal_keep_segments', () => {
    const out = adaptToServer(params({ wal_keep_segments: 100, wal_keep_size: '2GB' }), PG15);
    expect(out.params.get('wal_keep_size')).toBe('2GB');
    expect(out.params.has('wal_keep_segments')).toBe(false);
  });

  it('writes wal_keep_size as wal_keep_segments before PostgreSQL 13', () => {
    const out = adaptToServer(params({ wal_keep_size: '1GB' }), { majorVersion: 120000, knownParameters: null });
    expect(out.params.get('wal_keep_segments')).toBe(64);
    expect(out.params.has('wal_keep_size')).toBe(false);
  });

  it('drops a parameter the server does not know, keeps extension parameters, renames wal_level hot_standby', () => {
    const out = adaptToServer(params({ no_such_guc: 1, 'pg_stat_statements.max': 1000, wal_level: 'hot_standby' }), PG15);
    expect(out.params.has('no_such_guc')).toBe(false);
    expect(out.params.get('pg_stat_statements.max')).toBe(1000);
    expect(out.params.get('wal_level')).toBe('replica');
    expect(out.changes).toEqual(['no_such_guc (dropped: unknown to PostgreSQL 15)']);
  });

  it('changes nothing when the server could not be asked', () => {
    const out = adaptToServer(params({ wal_keep_segments: 8 }), null);
    expect(out.params.get('wal_keep_segments')).toBe(8);
  });

  it('parses the server binary answers', () => {
    expect(parseMajorVersion('postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n')).toBe(150000);
    expect(parseMajorVersion('postgres (PostgreSQL) 9.6.24\n')).toBe(90600);
    expect(parseMajorVersion('garbage')).toBeNull();
    const names = parseDescribeConfig('archive_command\tsighup\tWAL\tSTRING\n\nwal_keep_size\tsighup\tReplication\tINTEGER\n');
    expect([...names]).toEqual(['archive_command', 'wal_keep_size']);
  });
});

describe('writeMainConf with the server binary', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never writes wal_keep_segments or an unknown parameter for PostgreSQL 15', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgha-conf-'));
    const config = testConfig({ dataDir: dir, pgpass: join(dir, 'pgpass'), postgresql: { bin_dir: join(dir, 'bin') } });
    const calls: string[][] = [];
    const reply = (stdout: string): RunResult => ({ exitCode: 0, signal: null, stdout, stderr: '', durationMs: 1, timedOut: false });
    const runner: Runner = {
      run: (cmd, args) => {
        calls.push([cmd, ...args]);
        if (args[0] === '--version') return Promise.resolve(reply('postgres (PostgreSQL) 15.20\n'));
        return Promise.resolve(reply('wal_keep_size\tsighup\n'));
      },
    };
    const dyn = testDynamicConfig({ parameters: { wal_keep_segments: 100, bogus_parameter: 'x' } });
    await writeMainConf(config, dyn, pino({ level: 'silent' }), null, runner);
    const text = await readFile(join(dir, 'postgresql.conf'), 'utf8');
    expect(text).toContain("wal_keep_size = '1600MB'");
    expect(text).not.toContain('wal_keep_segments');
    expect(text).not.toContain('bogus_parameter');
    expect(calls.map((c) => c[0])).toEqual([join(dir, 'bin', 'postgres'), join(dir, 'bin', 'postgres')]);
  });
});
