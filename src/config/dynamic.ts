// The dynamic configuration (bootstrap.dcs, the etcd `config` key, PATCH /config, edit-config):
// defaults and validation. Shared by the loader, the REST API and agentctl. Reading etcd's stored
// value and merging patches into it is in dynamic-stored.ts.
import { coerceStrings } from './coerce.js';
import { envValue } from './env.js';
import { ProblemSink, joinPath, type ConfigProblem } from './errors.js';
import { DYNAMIC_PASSTHROUGH_KEYS, DYNAMIC_UNSUPPORTED_KEYS } from './keys.js';
import { hbaProblems, parameterProblems } from './pg-rules.js';
import { bool, deepFreeze, num, obj, scalarMap, strList, type Raw } from './read.js';
import { DYNAMIC_REGISTRY } from './registry-dynamic.js';
import { checkRegistry } from './registry.js';
import { DYNAMIC_SCHEMA, schemaPaths } from './schema.js';
import type { DynamicConfig } from './types.js';
import { isPlainObject, walk } from './walk.js';

/** Smallest ttl accepted (Patroni's is 20; tests run with ttl 5-10). */
export const MIN_TTL = 4;

export const DEFAULT_DYNAMIC_CONFIG: DynamicConfig = deepFreeze({
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  maximum_lag_on_syncnode: -1,
  primary_start_timeout: 300,
  primary_stop_timeout: 0,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  failsafe_mode: false,
  check_timeline: false,
  pause: false,
  postgresql: { use_pg_rewind: false, use_slots: true, parameters: {} },
});

export type DynamicResult =
  | { readonly ok: true; readonly config: DynamicConfig; readonly warnings: readonly ConfigProblem[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[] };

/** Validates a dynamic config (missing keys take defaults); problem paths start with pathPrefix. */
export function validateDynamicConfig(input: unknown, pathPrefix = ''): DynamicResult {
  const sink = new ProblemSink();
  const config = checkDynamicConfig(input, pathPrefix, sink);
  if (sink.problems.length > 0) return { ok: false, problems: sink.problems, warnings: sink.warnings };
  return { ok: true, config, warnings: sink.warnings };
}

type Bound = { min: number; exclusive?: boolean; unit: string };

function ranged(raw: Raw | undefined, key: string, prefix: string, bound: Bound, sink: ProblemSink): number | undefined {
  const v = num(raw, key);
  if (v === undefined) return undefined;
  const bad = bound.exclusive === true ? v <= bound.min : v < bound.min;
  if (!bad) return v;
  sink.problem(joinPath(prefix, key), `must be ${bound.exclusive === true ? 'greater than' : 'at least'} ${bound.min}${bound.unit}, got ${v}`);
  return undefined;
}

function startStop(raw: Raw | undefined, which: 'start' | 'stop', prefix: string, sink: ProblemSink): number | undefined {
  const primary = ranged(raw, `primary_${which}_timeout`, prefix, { min: 0, unit: ' seconds' }, sink);
  const master = ranged(raw, `master_${which}_timeout`, prefix, { min: 0, unit: ' seconds' }, sink);
  // Patroni: primary_* wins when both are set.
  if (primary !== undefined && master !== undefined && primary !== master) {
    sink.warn(joinPath(prefix, `master_${which}_timeout`), `ignored: primary_${which}_timeout is set (master_* is the Patroni 3 spelling)`);
  }
  return primary ?? master;
}

type Timing = { ttl: number; loop_wait: number; retry_timeout: number };

/**
 * loop_wait + 2 * retry_timeout <= ttl, adjusted with a warning as Patroni does
 * (config.py, _validate_and_adjust_timeouts): shorten loop_wait down to 1 s, then retry_timeout.
 */
function adjustTiming(c: Timing, prefix: string, sink: ProblemSink): Timing {
  if (c.loop_wait + 2 * c.retry_timeout <= c.ttl) return c;
  const minLoop = Math.min(1, c.loop_wait);
  const rule = `loop_wait + 2 * retry_timeout <= ttl is violated (${c.loop_wait} + 2 * ${c.retry_timeout} > ${c.ttl})`;
  if (minLoop + 2 * c.retry_timeout > c.ttl) {
    const retry = Math.floor((c.ttl - minLoop) / 2);
    sink.warn(joinPath(prefix, 'ttl'), `${rule}: loop_wait adjusted from ${c.loop_wait} to ${minLoop} and retry_timeout from ${c.retry_timeout} to ${retry}, as Patroni does`);
    return { ttl: c.ttl, loop_wait: minLoop, retry_timeout: retry };
  }
  const loop = c.ttl - 2 * c.retry_timeout;
  sink.warn(joinPath(prefix, 'ttl'), `${rule}: loop_wait adjusted from ${c.loop_wait} to ${loop}, as Patroni does`);
  return { ...c, loop_wait: loop };
}

/** Patroni reads synchronous_mode with parse_bool ("off" is false); other strings (quorum) stay. */
function coerceSyncMode(raw: Raw): Raw {
  const v = raw['synchronous_mode'];
  if (typeof v !== 'string') return raw;
  const b = envValue({ kind: 'leaf', type: 'boolean' }, v);
  return b === undefined ? raw : { ...raw, synchronous_mode: b };
}

/** true, false (after parse_bool) or 'quorum' in any case, as Patroni's is_quorum_commit_mode; anything else is an error. */
function syncMode(raw: Raw | undefined, prefix: string, sink: ProblemSink): boolean | 'quorum' | undefined {
  const v = raw?.['synchronous_mode'];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && v.toLowerCase() === 'quorum') return 'quorum';
  sink.problem(joinPath(prefix, 'synchronous_mode'), `must be true, false or quorum, got ${JSON.stringify(v)}`);
  return undefined;
}

