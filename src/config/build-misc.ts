// Identity (scope, name, namespace), log, tags, watchdog and bootstrap.
import { report, requiredString, type BuildCtx } from './build-ctx.js';
import { hba } from './build-pg.js';
import { checkDynamicConfig } from './dynamic.js';
import { optionList } from './options.js';
import { resolveConfigPath } from './paths.js';
import { num, obj, str, strList, type Raw } from './read.js';
import type { Config, LogLevel, Tags, TagValue, WatchdogConfig } from './types.js';
import { describeValue } from './walk.js';

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', fatal: 'fatal', critical: 'fatal',
};

/** scope and name become etcd key segments: no slashes. */
export function identifier(ctx: BuildCtx, raw: Raw, key: 'scope' | 'name'): string | undefined {
  const v = requiredString(ctx, raw, '', key);
  if (v === undefined) return undefined;
  if (v.includes('/')) {
    ctx.sink.problem(key, `must not contain "/" (it is part of the etcd key paths), got "${v}"`);
    return undefined;
  }
  return v;
}

export function namespace(ctx: BuildCtx, raw: Raw): string {
  const v = str(raw, 'namespace');
  if (v === undefined) return '/service/';
  const trimmed = v.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') {
    ctx.sink.problem('namespace', 'must name a path such as /service/');
    return '/service/';
  }
  return `/${trimmed}/`;
}

export function logLevel(ctx: BuildCtx, raw: Raw | undefined): LogLevel {
  const v = str(raw, 'level');
  if (v === undefined) return 'info';
  const level = LOG_LEVELS[v.trim().toLowerCase()];
  if (level === undefined) {
    ctx.sink.problem('log.level', `unknown log level "${v}" (expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, or trace/warn/fatal)`);
    return 'info';
  }
  return level;
}

export function tags(ctx: BuildCtx, raw: Raw | undefined): Tags {
  const out: Record<string, TagValue> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') out[key] = value;
  }
  for (const key of ['failover_priority', 'sync_priority']) {
    const v = num(raw, key);
    // A fractional value already has its "expected an integer" problem from the walk.
    if (v !== undefined && Number.isInteger(v) && v < 0) ctx.sink.problem(`tags.${key}`, `must be a non-negative integer, got ${v}`);
  }
  if (out['nofailover'] === true && typeof out['failover_priority'] === 'number' && out['failover_priority'] > 0) {
    ctx.sink.warn('tags.failover_priority', 'is ignored because tags.nofailover is true');
  }
  return out as Tags;
}

function watchdogMode(ctx: BuildCtx, v: unknown): WatchdogConfig['mode'] {
  // YAML 1.1 reads `mode: off` as false, as PyYAML does for Patroni.
  if (v === undefined || v === null || v === false) return 'off';
  if (v === true) return 'automatic';
  const text = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
  if (text === 'off' || text === 'disable' || text === 'disabled') return 'off';
  if (text === 'auto' || text === 'automatic') return 'automatic';
  if (text === 'require' || text === 'required') return 'required';
  ctx.sink.problem('watchdog.mode', `must be off, automatic or required, got ${describeValue(v)}`);
  return 'off';
}

export function watchdog(ctx: BuildCtx, raw: Raw | undefined): WatchdogConfig {
  const mode = watchdogMode(ctx, raw?.['mode']);
  // `required` is refused (registry-local.ts); `automatic` is Patroni's "use one if there is one".
  if (mode === 'automatic') ctx.sink.warn('watchdog.mode', 'automatic: no watchdog is used (the agent has no watchdog support yet); set watchdog.mode: off to silence this');
  const deviceText = str(raw, 'device') ?? '/dev/watchdog';
  const device = report(ctx, 'watchdog.device', resolveConfigPath(deviceText, ctx.cwd)) ?? deviceText;
  const margin = num(raw, 'safety_margin') ?? 5;
  if (margin < -1) ctx.sink.problem('watchdog.safety_margin', `must be -1 (half of ttl) or a number of seconds >= 0, got ${margin}`);
  return { mode, device, safety_margin: margin };
}

export function bootstrap(ctx: BuildCtx, raw: Raw | undefined): Config['bootstrap'] {
  const method = str(raw, 'method');
  if (method !== undefined && method !== 'initdb') {
    ctx.sink.problem('bootstrap.method', `only the initdb bootstrap method is supported, got "${method}"`);
  }
  const dcs = checkDynamicConfig(obj(raw, 'dcs') ?? raw?.['dcs'], 'bootstrap.dcs', ctx.sink);
  const initdb = optionList(ctx, raw?.['initdb'], 'bootstrap.initdb', { allowMap: false, forbidden: ['pgdata', 'D', 'pwfile', 'version', 'help'] });
  return { dcs, initdb, pg_hba: hba(ctx, strList(raw, 'pg_hba') ?? [], 'bootstrap.pg_hba') };
}
