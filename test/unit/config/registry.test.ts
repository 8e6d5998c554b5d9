// Issue 22: every key the schema accepts has one status in the registry; every refused key is
// refused at start-up (the loader, as `pg-ha-agent --validate-config` uses it) and, for dynamic
// keys, read from etcd without stopping anything. The REST side is test/unit/api/config-refused.test.ts.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStoredDynamicConfig } from '../../../src/config/dynamic-stored.js';
import { validateDynamicConfig } from '../../../src/config/dynamic.js';
import { DYNAMIC_REGISTRY } from '../../../src/config/registry-dynamic.js';
import { LOCAL_REGISTRY } from '../../../src/config/registry-local.js';
import { statusOf, type Registry } from '../../../src/config/registry.js';
import { DYNAMIC_SCHEMA, LOCAL_SCHEMA, type SectionSpec } from '../../../src/config/schema.js';
import { FIXTURES, check, edit, problemsOf } from './helpers.js';
import { ACCEPTED_DYNAMIC, REFUSED_DYNAMIC, REFUSED_LOCAL, nested } from './refused-samples.js';

/** Every key the schema accepts: leaves, delegates and free-form sections (parameters, tags). */
function acceptedPaths(spec: SectionSpec, prefix = ''): string[] {
  return Object.entries(spec.keys).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (child.kind !== 'section') return [path];
    return [...(child.open === undefined ? [] : [path]), ...acceptedPaths(child, path)];
  });
}

function refusedKeys(r: Registry): string[] {
  return Object.entries(r).filter(([, i]) => i.status === 'refused').map(([k]) => k);
}

describe('the key registry against the schema', () => {
  it('gives every key the local schema accepts a status', () => {
    const missing = acceptedPaths(LOCAL_SCHEMA).filter((p) => statusOf(LOCAL_REGISTRY, p) === undefined);
    expect(missing).toEqual([]);
  });

  it('gives every key the dynamic schema accepts a status', () => {
    const missing = acceptedPaths(DYNAMIC_SCHEMA).filter((p) => statusOf(DYNAMIC_REGISTRY, p) === undefined);
    expect(missing).toEqual([]);
  });

  it('has a refused sample (and so the tests below) for every refused key', () => {
    expect(refusedKeys(LOCAL_REGISTRY).sort()).toEqual(Object.keys(REFUSED_LOCAL).sort());
    expect(refusedKeys(DYNAMIC_REGISTRY).sort()).toEqual(Object.keys(REFUSED_DYNAMIC).sort());
  });

  it('is the table in docs/configuration.md, status and since included', () => {
    const doc = readFileSync(resolve(FIXTURES, '../../../docs/configuration.md'), 'utf8');
    const rows = [...Object.entries(LOCAL_REGISTRY), ...Object.entries(DYNAMIC_REGISTRY)].map(([key, info]) =>
      `| \`${key}\` | ${info.when === undefined ? info.status : `${info.status} when ${info.when.text}`} | ${info.since} |`);
    expect(rows.filter((row) => !doc.includes(row))).toEqual([]);
  });

  it('says of ctl that agentctl reads it (not "ignored")', () => {
    expect(LOCAL_REGISTRY['ctl']?.status).toBe('acted');
    expect(check(edit(['ctl', { insecure: true }]))).toMatchObject({ ok: true, warnings: [] });
  });
});

describe('refused local keys: a start-up error naming the key, what it would do and what to do instead', () => {
  it.each(Object.entries(REFUSED_LOCAL))('%s', (path, value) => {
    const hit = problemsOf(edit([path, value])).find((p) => p.path === path);
    expect(hit?.message).toMatch(/^not supported/);
    if (LOCAL_REGISTRY[path]?.instead !== undefined) expect(hit?.message).toContain(LOCAL_REGISTRY[path]?.instead);
  });

  it.each([
    ['postgresql.callbacks', {}], ['postgresql.callbacks', { on_start: '' }], ['tags.nostream', false], ['tags.nostream', true], ['tags.nostream', 'true'],
    ['postgresql.callbacks', { on_role_change: '/usr/bin/python3 features/callback2.py postgres-0 5361' }],
    ['watchdog.mode', 'off'], ['watchdog.mode', false], ['watchdog.mode', 'automatic'],
  ])('%s: %j stays accepted', (path, value) => {
    expect(check(edit([path, value])).ok).toBe(true);
  });

  it('watchdog.mode: automatic says at start-up that no watchdog is used', () => {
    const r = check(edit(['watchdog.mode', 'automatic']));
    expect(r.warnings).toContainEqual({ path: 'watchdog.mode', message: expect.stringContaining('no watchdog is used') });
  });

  it('lists every refused key at once', () => {
    const r = problemsOf(edit(['postgresql.pre_promote', '/x'], ['watchdog.mode', 'required'], ['bootstrap.dcs.failsafe_mode', true]));
    expect(r.map((p) => p.path)).toEqual(expect.arrayContaining(['postgresql.pre_promote', 'watchdog.mode', 'bootstrap.dcs.failsafe_mode']));
  });
});

describe('refused dynamic keys', () => {
  it.each(Object.entries(REFUSED_DYNAMIC))('%s in bootstrap.dcs is a start-up error', (path, value) => {
    const hit = problemsOf(edit([`bootstrap.dcs.${path}`, value])).find((p) => p.path === `bootstrap.dcs.${path}`);
    expect(hit?.message).toMatch(/^not supported/);
  });

  it.each(Object.entries(ACCEPTED_DYNAMIC))('%s: %j stays accepted', (path, value) => {
    expect(validateDynamicConfig(nested(path, value)).ok).toBe(true);
    expect(check(edit([`bootstrap.dcs.${path}`, value])).ok).toBe(true);
  });

  it.each(Object.entries(REFUSED_DYNAMIC))('%s in the stored config is left out and named; the rest applies', (path, value) => {
    const stored = { ...nested(path, value), ttl: 40, maximum_lag_on_failover: 5 };
    const r = readStoredDynamicConfig(stored);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.refused.map((p) => p.path)).toEqual([path]);
    expect(r.refused[0]?.message).toMatch(/^not supported/);
    expect(r.config).toMatchObject({ ttl: 40, maximum_lag_on_failover: 5, synchronous_mode: false, failsafe_mode: false });
  });

  it('a stored config with another problem is still invalid as a whole', () => {
    expect(readStoredDynamicConfig({ failsafe_mode: true, ttl: 'long' }).ok).toBe(false);
  });
});
