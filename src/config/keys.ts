// Patroni keys that pg-ha-agent does not act on. Two kinds, both deliberate and documented in
// docs/configuration.md: accepted-and-ignored (harmless to drop: tuning of Patroni's Python
// runtime, log formatting, ...) and unsupported (dropping them silently would change behaviour
// the operator relies on, so they are start-up errors with a way out).

/** Local keys accepted and ignored (a warning is logged at start-up). Path -> why. */
export const IGNORED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  thread_pool_size: "Patroni's Python thread pool; the agent is event driven",
  thread_stack_size: "Patroni's Python thread stacks",
  'log.type': 'the agent always writes one JSON line per event to stdout',
  'log.format': 'the agent always writes one JSON line per event to stdout',
  'log.dateformat': 'timestamps are ISO 8601',
  'log.static_fields': 'base fields are node and scope',
  'log.traceback_level': 'errors are logged with their stack at every level',
  'log.max_queue_size': 'no log queue: lines are written synchronously',
  'log.dir': 'logs go to stdout (journald); no log files',
  'log.mode': 'logs go to stdout (journald); no log files',
  'log.file_num': 'logs go to stdout (journald); no log files',
  'log.file_size': 'logs go to stdout (journald); no log files',
  'log.loggers': 'one level for the whole agent (log.level)',
  'log.deduplicate_heartbeat_logs': 'routine ticks are logged at debug level already',
  'restapi.http_extra_headers': 'extra response headers are not sent',
  'restapi.https_extra_headers': 'extra response headers are not sent',
  'restapi.request_queue_size': 'the REST server has no fixed request queue',
  'restapi.server_tokens': 'the REST server sends no Server header',
  'restapi.ciphers': "Node's default TLS cipher list applies",
  'restapi.allowlist_include_members': 'only restapi.allowlist is applied (stricter)',
  ctl: "client settings for agentctl (and patronictl): the agent ignores them; agentctl reads ctl.* over restapi.* (docs/agentctl.md)",
  'etcd3.use_proxies': 'the configured endpoints are always used as given (no discovery)',
  'bootstrap.users': 'removed in Patroni 4; create roles after bootstrap',
  'postgresql.pg_ctl_timeout': 'start/stop are bounded by primary_start_timeout and retry_timeout',
  'postgresql.use_unix_socket': 'the agent connects to PostgreSQL over TCP',
  'postgresql.use_unix_socket_repl': 'replication connects over TCP to connect_address',
  'postgresql.proxy_address': 'not published (service discovery only in Patroni)',
  'postgresql.use_slots': 'use_slots is cluster-wide: set bootstrap.dcs.postgresql.use_slots',
  'postgresql.remove_data_directory_on_diverged_timelines': 'the agent never removes a data directory for a diverged timeline',
  'postgresql.krbsrvname': 'Kerberos service name of Patroni 3.x; use PGKRBSRVNAME in the environment',
});

const ONLY_ETCD3 = 'only etcd3 is supported as the DCS: replace this section with an etcd3 section';

/** Local keys rejected with a start-up error. Path -> message. */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  etcd: "the etcd section is Patroni's etcd v2 client; pg-ha-agent speaks the etcd v3 API only: rename the section to etcd3 (same keys)",
  consul: ONLY_ETCD3,
  zookeeper: ONLY_ETCD3,
  exhibitor: ONLY_ETCD3,
  kubernetes: ONLY_ETCD3,
  raft: ONLY_ETCD3,
  citus: 'Citus clusters are not supported',
  'restapi.auth': 'the old "user:password" form is not supported: use restapi.authentication.username and .password',
  'etcd3.srv': 'DNS SRV discovery is not supported: list the endpoints in etcd3.hosts',
  'etcd3.srv_suffix': 'DNS SRV discovery is not supported: list the endpoints in etcd3.hosts',
  'etcd3.proxy': 'etcd proxies are not supported: list the endpoints in etcd3.hosts',
  'etcd3.key_password': 'encrypted etcd client keys are not supported: give an unencrypted etcd3.key (mode 0600)',
  'bootstrap.post_init': 'post-bootstrap scripts are not supported: run the script once the cluster is up',
  'bootstrap.post_bootstrap': 'post-bootstrap scripts are not supported: run the script once the cluster is up',
  'postgresql.pg_ident': 'pg_ident.conf is not managed: maintain it yourself and point parameters.ident_file at it',
  'postgresql.custom_conf': 'custom_conf is not supported: put the settings in postgresql.parameters',
  'postgresql.recovery_conf': 'recovery_conf is not supported: set restore_command and friends in postgresql.parameters',
  'postgresql.pre_promote': 'pre_promote scripts are not supported (use callbacks.on_role_change)',
  'postgresql.before_stop': 'before_stop scripts are not supported (use callbacks.on_stop)',
  'postgresql.bin_name': 'renamed PostgreSQL binaries are not supported: use bin_dir',
});

/** bootstrap.dcs / etcd `config` keys stored and handed back unchanged, not acted upon. */
export const DYNAMIC_PASSTHROUGH_KEYS: Readonly<Record<string, string>> = Object.freeze({
  max_timelines_history: 'the full history is kept',
  member_slots_ttl: 'slots of departed members are dropped when the member key is gone',
  slots: 'permanent replication slots are not created',
  ignore_slots: 'slots the agent does not manage are left alone anyway',
});

/** Dynamic keys rejected (in bootstrap.dcs, PATCH /config and edit-config). Path -> message. */
export const DYNAMIC_UNSUPPORTED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  standby_cluster: 'standby clusters are not supported',
  'postgresql.recovery_conf': 'recovery_conf is not supported: set restore_command and friends in postgresql.parameters',
  'postgresql.pg_ident': 'pg_ident.conf is not managed: maintain it yourself and point parameters.ident_file at it',
});
