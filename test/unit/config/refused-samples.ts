// Samples for the refused keys of the registries (issue 22), shared by the loader tests
// (registry.test.ts) and the REST tests (test/unit/api/config-refused.test.ts).

/** A refused value for every refused key: a key refused later needs one here (and so a test). */
export const REFUSED_LOCAL: Readonly<Record<string, unknown>> = {
  'restapi.auth': 'admin:secret',
  'etcd3.srv': 'example.com',
  'etcd3.srv_suffix': 'x',
  'etcd3.proxy': 'http://proxy:2379',
  'etcd3.key_password': 'pw',
  etcd: { host: '127.0.0.1:2379' },
  consul: { host: 'x' },
  zookeeper: { hosts: ['x'] },
  exhibitor: { hosts: ['x'] },
  kubernetes: { namespace: 'x' },
  raft: { data_dir: 'x' },
  citus: { group: 0 },
  'bootstrap.post_init': '/bin/true',
  'bootstrap.post_bootstrap': '/bin/true',
  'postgresql.pg_ident': ['map a b'],
  'postgresql.custom_conf': '/etc/custom.conf',
  'postgresql.recovery_conf': { restore_command: 'cp' },
  'postgresql.pre_promote': '/bin/fence',
  'postgresql.before_stop': '/bin/true',
  'postgresql.bin_name': { postgres: 'pg' },
  'watchdog.mode': 'required',
};

export const REFUSED_DYNAMIC: Readonly<Record<string, unknown>> = {
  failsafe_mode: true,
  slots: { dr_slot: { type: 'physical' } },
  ignore_slots: [{ name: 'keep_me' }],
  member_slots_ttl: 600,
  standby_cluster: { host: '10.0.0.1', port: 5432 },
  'postgresql.recovery_conf': { restore_command: 'cp' },
  'postgresql.pg_ident': ['map a b'],
};

/** The "off" values of refused features stay accepted. */
export const ACCEPTED_DYNAMIC: Readonly<Record<string, unknown>> = {
  synchronous_mode: false,
  synchronous_mode_strict: true,
  synchronous_node_count: 2,
  maximum_lag_on_syncnode: 1048576,
  failsafe_mode: false,
  slots: {},
  ignore_slots: [],
};

/** `{a: {b: value}}` for path "a.b". */
export function nested(path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  return keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}
