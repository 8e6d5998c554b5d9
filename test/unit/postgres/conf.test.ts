import { describe, expect, it } from 'vitest';
import {
  confValue,
  conninfo,
  defaultHba,
  hbaLines,
  managedParameters,
  primaryConninfo,
  redactConninfo,
  renderPgHba,
  parseConninfo,
  renderPgpass,
  renderPostgresqlConf,
  renderReplicaConf,
  replicationPgpassEntry,
  rewindPgpassEntry,
  slotNameForMember,
  upstreamOfReplicaConf,
} from '../../../src/postgres/conf.js';
import { PgError } from '../../../src/postgres/errors.js';
import { replicaSettings } from '../../../src/postgres/follow.js';
import { pgPaths } from '../../../src/postgres/paths.js';
import { testConfig, testDynamicConfig } from './fixtures.js';

describe('managedParameters', () => {
  it('forces what HA needs and takes the listen address and port from the config', () => {
    const config = testConfig({ port: 5433, postgresql: { parameters: { hot_standby: 'off', port: 1, shared_buffers: '64MB' } } });
    const m = managedParameters(config, null, pgPaths(config));
    expect(m.params.get('hot_standby')).toBe(true);
    expect(m.params.get('wal_log_hints')).toBe(true);
    expect(m.params.get('wal_level')).toBe('replica');
    expect(m.params.get('port')).toBe(5433);
    expect(m.params.get('listen_addresses')).toBe('127.0.0.1');
    expect(m.params.get('shared_buffers')).toBe('64MB');
    expect(m.params.get('wal_retrieve_retry_interval')).toBe('500ms');
    expect(m.params.get('cluster_name')).toBe('batman');
    expect(m.overridden).toEqual(['hot_standby', 'port']);
  });

  it('lets local parameters win over the cluster config, which wins over defaults', () => {
    const config = testConfig({ postgresql: { parameters: { work_mem: '8MB' } } });
    const dyn = testDynamicConfig({ parameters: { work_mem: '4MB', max_connections: 200, max_wal_senders: 20 } });
    const m = managedParameters(config, dyn, pgPaths(config));
    expect(m.params.get('work_mem')).toBe('8MB');
    expect(m.params.get('max_connections')).toBe(200);
    expect(m.params.get('max_wal_senders')).toBe(20);
  });

  it('keeps wal_level logical but never lowers it below replica', () => {
    const config = testConfig();
    const logical = managedParameters(config, testDynamicConfig({ parameters: { wal_level: 'logical' } }), pgPaths(config));
    expect(logical.params.get('wal_level')).toBe('logical');
    const minimal = managedParameters(config, testDynamicConfig({ parameters: { wal_level: 'minimal' } }), pgPaths(config));
    expect(minimal.params.get('wal_level')).toBe('replica');
  });

  it('rejects a parameter name that could inject configuration, naming it', () => {
    const config = testConfig({ postgresql: { parameters: { "x = 1\ninclude '/etc/passwd'": 1 } } });
    expect(() => managedParameters(config, null, pgPaths(config))).toThrow(PgError);
    expect(() => managedParameters(config, null, pgPaths(config))).toThrow(/postgresql\.parameters: invalid PostgreSQL parameter name/);
  });

  it('points ident_file at the data dir only when the config dir is separate', () => {
    const config = testConfig({ dataDir: '/d', postgresql: { config_dir: '/etc/pg' } });
    const m = managedParameters(config, null, pgPaths(config));
    expect(m.params.get('hba_file')).toBe('/etc/pg/pg_hba.conf');
    expect(m.params.get('ident_file')).toBe('/d/pg_ident.conf');
  });
});

describe('confValue', () => {
  it('quotes strings, escaping quotes and backslashes', () => {
    expect(confValue("it's \\ here")).toBe("'it''s \\\\ here'");
    expect(confValue(true)).toBe('on');
    expect(confValue(false)).toBe('off');
    expect(confValue(42)).toBe('42');
  });

  it('rejects line breaks', () => {
    expect(() => confValue('a\nb')).toThrow(/line break/);
  });
});

describe('renderPostgresqlConf', () => {
  it('includes the base file first and the replica file last', () => {
    const config = testConfig();
    const text = renderPostgresqlConf(managedParameters(config, null, pgPaths(config)));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^# Managed by pg-ha-agent/);
    const base = lines.indexOf("include 'postgresql.base.conf'");
    const replica = lines.indexOf("include_if_exists 'pg-ha-agent.replica.conf'");
    const port = lines.indexOf('port = 5432');
    expect(base).toBeGreaterThan(0);
    expect(port).toBeGreaterThan(base);
    expect(replica).toBeGreaterThan(port);
  });
});

