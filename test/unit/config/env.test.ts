import { describe, expect, it } from 'vitest';
import { envTarget } from '../../../src/config/env.js';
import { parseConfig } from '../../../src/config/load.js';
import { baseRaw, check, edit, fakeProbe, problemsOf } from './helpers.js';

const opts = { cwd: '/srv/cwd', probe: fakeProbe() };

describe('environment overrides', () => {
  it('PGHA_<SECTION>_<KEY> overrides the file, typed by the key', () => {
    const c = parseConfig(baseRaw(), {
      PGHA_NAME: 'node9',
      PGHA_SCOPE: 'other',
      PGHA_NAMESPACE: '/db',
      PGHA_ETCD3_HOSTS: '10.0.0.1:2379, 10.0.0.2:2379,10.0.0.3',
      PGHA_RESTAPI_LISTEN: '127.0.0.1:9008',
      PGHA_RESTAPI_CONNECT_ADDRESS: '127.0.0.1:9008',
      PGHA_POSTGRESQL_LISTEN: '127.0.0.1:6432',
      PGHA_POSTGRESQL_CONNECT_ADDRESS: '127.0.0.1:6432',
      PGHA_POSTGRESQL_DATA_DIR: 'relative/data',
      PGHA_POSTGRESQL_BIN_DIR: '/usr/lib/postgresql/15/bin',
      PGHA_REPLICATION_USERNAME: 'repl2',
      PGHA_REPLICATION_PASSWORD: 'env-rep-pass',
      PGHA_SUPERUSER_USERNAME: 'admin',
      PGHA_SUPERUSER_PASSWORD: 'env-super-pass',
      PGHA_REWIND_USERNAME: 'rewinder',
      PGHA_REWIND_SSLMODE: 'require',
      PGHA_TAGS_NOFAILOVER: 'true',
      PGHA_TAGS_FAILOVER_PRIORITY: '3',
      PGHA_TAGS_ZONE: 'eu-1',
      PGHA_BOOTSTRAP_DCS_TTL: '20',
      PGHA_BOOTSTRAP_DCS_POSTGRESQL_PARAMETERS_MAX_CONNECTIONS: '200',
      PGHA_WATCHDOG_MODE: 'automatic',
      PGHA_LOG_LEVEL: 'DEBUG',
    }, opts);
    expect(c.name).toBe('node9');
    expect(c.scope).toBe('other');
    expect(c.namespace).toBe('/db/');
    expect(c.etcd3.hosts).toEqual([{ host: '10.0.0.1', port: 2379 }, { host: '10.0.0.2', port: 2379 }, { host: '10.0.0.3', port: 2379 }]);
    expect(c.restapi.listen.port).toBe(9008);
    expect(c.postgresql.listen).toEqual({ addresses: '127.0.0.1', port: 6432 });
    expect(c.postgresql.data_dir).toBe('/srv/cwd/relative/data');
    expect(c.postgresql.authentication.replication).toEqual({ username: 'repl2', password: 'env-rep-pass' });
    expect(c.postgresql.authentication.superuser).toEqual({ username: 'admin', password: 'env-super-pass' });
    expect(c.postgresql.authentication.rewind).toEqual({ username: 'rewinder', sslmode: 'require' });
    expect(c.tags).toEqual({ nofailover: true, failover_priority: 3, zone: 'eu-1' });
    expect(c.bootstrap.dcs.ttl).toBe(20);
    expect(c.bootstrap.dcs.postgresql.parameters['max_connections']).toBe('200');
    expect(c.watchdog.mode).toBe('automatic');
    expect(c.log.level).toBe('debug');
  });

  it("accepts Patroni's PATRONI_* names, and PGHA_* wins over them", () => {
    const c = parseConfig(baseRaw(), {
      PATRONI_NAME: 'from-patroni',
      PATRONI_ETCD3_HOSTS: "['10.1.0.1:2379','10.1.0.2:2379']",
      PATRONI_POSTGRESQL_DATA_DIR: '/patroni/data',
      PGHA_POSTGRESQL_DATA_DIR: '/pgha/data',
      PATRONI_SUPERUSER_PASSWORD: 'p-super',
      PATRONI_RESTAPI_USERNAME: 'api',
      PATRONI_RESTAPI_PASSWORD: 'api-pass',
      PATRONI_LOGLEVEL: 'WARNING',
      PATRONI_admin_PASSWORD: 'bootstrap-user-ignored',
    }, opts);
    expect(c.name).toBe('from-patroni');
    expect(c.etcd3.hosts.map((h) => h.host)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(c.postgresql.data_dir).toBe('/pgha/data');
    expect(c.postgresql.authentication.superuser.password).toBe('p-super');
    expect(c.restapi.authentication).toEqual({ username: 'api', password: 'api-pass' });
    expect(c.log.level).toBe('warn');
  });

  it('an env value that cannot be read is a problem named by the variable', () => {
    const problems = problemsOf(baseRaw(), { PGHA_TAGS_NOFAILOVER: 'perhaps', PGHA_BOOTSTRAP_DCS_TTL: 'ten' });
    expect(problems).toEqual(expect.arrayContaining([
      { path: 'PGHA_TAGS_NOFAILOVER', message: expect.stringContaining('cannot be read as a boolean') },
      { path: 'PGHA_BOOTSTRAP_DCS_TTL', message: expect.stringContaining('integer') },
    ]));
  });

  it('problems in env-set values say which variable set them', () => {
    const problems = problemsOf(baseRaw(), { PGHA_RESTAPI_LISTEN: '127.0.0.1:99999' });
    expect(problems).toEqual([{ path: 'restapi.listen', message: expect.stringContaining('(value from PGHA_RESTAPI_LISTEN)') }]);
  });

  it("PATRONI_ETCD_HOST (Patroni's v2 section) leads to the etcd3 hint", () => {
    const problems = problemsOf(edit(['etcd3', undefined]), { PATRONI_ETCD_HOST: '127.0.0.1:2379' });
    expect(problems).toEqual([{ path: 'etcd', message: expect.stringContaining('rename the section to etcd3') }]);
  });

  it('warns about a PGHA_ variable that names no key, with a hint', () => {
    const r = check(baseRaw(), { PGHA_POSTGRESQL_DATADIR: '/x', PGHA_CONFIG: '/etc/pgha.yml' });
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([{ path: 'PGHA_POSTGRESQL_DATADIR', message: expect.stringContaining('did you mean PGHA_POSTGRESQL_DATA_DIR?') }]);
  });

  it('maps suffixes to key paths through the schema', () => {
    expect(envTarget('POSTGRESQL_USE_PG_REWIND')?.path).toEqual(['postgresql', 'use_pg_rewind']);
    expect(envTarget('RESTAPI_ALLOWLIST')?.leaf.type).toBe('string-list');
    expect(envTarget('LOG_FORMAT')?.path).toEqual(['log', 'format']); // accepted-and-ignored keys too
    expect(envTarget('NOT_A_KEY')).toBeUndefined();
  });
});
