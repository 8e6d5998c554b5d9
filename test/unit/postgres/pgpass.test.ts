import { describe, expect, it } from 'vitest';
import { renderPgpass, replicationPgpassEntry, rewindPgpassEntry } from '../../../src/postgres/pgpass.js';
import { renderReplicaConf } from '../../../src/postgres/replica-conf.js';
import { PgError } from '../../../src/postgres/errors.js';
import { testConfig } from './fixtures.js';

describe('renderPgpass', () => {
  const upstream = { host: '10.0.0.7', port: 5433, name: 'node2' };
  const fields = (line: string): string[] => line.split(/(?<!\\):/);

  it('scopes every line to a host and port: no wildcard host or port', () => {
    const config = testConfig({ port: 5440, postgresql: { connect_address: { host: '10.0.0.1', port: 6432 } } });
    const text = renderPgpass(config, [replicationPgpassEntry(config, upstream)]);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) {
      const [host, port, db] = fields(line);
      expect(host).not.toBe('*');
      expect(port).toMatch(/^\d+$/);
      expect(db).toBe('*');
    }
    expect(text).not.toMatch(/^\*:/m);
    expect(lines[0]).toBe('10.0.0.7:5433:*:replicator:rep-pass');
    // The replication password goes to the upstream only; the local lines are the superuser's.
    expect(lines.filter((l) => l.includes('rep-pass'))).toEqual(['10.0.0.7:5433:*:replicator:rep-pass']);
    expect(lines.slice(1)).toEqual([
      'localhost:5440:*:postgres:su-secret',
      '127.0.0.1:5440:*:postgres:su-secret',
      '\\:\\:1:5440:*:postgres:su-secret',
      '10.0.0.1:6432:*:postgres:su-secret',
    ]);
  });

  it('has only the local lines without a target, and none for roles without a password', () => {
    const config = testConfig({ port: 5440 });
    expect(renderPgpass(config)).not.toContain('rep-pass');
    expect(renderPgpass(config)).not.toContain('rw-secret');
    const noSuperPassword = testConfig({
      postgresql: { authentication: { superuser: { username: 'postgres' }, replication: { username: 'rep', password: 'p' } } },
    });
    expect(renderPgpass(noSuperPassword)).toBe('');
  });

  it('adds the socket directories and listen addresses, skipping wildcards', () => {
    const config = testConfig({
      port: 5440,
      postgresql: {
        listen: { addresses: '*, 192.168.1.5', port: 5440 },
        connect_address: { host: '192.168.1.5', port: 5440 },
        parameters: { Unix_Socket_Directories: '/run/pg, "/tmp/a b"' },
      },
    });
    const hosts = renderPgpass(config).trimEnd().split('\n').map((l) => fields(l)[0]);
    expect(hosts).toEqual(['localhost', '127.0.0.1', '\\:\\:1', '/run/pg', '/tmp/a b', '192.168.1.5']);
  });

  it('uses the rewind user for a rewind source, the superuser when there is none', () => {
    const config = testConfig();
    expect(renderPgpass(config, [rewindPgpassEntry(config, upstream)])).toMatch(/^10\.0\.0\.7:5433:\*:rewind_user:rw-secret\n/);
    const noRewind = testConfig({
      postgresql: { authentication: { superuser: { username: 'postgres', password: 'su' }, replication: { username: 'rep', password: 'p' } } },
    });
    expect(renderPgpass(noRewind, [rewindPgpassEntry(noRewind, upstream)])).toMatch(/^10\.0\.0\.7:5433:\*:postgres:su\n/);
  });

  it('escapes : and \\ in every field and a lone * in host and user', () => {
    const config = testConfig({
      postgresql: {
        authentication: {
          superuser: { username: 'postgres' },
          replication: { username: '*', password: 'a:b\\c' },
        },
      },
    });
    expect(renderPgpass(config, [replicationPgpassEntry(config, { host: 'fe80::1', port: 5432, name: 'n' })])).toBe('fe80\\:\\:1:5432:*:\\*:a\\:b\\\\c\n');
  });

  it('writes one line per host, port and user', () => {
    const config = testConfig({ port: 5440 });
    const text = renderPgpass(config, [replicationPgpassEntry(config, upstream), replicationPgpassEntry(config, upstream)]);
    expect(text.split('\n').filter((l) => l.startsWith('10.0.0.7:'))).toHaveLength(1);
  });

  it('refuses an upstream whose host would add lines, be a wildcard or name several hosts', () => {
    const config = testConfig();
    for (const host of ['evil\n*:*:*:replicator:x', 'a\rb', 'a\0b', '*', '', 'a,b', 'a b', "a'b", 'a\\b']) {
      const entry = replicationPgpassEntry(config, { host, port: 5432, name: 'node9' });
      expect(() => renderPgpass(config, [entry]), JSON.stringify(host)).toThrow(PgError);
      try {
        renderPgpass(config, [entry]);
      } catch (err) {
        expect((err as PgError).code).toBe('bad-upstream');
        expect((err as PgError).message).toContain('node9');
      }
    }
    for (const port of [0, 70000, 1.5, Number.NaN]) {
      expect(() => renderPgpass(config, [replicationPgpassEntry(config, { host: 'h', port, name: 'n' })])).toThrow(/not a TCP port/);
    }
  });

  it('refuses such an upstream in primary_conninfo too', () => {
    const config = testConfig();
    const settings = { upstream: { host: 'h\nx', port: 5432, name: 'node9' }, applicationName: 'node1', slotName: null };
    expect(() => renderReplicaConf(settings, config)).toThrow(/node9.*line break/);
  });

  it('refuses a password or user name with a line break', () => {
    const config = testConfig({
      postgresql: { authentication: { superuser: { username: 'postgres', password: 'a\nb' }, replication: { username: 'rep', password: 'p' } } },
    });
    expect(() => renderPgpass(config)).toThrow(/line break/);
  });
});
