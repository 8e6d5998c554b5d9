import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { FIXTURES, PG15_BIN, baseRaw, check, fakeProbe } from './helpers.js';

const opts = { cwd: '/home/patroni', probe: fakeProbe() };

function fixture(name: string): string {
  return readFileSync(`${FIXTURES}/${name}`, 'utf8');
}

describe("Patroni's example configs (etcd switched to etcd3)", () => {
  it.each(['postgres0.yml', 'postgres1.yml', 'postgres2.yml'])('%s loads without change', (file) => {
    const warnings: string[] = [];
    const config = parseConfig(fixture(file), {}, { ...opts, onWarning: (w) => warnings.push(w.path) });
    expect(config.scope).toBe('batman');
    expect(config.etcd3.hosts).toEqual([{ host: '127.0.0.1', port: 2379 }]);
    // Relative data_dir means what it means in Patroni: relative to the working directory.
    expect(config.postgresql.data_dir).toMatch(/^\/home\/patroni\/data\/postgresql[012]$/);
    expect(config.postgresql.bin_dir).toBe(PG15_BIN); // found in Debian's layout
    expect(config.postgresql.authentication.replication).toEqual({ username: 'replicator', password: 'rep-pass' });
    expect(config.postgresql.authentication.rewind?.username).toBe('rewind_user');
    expect(config.bootstrap.dcs.postgresql.use_pg_rewind).toBe(true);
    expect(config.bootstrap.initdb).toEqual([{ encoding: 'UTF8' }, 'data-checksums']);
    expect(config.postgresql.parameters['unix_socket_directories']).toBe('..');
    // bootstrap.users: removed in Patroni 4; replicatefrom: cascading is not built yet. Both ignored.
    expect(warnings).toEqual(file === 'postgres2.yml' ? ['bootstrap.users', 'tags.replicatefrom'] : ['bootstrap.users']);
  });

  it('reads the per-node differences', () => {
    const one = parseConfig(fixture('postgres1.yml'), {}, opts);
    expect(one.postgresql.basebackup).toEqual(['verbose', { 'max-rate': '100M' }]);
    expect(one.restapi.listen).toEqual({ host: '127.0.0.1', port: 8009 });
    const two = parseConfig(fixture('postgres2.yml'), {}, opts);
    expect(two.restapi.authentication).toEqual({ username: 'username', password: 'password' });
    expect(two.tags.replicatefrom).toBe('postgres1');
  });

  it('the unmodified file (with etcd:) is rejected with the rename hint', () => {
    const original = fixture('postgres0.yml').replace(/^etcd3:$/m, 'etcd:');
    const r = check(original);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ path: 'etcd', message: expect.stringContaining('rename the section to etcd3') }]);
  });
});

describe('the 3-node test cluster configs', () => {
  it.each([1, 2, 3])('node%i.yml is valid with the benchmark timings', (n) => {
    const c = parseConfig(fixture(`node${n}.yml`), {}, opts);
    expect(c.name).toBe(`node${n}`);
    expect(c.bootstrap.dcs).toMatchObject({ ttl: 10, loop_wait: 2, retry_timeout: 4 });
    expect(c.etcd3.hosts).toHaveLength(3);
    expect(c.restapi.listen.port).toBe(8007 + n);
    expect(c.postgresql.listen).toEqual({ addresses: '127.0.0.1', port: 5431 + n });
    expect(c.restapi.allowlist).toEqual(['127.0.0.1/32', '::1/128']);
    expect(c.bootstrap.dcs.postgresql.pg_hba).toHaveLength(2);
    // YAML 1.1 as in PyYAML: `on` is a boolean, `mode: off` is false -> 'off'.
    expect(c.bootstrap.dcs.postgresql.parameters['hot_standby']).toBe(true);
    expect(c.watchdog.mode).toBe('off');
    expect(c.tags['zone']).toBe(`zone-${n}`);
  });

  it('node3 is the nofailover reporting node', () => {
    expect(parseConfig(fixture('node3.yml'), {}, opts).tags).toMatchObject({ nofailover: true, noloadbalance: true });
  });
});

