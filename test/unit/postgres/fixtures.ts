// Config builders for the PostgreSQL controller's tests (unit and integration).
import type { Config, DynamicConfig, PostgresqlConfig } from '../../../src/config/types.js';

export function testDynamicConfig(overrides: Partial<DynamicConfig['postgresql']> = {}): DynamicConfig {
  return {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    maximum_lag_on_failover: 1048576,
    maximum_lag_on_syncnode: -1,
    primary_start_timeout: 300,
    primary_stop_timeout: 300,
    synchronous_mode: false,
    synchronous_mode_strict: false,
    synchronous_node_count: 1,
    failsafe_mode: false,
    check_timeline: false,
    pause: false,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: {}, ...overrides },
  };
}

export interface TestConfigOptions {
  readonly name?: string;
  readonly dataDir?: string;
  readonly port?: number;
  readonly pgpass?: string;
  readonly postgresql?: Partial<PostgresqlConfig>;
}

export function testConfig(o: TestConfigOptions = {}): Config {
  const dataDir = o.dataDir ?? '/var/lib/postgresql/15/main';
  const port = o.port ?? 5432;
  const postgresql: PostgresqlConfig = {
    listen: { addresses: '127.0.0.1', port },
    connect_address: { host: '127.0.0.1', port },
    data_dir: dataDir,
    config_dir: dataDir,
    bin_dir: '/usr/lib/postgresql/15/bin',
    pgpass: o.pgpass ?? '/tmp/pgpass0',
    authentication: {
      superuser: { username: 'postgres', password: 'su-secret' },
      replication: { username: 'replicator', password: 'rep-pass' },
      rewind: { username: 'rewind_user', password: 'rw-secret' },
    },
    parameters: {},
    pg_hba: [],
    callbacks: {},
    use_pg_rewind: true,
    remove_data_directory_on_rewind_failure: false,
    create_replica_methods: ['basebackup'],
    basebackup: [],
    ...o.postgresql,
  };
  return {
    scope: 'batman',
    namespace: '/service/',
    name: o.name ?? 'node1',
    log: { level: 'info' },
    restapi: {
      listen: { host: '127.0.0.1', port: 8008 },
      connect_address: { host: '127.0.0.1', port: 8008 },
      allowlist: [],
    },
    etcd3: { hosts: [{ host: '127.0.0.1', port: 2379 }], protocol: 'http' },
    bootstrap: { dcs: testDynamicConfig(), initdb: [{ encoding: 'UTF8' }, 'data-checksums'], pg_hba: [] },
    postgresql,
    tags: {},
    watchdog: { mode: 'off', device: '/dev/watchdog', safety_margin: 5 },
    configFile: '/etc/pg-ha-agent.yml',
  };
}
