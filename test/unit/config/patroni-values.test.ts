// Issue 23, config that Patroni accepts: values given as strings (parse_bool/parse_int), the
// timing rule adjusted with a warning instead of refused, master_* names kept as sent.
import { describe, expect, it } from 'vitest';
import { mergeDynamicConfig, readStoredDynamicConfig } from '../../../src/config/dynamic-stored.js';
import { validateDynamicConfig } from '../../../src/config/dynamic.js';
import { check, edit, problemsOf } from './helpers.js';

describe('values given as strings, as Patroni reads them', () => {
  it('tags: nofailover "true", failover_priority "1", noloadbalance "off"', () => {
    const r = check(edit(['tags', { nofailover: 'true', failover_priority: '1', noloadbalance: 'off', clonefrom: 'yes', zone: 'eu-1' }]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.tags).toEqual({ nofailover: true, failover_priority: 1, noloadbalance: false, clonefrom: true, zone: 'eu-1' });
  });

  it('bootstrap.dcs numbers and booleans (synchronous_mode "off" is off)', () => {
    const r = check(edit(['bootstrap.dcs', { ttl: '30', loop_wait: '5', retry_timeout: '10', check_timeline: 'true', synchronous_mode: 'off', maximum_lag_on_failover: '1048576' }]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 5, retry_timeout: 10, check_timeline: true, synchronous_mode: false });
  });

  it('restapi and postgresql booleans too', () => {
    const r = check(edit(['postgresql.use_pg_rewind', 'true'], ['postgresql.remove_data_directory_on_rewind_failure', 'on']));
    expect(r.ok && r.config.postgresql.use_pg_rewind && r.config.postgresql.remove_data_directory_on_rewind_failure).toBe(true);
  });

  it('a string that is no boolean is still an error naming the key', () => {
    expect(problemsOf(edit(['tags.nofailover', 'maybe']))).toEqual([{ path: 'tags.nofailover', message: 'expected a boolean (true or false), got a string ("maybe")' }]);
  });

  it('synchronous_mode "on" is read as true and accepted; "quorum" (any case) is quorum mode', () => {
    const r = check(edit(['bootstrap.dcs.synchronous_mode', 'on']));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.bootstrap.dcs).toMatchObject({ synchronous_mode: true });
    const q = check(edit(['bootstrap.dcs.synchronous_mode', 'Quorum']));
    expect(q.ok).toBe(true);
    if (q.ok) expect(q.config.bootstrap.dcs).toMatchObject({ synchronous_mode: 'quorum' });
  });
});

describe('loop_wait + 2 * retry_timeout > ttl: adjusted with a warning, as Patroni does', () => {
  it('shortens loop_wait first (start-up)', () => {
    const r = check(edit(['bootstrap.dcs', { ttl: 30, loop_wait: 20, retry_timeout: 10 }]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
    expect(r.warnings).toContainEqual({ path: 'bootstrap.dcs.ttl', message: expect.stringContaining('loop_wait adjusted from 20 to 10') });
  });

  it('then retry_timeout, to (ttl - 1) / 2 with loop_wait 1', () => {
    const r = check(edit(['bootstrap.dcs', { retry_timeout: 15 }]));
    expect(r.ok && r.config.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 1, retry_timeout: 14 });
  });

  it('a PATCH that breaks the rule is adjusted, not refused', () => {
    const r = validateDynamicConfig(mergeDynamicConfig({ ttl: 30, loop_wait: 10, retry_timeout: 10 }, { loop_wait: 25 }));
    expect(r.ok && r.config).toMatchObject({ loop_wait: 10 });
  });
});

describe('master_*_timeout (Patroni 3 names) kept as sent', () => {
  it('a stored config with master_start_timeout reads as primary_start_timeout and keeps the name', () => {
    const r = readStoredDynamicConfig({ master_start_timeout: 20, master_stop_timeout: 5 });
    expect(r.ok && r.config).toMatchObject({ master_start_timeout: 20, primary_start_timeout: 20, master_stop_timeout: 5, primary_stop_timeout: 5 });
  });

  it('a patch with master_start_timeout over a config that holds primary_start_timeout sets it', () => {
    const stored = validateDynamicConfig({ ttl: 30 });
    if (!stored.ok) throw new Error('fixture');
    const r = validateDynamicConfig(mergeDynamicConfig(stored.config, { master_start_timeout: 10 }));
    expect(r.ok && r.config).toMatchObject({ master_start_timeout: 10, primary_start_timeout: 10 });
    expect(r.warnings).toEqual([]);
  });

  it('a patch with master_start_timeout: null removes the setting: the default applies again (recovery.feature)', () => {
    const stored = validateDynamicConfig({ ttl: 30 });
    if (!stored.ok) throw new Error('fixture');
    const zero = validateDynamicConfig(mergeDynamicConfig(stored.config, { master_start_timeout: 0 }));
    if (!zero.ok) throw new Error('fixture');
    expect(zero.config.primary_start_timeout).toBe(0);
    const back = validateDynamicConfig(mergeDynamicConfig(zero.config, { master_start_timeout: null }));
    expect(back.ok && back.config.primary_start_timeout).toBe(300);
    expect(back.ok && 'master_start_timeout' in back.config).toBe(false);
    // primary_start_timeout set on its own stays when a stale master_* is cleared.
    const own = validateDynamicConfig(mergeDynamicConfig({ ...zero.config, primary_start_timeout: 60 }, { master_start_timeout: null }));
    expect(own.ok && own.config.primary_start_timeout).toBe(60);
  });

  it('primary_* wins over a different master_* in one config, with a warning (Patroni)', () => {
    const r = validateDynamicConfig({ primary_start_timeout: 30, master_start_timeout: 10 });
    expect(r.ok && r.config.primary_start_timeout).toBe(30);
    expect(r.warnings).toContainEqual({ path: 'master_start_timeout', message: expect.stringContaining('primary_start_timeout is set') });
  });
});
