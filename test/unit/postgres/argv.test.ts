import { describe, expect, it } from 'vitest';
import {
  basebackupArgs,
  initdbArgs,
  pgCtlStartArgs,
  pgCtlStopArgs,
  rewindArgs,
  shellQuote,
  singleUserArgs,
  waldumpArgs,
} from '../../../src/postgres/argv.js';

describe('pg_ctl', () => {
  it('starts with a wait, a timeout in whole seconds and a log file', () => {
    expect(pgCtlStartArgs({ dataDir: '/d', logFile: '/d/log', timeoutMs: 1500 })).toEqual(['start', '-D', '/d', '-w', '-t', '2', '-l', '/d/log']);
  });

  it('passes a separate config file through -o, shell-quoted', () => {
    const args = pgCtlStartArgs({ dataDir: '/d', logFile: '/l', timeoutMs: 1000, configFile: "/etc/my pg/it's.conf" });
    expect(args.slice(-2)).toEqual(['-o', `-c 'config_file=/etc/my pg/it'\\''s.conf'`]);
  });

  it('stops in the given mode', () => {
    expect(pgCtlStopArgs({ dataDir: '/d', mode: 'fast', timeoutMs: 30_000 })).toEqual(['stop', '-D', '/d', '-m', 'fast', '-w', '-t', '30']);
  });

  it('quotes only when needed', () => {
    expect(shellQuote('abc/d=e')).toBe('abc/d=e');
    expect(shellQuote('a;b')).toBe("'a;b'");
  });
});

describe('initdb', () => {
  it('always enables data checksums and passes Patroni-style options', () => {
    const args = initdbArgs({ dataDir: '/d', superuser: 'postgres', pwfile: '/t/pw', options: [{ encoding: 'UTF8' }, 'no-sync'] });
    expect(args).toEqual(['-D', '/d', '--username=postgres', '--pwfile=/t/pw', '--data-checksums', '--encoding=UTF8', '--no-sync']);
  });

  it('does not repeat data-checksums', () => {
    const args = initdbArgs({ dataDir: '/d', superuser: 'postgres', options: ['data-checksums'] });
    expect(args.filter((a) => a === '--data-checksums')).toHaveLength(1);
  });

  it('refuses options the agent sets, naming them', () => {
    expect(() => initdbArgs({ dataDir: '/d', superuser: 'p', options: [{ pgdata: '/x' }] })).toThrow(/bootstrap\.initdb: option pgdata/);
    expect(() => initdbArgs({ dataDir: '/d', superuser: 'p', options: ['bad option'] })).toThrow(/invalid option name/);
  });
});

describe('pg_basebackup', () => {
  it('streams WAL, never prompts and checkpoints fast unless told otherwise', () => {
    expect(basebackupArgs({ dataDir: '/d', conninfo: 'host=h', options: [] })).toEqual([
      '-D', '/d', '-X', 'stream', '-d', 'host=h', '--no-password', '--checkpoint=fast',
    ]);
    const spread = basebackupArgs({ dataDir: '/d', conninfo: 'host=h', options: [{ checkpoint: 'spread' }, { 'max-rate': '100M' }] });
    expect(spread).toContain('--checkpoint=spread');
    expect(spread).not.toContain('--checkpoint=fast');
    expect(spread).toContain('--max-rate=100M');
  });

  it('refuses options that would break the clone', () => {
    expect(() => basebackupArgs({ dataDir: '/d', conninfo: 'h', options: ['write-recovery-conf'] })).toThrow(/postgresql\.basebackup/);
  });
});

describe('pg_rewind, postgres --single, pg_waldump', () => {
  it('builds pg_rewind with the optional restore and config file', () => {
    expect(rewindArgs({ dataDir: '/d', sourceConninfo: 'host=h', restoreTargetWal: false })).toEqual(['-D', '/d', '--source-server', 'host=h']);
    expect(rewindArgs({ dataDir: '/d', sourceConninfo: 'host=h', restoreTargetWal: true, configFile: '/c/postgresql.conf' })).toEqual([
      '-D', '/d', '--source-server', 'host=h', '--restore-target-wal', '--config-file=/c/postgresql.conf',
    ]);
  });

  it('runs single-user mode against template1 with settings', () => {
    expect(singleUserArgs({ dataDir: '/d', settings: { archive_mode: 'on', archive_command: 'false' } })).toEqual([
      '--single', '-D', '/d', '-c', 'archive_command=false', '-c', 'archive_mode=on', 'template1',
    ]);
  });

  it('dumps two records from the checkpoint', () => {
    expect(waldumpArgs({ walDir: '/d/pg_wal', timeline: 3, startLsn: '0/17414F8', records: 2 })).toEqual([
      '-p', '/d/pg_wal', '-t', '3', '-s', '0/17414F8', '-n', '2',
    ]);
  });
});
