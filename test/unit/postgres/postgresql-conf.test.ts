import { describe, expect, it } from 'vitest';
import { confValue, managedParameters, renderPostgresqlConf } from '../../../src/postgres/postgresql-conf.js';
import { PgError } from '../../../src/postgres/errors.js';
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
