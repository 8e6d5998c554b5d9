// The validated, frozen configuration. Key names follow Patroni's YAML (snake_case) on purpose:
// the file, the etcd `config` key and the REST `/config` body all speak that dialect, and one
// spelling end to end keeps the mapping obvious.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Credentials {
  readonly username: string;
  readonly password?: string;
  /** libpq connection options Patroni accepts next to username/password (passed through to conninfo). */
  readonly sslmode?: string;
  readonly sslcert?: string;
  readonly sslkey?: string;
  readonly sslpassword?: string;
  readonly sslrootcert?: string;
  readonly sslcrl?: string;
  readonly sslcrldir?: string;
  readonly gssencmode?: string;
  readonly channel_binding?: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type TagValue = string | number | boolean | null;

export interface Tags {
  readonly nofailover?: boolean;
  readonly failover_priority?: number;
  readonly noloadbalance?: boolean;
  readonly clonefrom?: boolean;
  readonly nosync?: boolean;
  readonly nostream?: boolean;
  readonly sync_priority?: number;
  readonly replicatefrom?: string;
  readonly [userTag: string]: TagValue | undefined;
}

/** The dynamic configuration kept in etcd's `config` key (seeded from bootstrap.dcs). */
export interface DynamicConfig {
  readonly ttl: number;
  readonly loop_wait: number;
  readonly retry_timeout: number;
  readonly maximum_lag_on_failover: number;
  readonly maximum_lag_on_syncnode: number;
  readonly primary_start_timeout: number;
  readonly primary_stop_timeout: number;
  /** false, true (FIRST n) or 'quorum' (ANY k, promotion by votes). */
  readonly synchronous_mode: boolean | 'quorum';
  readonly synchronous_mode_strict: boolean;
  readonly synchronous_node_count: number;
  readonly failsafe_mode: boolean;
  readonly check_timeline: boolean;
  readonly pause: boolean;
  readonly postgresql: {
    readonly use_pg_rewind: boolean;
    readonly use_slots: boolean;
    readonly parameters: Readonly<Record<string, string | number | boolean>>;
    readonly pg_hba?: readonly string[];
  };
  /** Keys we store and hand back unchanged (Patroni keys we accept but do not act on). */
  readonly [other: string]: unknown;
}

export type CallbackName = 'on_start' | 'on_stop' | 'on_restart' | 'on_role_change' | 'on_reload';

export interface PostgresqlConfig {
  /** Addresses PostgreSQL listens on (comma separated, as `listen_addresses`) and its port. */
  readonly listen: { readonly addresses: string; readonly port: number };
  readonly connect_address: HostPort;
  readonly data_dir: string;
  readonly config_dir: string;
  readonly bin_dir: string;
  readonly pgpass: string;
  readonly authentication: {
    readonly superuser: Credentials;
    readonly replication: Credentials;
    readonly rewind?: Credentials;
  };
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly pg_hba: readonly string[];
  readonly callbacks: Readonly<Partial<Record<CallbackName, string>>>;
  readonly use_pg_rewind: boolean;
  readonly remove_data_directory_on_rewind_failure: boolean;
  readonly create_replica_methods: readonly string[];
  readonly basebackup: readonly (string | Readonly<Record<string, string>>)[];
}

export interface RestApiConfig {
  readonly listen: HostPort;
  readonly connect_address: HostPort;
  readonly authentication?: { readonly username: string; readonly password: string };
  readonly certfile?: string;
  readonly keyfile?: string;
  /** Passphrase of an encrypted keyfile (TLS `passphrase`). */
  readonly keyfile_password?: string;
  readonly cafile?: string;
  readonly verify_client?: 'none' | 'optional' | 'required';
  readonly allowlist: readonly string[];
}

export interface Etcd3Config {
  readonly hosts: readonly HostPort[];
  readonly protocol: 'http' | 'https';
  readonly username?: string;
  readonly password?: string;
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface WatchdogConfig {
  readonly mode: 'off' | 'automatic' | 'required';
  readonly device: string;
  readonly safety_margin: number;
}

export interface Config {
  readonly scope: string;
  /** Always starts and ends with '/', e.g. '/service/'. */
  readonly namespace: string;
  readonly name: string;
  readonly log: { readonly level: LogLevel };
  readonly restapi: RestApiConfig;
  readonly etcd3: Etcd3Config;
  readonly bootstrap: {
    readonly dcs: DynamicConfig;
    readonly initdb: readonly (string | Readonly<Record<string, string>>)[];
    readonly pg_hba: readonly string[];
  };
  readonly postgresql: PostgresqlConfig;
  readonly tags: Tags;
  readonly watchdog: WatchdogConfig;
  /** Path of the file this config was loaded from (absolute), for SIGHUP reloads. */
  readonly configFile: string;
}
