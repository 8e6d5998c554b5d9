// The shape of Patroni's YAML as pg-ha-agent supports it: which keys exist and their value types.
// Whether the agent acts on, ignores or refuses each key is registry-local.ts / registry-dynamic.ts. One tree drives
// the unknown-key check, "did you mean" hints, type checks and PGHA_/PATRONI_ env mapping.

export type LeafType =
  | 'string'
  | 'boolean'
  | 'integer'
  | 'number'
  /** string, number or boolean (parameters, user tags) */
  | 'scalar'
  | 'string-list'
  | 'string-or-list'
  /** checked by the section builder (initdb/basebackup options, watchdog mode, ...) */
  | 'any';

export interface LeafSpec {
  readonly kind: 'leaf';
  readonly type: LeafType;
  /** Never echo the value (passwords). */
  readonly secret?: boolean;
}

export interface SectionSpec {
  readonly kind: 'section';
  readonly keys: Readonly<Record<string, Spec>>;
  /** Spec of keys not listed (free-form maps such as parameters and user tags). */
  readonly open?: Spec;
}

/** A subtree validated by its own function (bootstrap.dcs -> validateDynamicConfig). */
export interface DelegateSpec {
  readonly kind: 'delegate';
  readonly target: SectionSpec;
}

export type Spec = LeafSpec | SectionSpec | DelegateSpec;

const leaf = (type: LeafType, secret = false): LeafSpec => (secret ? { kind: 'leaf', type, secret } : { kind: 'leaf', type });
const section = (keys: Record<string, Spec>, open?: Spec): SectionSpec => (open ? { kind: 'section', keys, open } : { kind: 'section', keys });
const str = leaf('string');
const bool = leaf('boolean');
const secret = leaf('string', true);

export const DYNAMIC_SCHEMA: SectionSpec = section({
  ttl: leaf('integer'),
  loop_wait: leaf('number'),
  retry_timeout: leaf('number'),
  maximum_lag_on_failover: leaf('integer'),
  maximum_lag_on_syncnode: leaf('integer'),
  primary_start_timeout: leaf('number'),
  primary_stop_timeout: leaf('number'),
  master_start_timeout: leaf('number'),
  master_stop_timeout: leaf('number'),
  synchronous_mode: leaf('any'),
  synchronous_mode_strict: bool,
  synchronous_node_count: leaf('integer'),
  failsafe_mode: bool,
  slots: leaf('any'),
  ignore_slots: leaf('any'),
  check_timeline: bool,
  pause: bool,
  postgresql: section({
    use_pg_rewind: bool,
    use_slots: bool,
    parameters: section({}, leaf('scalar')),
    pg_hba: leaf('string-list'),
  }),
});

const credentials = section({
  username: str,
  password: secret,
  sslmode: str,
  sslcert: str,
  sslkey: str,
  sslpassword: secret,
  sslrootcert: str,
  sslcrl: str,
  sslcrldir: str,
  gssencmode: str,
  channel_binding: str,
});

export const CALLBACK_NAMES = ['on_start', 'on_stop', 'on_restart', 'on_role_change', 'on_reload'] as const;

export const LOCAL_SCHEMA: SectionSpec = section({
  scope: str,
  namespace: str,
  name: str,
  log: section({ level: str }),
  restapi: section({
    listen: str,
    connect_address: str,
    authentication: section({ username: str, password: secret }),
    certfile: str,
    keyfile: str,
    keyfile_password: secret,
    cafile: str,
    verify_client: str,
    allowlist: leaf('string-list'),
  }),
  etcd3: section({
    host: str,
    hosts: leaf('string-or-list'),
    port: leaf('integer'),
    url: str,
    protocol: str,
    username: str,
    password: secret,
    cacert: str,
    cert: str,
    key: str,
  }),
  bootstrap: section({
    dcs: { kind: 'delegate', target: DYNAMIC_SCHEMA },
    method: str,
    initdb: leaf('any'),
    pg_hba: leaf('string-list'),
  }),
  postgresql: section({
    listen: str,
    connect_address: str,
    data_dir: str,
    config_dir: str,
    bin_dir: str,
    pgpass: str,
    authentication: section({ superuser: credentials, replication: credentials, rewind: credentials }),
    parameters: section({}, leaf('scalar')),
    pg_hba: leaf('string-list'),
    callbacks: section(Object.fromEntries(CALLBACK_NAMES.map((n) => [n, str]))),
    use_pg_rewind: bool,
    remove_data_directory_on_rewind_failure: bool,
    create_replica_methods: leaf('string-list'),
    basebackup: leaf('any'),
  }),
  tags: section(
    {
      nofailover: bool,
      failover_priority: leaf('integer'),
      noloadbalance: bool,
      clonefrom: bool,
      nosync: bool,
      nostream: bool,
      sync_priority: leaf('integer'),
      replicatefrom: str,
    },
    leaf('scalar'),
  ),
  watchdog: section({ mode: leaf('any'), device: str, safety_margin: leaf('integer') }),
  /** Read by agentctl (src/cli/ctl-config.ts), which checks it; the agent does not use it. */
  ctl: leaf('any'),
});

/** Every key path the schema names (for "did you mean" across sections). */
export function schemaPaths(spec: SectionSpec, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(spec.keys)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push(path);
    if (child.kind === 'section') out.push(...schemaPaths(child, path));
    if (child.kind === 'delegate') out.push(...schemaPaths(child.target, path));
  }
  return out;
}