describe('replica configuration', () => {
  const config = testConfig({ name: 'node2', pgpass: '/home/pg/.pgpass' });
  const settings = { upstream: { host: '10.0.0.1', port: 5433, name: 'node1' }, applicationName: 'node2', slotName: 'node2' };

  it('names the upstream, the member, the slot and the passfile, never a password', () => {
    const ci = primaryConninfo(settings, config);
    expect(ci).toContain('host=10.0.0.1');
    expect(ci).toContain('port=5433');
    expect(ci).toContain('user=replicator');
    expect(ci).toContain('application_name=node2');
    expect(ci).toContain('passfile=/home/pg/.pgpass');
    expect(ci).not.toContain('rep-pass');
    const text = renderReplicaConf(settings, config);
    expect(text).toContain("primary_slot_name = 'node2'");
    expect(text).toContain("recovery_target_timeline = 'latest'");
    expect(text).not.toContain('rep-pass');
  });

  it('is empty of settings on a primary', () => {
    expect(renderReplicaConf(null, config)).not.toContain('primary_conninfo');
  });

  it('a nostream member gets no conninfo and no slot: it replays from the archive (Patroni 4 tags.nostream)', () => {
    const nostream = { ...config, tags: { nostream: true } };
    const s = replicaSettings(nostream, null, settings.upstream);
    expect(s).toMatchObject({ stream: false, slotName: null });
    const text = renderReplicaConf(s, nostream);
    expect(text).toContain("primary_conninfo = ''");
    expect(text).toContain("primary_slot_name = ''");
    expect(text).toContain("recovery_target_timeline = 'latest'");
    expect(replicaSettings(config, null, settings.upstream)).toMatchObject({ stream: true, slotName: 'node2' });
  });
});

describe('conninfo', () => {
  it('quotes values libpq would split', () => {
    expect(conninfo({ host: 'h', application_name: "a b'c", port: 1, empty: '', missing: undefined })).toBe(
      "host=h application_name='a b\\'c' port=1",
    );
  });

  it('redacts passwords in key=value and URI form', () => {
    expect(redactConninfo("host=a password='x y' user=b")).toBe('host=a password=******** user=b');
    expect(redactConninfo('postgres://u:secret@h:5432/db')).toBe('postgres://u:********@h:5432/db');
  });
});

describe('slotNameForMember', () => {
  it('matches Patroni', () => {
    expect(slotNameForMember('Node-1.dc')).toBe('node_1_dc');
    expect(slotNameForMember('a b')).toBe('au0032b');
    expect(slotNameForMember('x'.repeat(80))).toHaveLength(63);
  });
});

describe('pg_hba', () => {
  it('prefers postgresql.pg_hba, then the cluster config, then bootstrap, then the default', () => {
    const dyn = testDynamicConfig({ pg_hba: ['host all all 10.0.0.0/8 md5'] });
    expect(hbaLines(testConfig({ postgresql: { pg_hba: ['local all all trust'] } }), dyn)).toEqual(['local all all trust']);
    expect(hbaLines(testConfig(), dyn)).toEqual(['host all all 10.0.0.0/8 md5']);
    const boot = { ...testConfig(), bootstrap: { ...testConfig().bootstrap, pg_hba: ['host all all 0.0.0.0/0 md5'] } };
    expect(hbaLines(boot, null)).toEqual(['host all all 0.0.0.0/0 md5']);
    expect(hbaLines(testConfig(), null)).toEqual(defaultHba(testConfig()));
  });

  it('allows replication for the replication user by default, with passwords', () => {
    expect(defaultHba(testConfig()).some((l) => /^host\s+replication\s+replicator\s+all\s+scram-sha-256$/.test(l))).toBe(true);
  });

  it('refuses an entry with a line break', () => {
    expect(() => renderPgHba(['host all all all trust\nlocal all all trust'])).toThrow(/line break/);
  });
});

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

describe('upstreamOfReplicaConf', () => {
  const config = testConfig({ pgpass: "/tmp/it's a pass" });

  it('reads back the host and port renderReplicaConf wrote', () => {
    for (const host of ['10.0.0.1', 'db-1.example.com', 'fe80::1', '/run/pg']) {
      const text = renderReplicaConf({ upstream: { host, port: 6543, name: 'n' }, applicationName: "me o'clock", slotName: 's' }, config);
      expect(upstreamOfReplicaConf(text)).toEqual({ host, port: 6543 });
    }
  });

  it('finds none on a primary, a nostream member or a file without a conninfo', () => {
    expect(upstreamOfReplicaConf(renderReplicaConf(null, config))).toBeNull();
    const s = replicaSettings({ ...config, tags: { nostream: true } }, null, { host: 'h', port: 1, name: 'n' });
    expect(upstreamOfReplicaConf(renderReplicaConf(s, config))).toBeNull();
    expect(upstreamOfReplicaConf('')).toBeNull();
  });

  it('ignores a host it would refuse as an upstream', () => {
    expect(upstreamOfReplicaConf("primary_conninfo = 'host=a,b port=5432'\n")).toBeNull();
    expect(upstreamOfReplicaConf("primary_conninfo = 'host=''*'' port=5432'\n")).toBeNull();
  });

  it('parses conninfo values bare or quoted, with escapes', () => {
    expect(Object.fromEntries(parseConninfo("host = h  port=5 application_name='a b\\'c' x=y\\ z"))).toEqual({
      host: 'h', port: '5', application_name: "a b'c", x: 'y z',
    });
  });
});