describe('defaults', () => {
  const minimal = (): Config => parseConfig({
    scope: 's', name: 'n',
    restapi: { listen: '10.0.0.5:8008' },
    etcd3: { host: 'etcd1' },
    postgresql: {
      listen: '10.0.0.5:5432', data_dir: 'pgdata',
      authentication: { superuser: { username: 'postgres' }, replication: { username: 'replicator' } },
    },
  }, { PATH: '/usr/bin' }, { cwd: '/var/lib/pg', probe: fakeProbe() });

  it('fills Patroni defaults and documented choices', () => {
    const c = minimal();
    expect(c.namespace).toBe('/service/');
    expect(c.log.level).toBe('info');
    expect(c.bootstrap.dcs).toMatchObject({
      ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, maximum_lag_on_syncnode: -1,
      primary_start_timeout: 300, primary_stop_timeout: 0, synchronous_mode: false, synchronous_mode_strict: false,
      synchronous_node_count: 1, failsafe_mode: false, check_timeline: false, pause: false,
      postgresql: { use_pg_rewind: false, use_slots: true, parameters: {} },
    });
    expect(c.etcd3).toEqual({ hosts: [{ host: 'etcd1', port: 2379 }], protocol: 'http' });
    expect(c.restapi.connect_address).toEqual({ host: '10.0.0.5', port: 8008 });
    expect(c.postgresql.connect_address).toEqual({ host: '10.0.0.5', port: 5432 });
    expect(c.postgresql.data_dir).toBe('/var/lib/pg/pgdata');
    expect(c.postgresql.config_dir).toBe('/var/lib/pg/pgdata');
    expect(c.postgresql.pgpass).toBe('/var/lib/pg/pgpass_n');
    expect(c.postgresql.bin_dir).toBe(PG15_BIN);
    expect(c.postgresql.create_replica_methods).toEqual(['basebackup']);
    expect(c.postgresql.use_pg_rewind).toBe(false);
    expect(c.watchdog).toEqual({ mode: 'off', device: '/dev/watchdog', safety_margin: 5 });
    expect(c.tags).toEqual({});
    expect(c.bootstrap.initdb).toEqual([]);
  });

  it('normalizes the namespace and accepts master_start_timeout (Patroni 3)', () => {
    const c = parseConfig({ ...baseRaw(), namespace: 'db', bootstrap: { dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4, master_start_timeout: 60 } } }, {}, opts);
    expect(c.namespace).toBe('/db/');
    expect(c.bootstrap.dcs.primary_start_timeout).toBe(60);
    expect(c.bootstrap.dcs['master_start_timeout']).toBe(60); // kept as written (issue 23)
  });

  it('takes pg_ctl from PATH before the Debian layout', () => {
    const probe = fakeProbe({ binDirs: ['/opt/pg/bin', PG15_BIN] });
    const raw = { ...baseRaw(), postgresql: { ...(baseRaw()['postgresql'] as object), bin_dir: null } };
    const c = parseConfig(raw, { PATH: '/usr/bin:/opt/pg/bin' }, { probe });
    expect(c.postgresql.bin_dir).toBe('/opt/pg/bin');
  });
});

describe('the result', () => {
  it('is deeply frozen: mutation throws', () => {
    const c = parseConfig(baseRaw(), {}, opts);
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => { (c as { scope: string }).scope = 'other'; }).toThrow(TypeError);
    expect(() => { (c.postgresql.parameters as Record<string, string>)['x'] = 'y'; }).toThrow(TypeError);
    expect(() => { (c.etcd3.hosts as unknown as unknown[]).push({}); }).toThrow(TypeError);
    expect(() => { (c.bootstrap.dcs as { ttl: number }).ttl = 1; }).toThrow(TypeError);
  });

  it('loadConfig records the absolute file path; a missing file is a ConfigError', async () => {
    const c = await loadConfig(`${FIXTURES}/node1.yml`, {}, opts);
    expect(c.configFile).toBe(resolve(FIXTURES, 'node1.yml'));
    expect(c.configFile.endsWith('/test/fixtures/config/node1.yml')).toBe(true);
    await expect(loadConfig('/nonexistent/pgha.yml', {}, opts)).rejects.toSatisfy((e: unknown) =>
      e instanceof ConfigError && e.problems[0]!.message === 'cannot read config file /nonexistent/pgha.yml: no such file');
  });
});
