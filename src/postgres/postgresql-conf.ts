// The managed parameter set and postgresql.conf that carries it: defaults, the user's layers, and
// the parameters the agent owns (set from elsewhere in the configuration or required for HA).
import { PARAM_NAME } from '../config/pg-rules.js';
import type { Config, DynamicConfig } from '../config/types.js';
import { BASE_CONF_NAME, REPLICA_CONF_NAME } from './paths.js';
import type { PgPaths } from './paths.js';
import { PgError } from './errors.js';

export type ParamValue = string | number | boolean;

const DEFAULTS: Readonly<Record<string, ParamValue>> = {
  max_wal_senders: 10,
  max_replication_slots: 10,
  // PostgreSQL retries a failed WAL source every 5 s by default; a replica must find its new
  // leader well within a second of a promotion (SPEC 10).
  wal_retrieve_retry_interval: '500ms',
  wal_level: 'replica',
};

/** Set from other parts of the configuration (or required for HA); parameters cannot change them. */
const OWNED = new Set([
  'listen_addresses',
  'port',
  'hot_standby',
  'wal_log_hints',
  'hba_file',
  'ident_file',
  'config_file',
  'data_directory',
  'primary_conninfo',
  'primary_slot_name',
  'recovery_target_timeline',
]);

const NAME = PARAM_NAME;

export interface ManagedParameters {
  readonly params: ReadonlyMap<string, ParamValue>;
  /** User parameters the agent overrode, to be logged once as a warning. */
  readonly overridden: readonly string[];
}

function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new PgError('bad-config', `${where}: invalid PostgreSQL parameter name ${JSON.stringify(name)}`, { retryable: false });
  }
}

export function managedParameters(config: Config, dynamic: DynamicConfig | null, paths: PgPaths): ManagedParameters {
  const params = new Map<string, ParamValue>(Object.entries(DEFAULTS));
  params.set('cluster_name', config.scope);
  const overridden: string[] = [];
  const layers: [string, Readonly<Record<string, ParamValue>>][] = [
    ['config.postgresql.parameters', dynamic?.postgresql.parameters ?? {}],
    ['postgresql.parameters', config.postgresql.parameters],
  ];
  for (const [where, layer] of layers) {
    for (const [rawName, value] of Object.entries(layer)) {
      checkName(rawName, where);
      const name = rawName.toLowerCase();
      if (OWNED.has(name)) overridden.push(name);
      else params.set(name, value);
    }
  }
  if (params.get('wal_level') !== 'logical') params.set('wal_level', 'replica');
  params.set('listen_addresses', config.postgresql.listen.addresses);
  params.set('port', config.postgresql.listen.port);
  params.set('hot_standby', true);
  params.set('wal_log_hints', true);
  params.set('hba_file', paths.hbaFile);
  if (paths.configDir !== paths.dataDir) params.set('ident_file', `${paths.dataDir}/pg_ident.conf`);
  return { params, overridden: [...new Set(overridden)] };
}

/** A value as postgresql.conf wants it. */
export function confValue(value: ParamValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PgError('bad-config', `parameter value is not a finite number: ${value}`, { retryable: false });
    return String(value);
  }
  if (/[\n\r\0]/.test(value)) {
    throw new PgError('bad-config', 'parameter value contains a line break or NUL', { retryable: false });
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const HEADER = [
  '# Managed by pg-ha-agent: rewritten on every start and configuration change. Do not edit;',
  '# set parameters in the agent configuration (postgresql.parameters) or with agentctl edit-config.',
];

export function renderPostgresqlConf(managed: ManagedParameters): string {
  const lines = [...HEADER, `include '${BASE_CONF_NAME}'`, ''];
  for (const [name, value] of [...managed.params.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${name} = ${confValue(value)}`);
  }
  lines.push('', `include_if_exists '${REPLICA_CONF_NAME}'`, '');
  return lines.join('\n');
}