function dynamicPostgresql(raw: Raw | undefined): DynamicConfig['postgresql'] {
  const pg = obj(raw, 'postgresql');
  const d = DEFAULT_DYNAMIC_CONFIG.postgresql;
  const pgHba = strList(pg, 'pg_hba');
  return {
    use_pg_rewind: bool(pg, 'use_pg_rewind') ?? d.use_pg_rewind,
    use_slots: bool(pg, 'use_slots') ?? d.use_slots,
    parameters: scalarMap(obj(pg, 'parameters')),
    ...(pgHba === undefined ? {} : { pg_hba: pgHba }),
  };
}

/** Keys stored and handed back as given: ignored ones and the accepted "off" values of refused ones. */
// master_*_timeout stays as sent (GET /config shows it, as Patroni's does) next to primary_*.
const PASSTHROUGH = new Set([...Object.keys(DYNAMIC_PASSTHROUGH_KEYS), 'slots', 'ignore_slots', 'master_start_timeout', 'master_stop_timeout']);

/** Strings read as Patroni reads them (coerce.ts); anything but a mapping is returned as is. */
export function normalizedDynamic(given: unknown): unknown {
  return isPlainObject(given) ? coerceSyncMode(coerceStrings(given, DYNAMIC_SCHEMA)) : given;
}

/** Pushes problems into `sink`; returns the config with defaults (meaningful only without problems). */
export function checkDynamicConfig(given: unknown, prefix: string, sink: ProblemSink): DynamicConfig {
  const input = normalizedDynamic(given);
  const allPaths = schemaPaths(DYNAMIC_SCHEMA, prefix);
  walk(input, DYNAMIC_SCHEMA, prefix, '', { ignored: DYNAMIC_PASSTHROUGH_KEYS, unsupported: DYNAMIC_UNSUPPORTED_KEYS, warnIgnored: true, allPaths }, sink);
  checkRegistry(input, DYNAMIC_REGISTRY, DYNAMIC_SCHEMA, prefix, sink);
  const raw = isPlainObject(input) ? input : undefined;
  const d = DEFAULT_DYNAMIC_CONFIG;
  const timing = {
    ttl: ranged(raw, 'ttl', prefix, { min: MIN_TTL, unit: ' seconds' }, sink),
    loop_wait: ranged(raw, 'loop_wait', prefix, { min: 0, exclusive: true, unit: ' seconds' }, sink),
    retry_timeout: ranged(raw, 'retry_timeout', prefix, { min: 1, unit: ' second' }, sink),
  };
  const badTiming = ['ttl', 'loop_wait', 'retry_timeout'].some((k) => sink.hasProblemAt(joinPath(prefix, k)));
  const given3 = { ttl: timing.ttl ?? d.ttl, loop_wait: timing.loop_wait ?? d.loop_wait, retry_timeout: timing.retry_timeout ?? d.retry_timeout };
  const merged = badTiming ? given3 : adjustTiming(given3, prefix, sink);
  const passthrough = Object.fromEntries(Object.entries(raw ?? {}).filter(([k, v]) => PASSTHROUGH.has(k) && v !== null));
  const postgresql = dynamicPostgresql(raw);
  // What every node's config writer would refuse at its next start is refused here instead.
  const pgPath = joinPath(prefix, 'postgresql');
  for (const p of [...parameterProblems(postgresql.parameters, joinPath(pgPath, 'parameters')), ...hbaProblems(postgresql.pg_hba ?? [], joinPath(pgPath, 'pg_hba'))]) {
    sink.problem(p.path, p.message);
  }
  return deepFreeze({
    ...passthrough,
    ...merged,
    maximum_lag_on_failover: ranged(raw, 'maximum_lag_on_failover', prefix, { min: 0, unit: ' bytes' }, sink) ?? d.maximum_lag_on_failover,
    maximum_lag_on_syncnode: num(raw, 'maximum_lag_on_syncnode') ?? d.maximum_lag_on_syncnode,
    primary_start_timeout: startStop(raw, 'start', prefix, sink) ?? d.primary_start_timeout,
    primary_stop_timeout: startStop(raw, 'stop', prefix, sink) ?? d.primary_stop_timeout,
    synchronous_mode: syncMode(raw, prefix, sink) ?? d.synchronous_mode,
    synchronous_mode_strict: bool(raw, 'synchronous_mode_strict') ?? d.synchronous_mode_strict,
    synchronous_node_count: ranged(raw, 'synchronous_node_count', prefix, { min: 1, unit: '' }, sink) ?? d.synchronous_node_count,
    failsafe_mode: bool(raw, 'failsafe_mode') ?? d.failsafe_mode,
    check_timeline: bool(raw, 'check_timeline') ?? d.check_timeline,
    pause: bool(raw, 'pause') ?? d.pause,
    postgresql,
  });
}
