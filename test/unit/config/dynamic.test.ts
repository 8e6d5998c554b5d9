import { describe, expect, it } from 'vitest';
import { mergeDynamicConfig } from '../../../src/config/dynamic-stored.js';
import { DEFAULT_DYNAMIC_CONFIG, validateDynamicConfig } from '../../../src/config/dynamic.js';

describe('validateDynamicConfig', () => {
  it('fills defaults and keeps passthrough keys unchanged', () => {
    const r = validateDynamicConfig({ ttl: 40, max_timelines_history: 5, slots: {} });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({ ...DEFAULT_DYNAMIC_CONFIG, ttl: 40, max_timelines_history: 5, slots: {} });
    expect(r.warnings).toEqual([{ path: 'max_timelines_history', message: 'accepted and ignored: the full timeline history is kept' }]);
    expect(Object.isFrozen(r.config)).toBe(true);
  });

  it('reports problems with the given path prefix', () => {
    const r = validateDynamicConfig({ ttl: 8, loop_wait: 2, retry_timeout: 4, postgresql: { use_slot: true } }, 'config');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      { path: 'config.postgresql.use_slot', message: 'unknown key; did you mean "use_slots"?' },
    ]);
    expect(r.warnings).toEqual([
      { path: 'config.ttl', message: 'loop_wait + 2 * retry_timeout <= ttl is violated (2 + 2 * 4 > 8): loop_wait adjusted from 2 to 1 and retry_timeout from 4 to 3, as Patroni does' },
    ]);
  });

  it('accepts the tightest timing the tests use (ttl 5)', () => {
    expect(validateDynamicConfig({ ttl: 5, loop_wait: 1, retry_timeout: 2 }).ok).toBe(true);
  });

  it('rejects a non-mapping', () => {
    const r = validateDynamicConfig([1, 2]);
    expect(r.ok ? [] : r.problems).toEqual([{ path: '', message: 'expected a mapping, got a list' }]);
  });

  it('DEFAULT_DYNAMIC_CONFIG holds Patroni defaults and is frozen', () => {
    expect(DEFAULT_DYNAMIC_CONFIG).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576 });
    expect(() => { (DEFAULT_DYNAMIC_CONFIG as { ttl: number }).ttl = 1; }).toThrow(TypeError);
  });
});

describe('mergeDynamicConfig (JSON merge patch)', () => {
  const base = DEFAULT_DYNAMIC_CONFIG;

  it('merges objects recursively, null deletes, scalars replace', () => {
    const withParam = mergeDynamicConfig(base, { postgresql: { parameters: { work_mem: '8MB', max_connections: 100 } } });
    const merged = mergeDynamicConfig(withParam, { ttl: 20, postgresql: { parameters: { work_mem: null } }, pause: true });
    expect(merged).toMatchObject({ ttl: 20, pause: true, loop_wait: 10, postgresql: { use_slots: true, parameters: { max_connections: 100 } } });
    expect((merged['postgresql'] as { parameters: object }).parameters).not.toHaveProperty('work_mem');
  });

  it('deleting a key brings back its default after validation', () => {
    const merged = mergeDynamicConfig({ ...base, ttl: 20 }, { ttl: null });
    const r = validateDynamicConfig(merged);
    expect(r.ok && r.config.ttl).toBe(30);
  });

  it('does not modify its inputs', () => {
    const input = { ttl: 20, postgresql: { parameters: { a: '1' } } };
    mergeDynamicConfig(input, { postgresql: { parameters: { a: null } } });
    expect(input.postgresql.parameters).toEqual({ a: '1' });
  });

  it('a merged result that breaks a rule is caught by validation', () => {
    const r = validateDynamicConfig(mergeDynamicConfig(base, { ttl: 2 }), '');
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['ttl']);
  });
});
