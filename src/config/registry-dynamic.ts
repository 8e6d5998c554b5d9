// Status of every dynamic key (bootstrap.dcs, etcd's `config`, PATCH/PUT /config, edit-config).
// The "off" values of refused features (false, {}, [], the default) stay accepted: the agent
// writes them itself and Patroni configs carry them.
import { acted, ignored, isTrue, nonEmpty, refusedFor, refusedYet, type Registry } from './registry.js';

const V1 = '0.1.0';
const V2 = '0.2.0';

export const DYNAMIC_REGISTRY: Registry = Object.freeze({
  ttl: acted(V1, 'leader lease TTL'),
  loop_wait: acted(V1, 'seconds between loop ticks'),
  retry_timeout: acted(V1, 'how long etcd and PostgreSQL operations retry'),
  maximum_lag_on_failover: acted(V1, 'bytes a replica may lag and still be promoted'),
  primary_start_timeout: acted(V1, 'seconds to restart a crashed primary in place'),
  primary_stop_timeout: acted(V1, 'seconds a stop may take'),
  master_start_timeout: acted(V1, 'Patroni 3 spelling of primary_start_timeout'),
  master_stop_timeout: acted(V1, 'Patroni 3 spelling of primary_stop_timeout'),
  check_timeline: acted(V1, 'always on: a replica on a timeline another member already left never takes the lead'),
  pause: acted(V1, 'maintenance mode'),
  'postgresql.use_pg_rewind': acted(V1, 'rewind a former primary instead of re-cloning it'),
  'postgresql.use_slots': acted(V1, 'a physical replication slot per member'),
  'postgresql.parameters': acted(V1, 'cluster-wide PostgreSQL settings'),
  'postgresql.pg_hba': acted(V1, 'pg_hba.conf lines'),

  synchronous_mode: acted(V2, 'true: commits wait for the chosen synchronous standbys (FIRST n) and only those may be promoted; quorum: commits wait for any synchronous_node_count of the listed standbys (ANY k) and a candidate needs the votes of a quorum of them'),
  synchronous_mode_strict: acted(V2, 'with no synchronous standby available, commits wait rather than the primary going asynchronous'),
  synchronous_node_count: acted(V2, 'how many synchronous standbys commits wait for'),
  maximum_lag_on_syncnode: acted(V2, 'a synchronous standby lagging by more than this many bytes is replaced'),
  failsafe_mode: refusedYet(V2, 'failsafe_mode would keep the primary writable through an etcd outage while every member confirms it over the REST API',
    'set failsafe_mode: false or remove the key (without it the primary stops taking writes when it cannot renew its leader lease)', isTrue),
  slots: refusedYet(V2, 'slots would create permanent replication slots on the primary (and keep them on replicas for failover)',
    'remove the key (or leave it empty) and create the slots yourself, kept active: the agent drops inactive physical slots that belong to no member after 3 * ttl', nonEmpty),
  ignore_slots: refusedYet(V2, 'ignore_slots would protect matching slots from being dropped by the agent',
    'remove the key (or leave it empty); the agent drops inactive physical slots that belong to no member after 3 * ttl, so keep your own physical slots active', nonEmpty),
  member_slots_ttl: refusedYet(V2, "member_slots_ttl would keep a departed member's replication slot for this long",
    "remove the key (the agent keeps a departed member's slot for 3 * ttl, then drops it)"),
  max_timelines_history: ignored(V1, 'the full timeline history is kept'),
  standby_cluster: refusedFor(V1, 'standby clusters are not supported'),
  'postgresql.recovery_conf': refusedFor(V1, 'recovery_conf is not supported: set restore_command and friends in postgresql.parameters'),
  'postgresql.pg_ident': refusedFor(V1, 'pg_ident.conf is not managed: maintain it yourself and point parameters.ident_file at it'),
});
