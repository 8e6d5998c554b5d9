// Status of every key of the local YAML file (bootstrap.dcs is in registry-dynamic.ts). An entry
// decides its own path and, for sections, every key under it. docs/configuration.md lists this
// table; test/unit/config/registry.test.ts holds it against the schema.
import { CALLBACK_NAMES } from './schema.js';
import { acted, differs, ignored, isTrue, nonEmpty, refusedFor, refusedYet, type Cond, type Registry } from './registry.js';
import { isPlainObject } from './walk.js';

const V1 = '0.1.0';
const V2 = '0.2.0';
const ONLY_ETCD3 = 'only etcd3 is supported as the DCS: replace this section with an etcd3 section';
const NO_WATCHDOG = 'the agent uses no watchdog (watchdog.mode: required is refused)';

/** Any callback set to a command (an empty `callbacks:` or empty commands stay accepted). */
const someCallback: Cond = {
  test: (v) => isPlainObject(v) && CALLBACK_NAMES.some((n) => typeof v[n] === 'string' && v[n].trim() !== ''),
  text: 'any command set',
};

const isRequired: Cond = { test: (v) => typeof v === 'string' && ['require', 'required'].includes(v.trim().toLowerCase()), text: 'required' };

export const LOCAL_REGISTRY: Registry = Object.freeze({
  scope: acted(V1, 'cluster name; part of every etcd key'),
  namespace: acted(V1, 'etcd key prefix'),
  name: acted(V1, "this member's name"),
  'log.level': acted(V1, 'log level'),
  'log.type': ignored(V1, 'the agent always writes one JSON line per event to stdout'),
  'log.format': ignored(V1, 'the agent always writes one JSON line per event to stdout'),
  'log.dateformat': ignored(V1, 'timestamps are ISO 8601'),
  'log.static_fields': ignored(V1, 'base fields are node and scope'),
  'log.traceback_level': ignored(V1, 'errors are logged with their stack at every level'),
  'log.max_queue_size': ignored(V1, 'no log queue: lines are written synchronously'),
  'log.dir': ignored(V1, 'logs go to stdout (journald); no log files'),
  'log.mode': ignored(V1, 'logs go to stdout (journald); no log files'),
  'log.file_num': ignored(V1, 'logs go to stdout (journald); no log files'),
  'log.file_size': ignored(V1, 'logs go to stdout (journald); no log files'),
  'log.loggers': ignored(V1, 'one level for the whole agent (log.level)'),
  'log.deduplicate_heartbeat_logs': ignored(V1, 'routine ticks are logged at debug level already'),
  thread_pool_size: ignored(V1, "Patroni's Python thread pool; the agent is event driven"),
  thread_stack_size: ignored(V1, "Patroni's Python thread stacks"),

  'restapi.listen': acted(V1, 'address the REST API listens on'),
  'restapi.connect_address': acted(V1, 'address other members and HAProxy use'),
  'restapi.authentication': acted(V1, 'basic auth for mutating requests; without it they are accepted from loopback and restapi.allowlist only'),
  'restapi.certfile': acted(V1, 'serve HTTPS'),
  'restapi.keyfile': acted(V1, 'private key of certfile'),
  'restapi.keyfile_password': acted(V2, 'passphrase of an encrypted keyfile (REST server and agentctl)'),
  'restapi.cafile': acted(V1, 'CA for client certificates'),
  'restapi.verify_client': acted(V1, 'client certificate policy'),
  'restapi.allowlist': acted(V1, 'addresses allowed to call mutating endpoints (without restapi.authentication: in addition to loopback, the only ones)'),
  'restapi.http_extra_headers': ignored(V1, 'extra response headers are not sent'),
  'restapi.https_extra_headers': ignored(V1, 'extra response headers are not sent'),
  'restapi.request_queue_size': ignored(V1, 'the REST server has no fixed request queue'),
  'restapi.server_tokens': ignored(V1, 'the REST server sends no Server header'),
  'restapi.ciphers': ignored(V1, "Node's default TLS cipher list applies"),
  'restapi.allowlist_include_members': ignored(V1, 'only restapi.allowlist is applied (stricter)'),
  'restapi.auth': refusedFor(V1, 'the old "user:password" form is not supported: use restapi.authentication.username and .password'),

  ctl: acted(V2, 'client settings read by agentctl (and patronictl) over restapi.*; the agent itself does not use them'),

  'etcd3.host': acted(V1, 'one etcd endpoint'),
  'etcd3.hosts': acted(V1, 'etcd endpoints'),
  'etcd3.port': acted(V1, 'port for endpoints without one'),
  'etcd3.url': acted(V1, 'one etcd endpoint as a URL'),
  'etcd3.protocol': acted(V1, 'http or https'),
  'etcd3.username': acted(V1, 'etcd user'),
  'etcd3.password': acted(V1, 'etcd password'),
  'etcd3.cacert': acted(V1, 'CA of the etcd servers'),
  'etcd3.cert': acted(V1, 'etcd client certificate'),
  'etcd3.key': acted(V1, 'etcd client key'),
  'etcd3.use_proxies': ignored(V1, 'the configured endpoints are always used as given (no discovery)'),
  'etcd3.srv': refusedFor(V1, 'DNS SRV discovery is not supported: list the endpoints in etcd3.hosts'),
  'etcd3.srv_suffix': refusedFor(V1, 'DNS SRV discovery is not supported: list the endpoints in etcd3.hosts'),
  'etcd3.proxy': refusedFor(V1, 'etcd proxies are not supported: list the endpoints in etcd3.hosts'),
  'etcd3.key_password': refusedFor(V1, 'encrypted etcd client keys are not supported: give an unencrypted etcd3.key (mode 0600)'),
  etcd: refusedFor(V1, "the etcd section is Patroni's etcd v2 client; pg-ha-agent speaks the etcd v3 API only: rename the section to etcd3 (same keys)"),
  consul: refusedFor(V1, ONLY_ETCD3),
  zookeeper: refusedFor(V1, ONLY_ETCD3),
  exhibitor: refusedFor(V1, ONLY_ETCD3),
  kubernetes: refusedFor(V1, ONLY_ETCD3),
  raft: refusedFor(V1, ONLY_ETCD3),
  citus: refusedFor(V1, 'Citus clusters are not supported'),

  'bootstrap.dcs': acted(V1, 'seeds etcd\'s config key (each key: see the dynamic table)'),
  'bootstrap.method': acted(V1, 'initdb (other methods are refused by value)'),
  'bootstrap.initdb': acted(V1, 'initdb options'),
  'bootstrap.pg_hba': acted(V1, 'pg_hba.conf lines after initdb'),
  'bootstrap.users': ignored(V1, 'removed in Patroni 4; create roles after bootstrap'),
  'bootstrap.post_init': refusedFor(V1, 'post-bootstrap scripts are not supported: run the script once the cluster is up'),
  'bootstrap.post_bootstrap': refusedFor(V1, 'post-bootstrap scripts are not supported: run the script once the cluster is up'),

  'postgresql.listen': acted(V1, 'listen_addresses and port'),
  'postgresql.connect_address': acted(V1, 'address members replicate from'),
  'postgresql.data_dir': acted(V1, 'data directory'),
  'postgresql.config_dir': acted(V1, 'where postgresql.conf is written'),
  'postgresql.bin_dir': acted(V1, 'PostgreSQL binaries'),
  'postgresql.pgpass': acted(V1, "the agent's password file"),
  'postgresql.authentication': acted(V1, 'superuser, replication and rewind roles'),
  'postgresql.parameters': acted(V1, 'local PostgreSQL settings'),
  'postgresql.pg_hba': acted(V1, 'pg_hba.conf lines'),
  'postgresql.callbacks': refusedYet(V2, 'callbacks would run a command on start, stop, restart, role change and reload',
    'remove postgresql.callbacks (or leave every command empty) and watch role changes through GET /patroni or the member keys in etcd', someCallback),
  'postgresql.use_pg_rewind': acted(V1, 'local override of the dynamic use_pg_rewind'),
  'postgresql.remove_data_directory_on_rewind_failure': acted(V1, 're-clone when pg_rewind fails'),
  'postgresql.create_replica_methods': acted(V1, 'basebackup (other methods are refused by value)'),
  'postgresql.basebackup': acted(V1, 'pg_basebackup options'),
  'postgresql.pg_ctl_timeout': ignored(V1, 'start/stop are bounded by primary_start_timeout and retry_timeout'),
  'postgresql.use_unix_socket': ignored(V1, 'the agent connects to PostgreSQL over TCP'),
  'postgresql.use_unix_socket_repl': ignored(V1, 'replication connects over TCP to connect_address'),
  'postgresql.proxy_address': ignored(V1, 'not published (service discovery only in Patroni)'),
  'postgresql.use_slots': ignored(V1, 'use_slots is cluster-wide: set bootstrap.dcs.postgresql.use_slots'),
  'postgresql.remove_data_directory_on_diverged_timelines': ignored(V1, 'the agent never removes a data directory for a diverged timeline'),
  'postgresql.krbsrvname': ignored(V1, 'Kerberos service name of Patroni 3.x; use PGKRBSRVNAME in the environment'),
  'postgresql.pg_ident': refusedFor(V1, 'pg_ident.conf is not managed: maintain it yourself and point parameters.ident_file at it'),
  'postgresql.custom_conf': refusedFor(V1, 'custom_conf is not supported: put the settings in postgresql.parameters'),
  'postgresql.recovery_conf': refusedFor(V1, 'recovery_conf is not supported: set restore_command and friends in postgresql.parameters'),
  'postgresql.pre_promote': refusedYet(V2, 'pre_promote would run a command before each promotion and cancel the promotion when it fails',
    'remove it (the agent fences the old primary itself before promoting)'),
  'postgresql.before_stop': refusedYet(V2, 'before_stop would run a command before PostgreSQL is stopped', 'remove it and run the command before stopping the agent'),
  'postgresql.bin_name': refusedFor(V1, 'renamed PostgreSQL binaries are not supported: use bin_dir'),

  tags: acted(V1, 'any other tag (a user tag): published in the member key as given'),
  'tags.nofailover': acted(V1, 'never promote this member'),
  'tags.failover_priority': acted(V1, 'preference between equally advanced candidates'),
  'tags.noloadbalance': acted(V1, '/replica answers 503'),
  'tags.clonefrom': acted(V1, 'preferred source for new replicas'),
  'tags.nosync': ignored(V2, 'synchronous mode is not supported yet, so no member is ever a synchronous standby', isTrue),
  'tags.sync_priority': ignored(V2, 'synchronous mode is not supported yet, so no member is ever a synchronous standby', differs(1)),
  'tags.nostream': refusedYet(V2, 'nostream would make this replica replay WAL from the archive only, without streaming from the primary',
    'remove the tag or set it to false (the replica streams from the primary)', isTrue),
  // Ignored rather than refused: Patroni's own postgres2.yml sets it and must load unchanged
  // (SPEC 8); only the replication path differs, never what is replicated or who may lead.
  'tags.replicatefrom': ignored(V2, 'cascading replication is not supported yet: this replica streams from the primary, not from the named member', nonEmpty),

  'watchdog.mode': refusedYet(V2, 'watchdog.mode: required would refuse leadership unless a watchdog device resets this host when the agent hangs',
    'set watchdog.mode to off (or automatic, which runs without a watchdog and says so at start-up)', isRequired),
  'watchdog.device': ignored(V2, NO_WATCHDOG),
  'watchdog.safety_margin': ignored(V2, NO_WATCHDOG),
});
