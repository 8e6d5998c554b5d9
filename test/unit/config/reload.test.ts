// A SIGHUP or POST /reload takes only what the running agent reads afresh; the rest is named.
import { describe, expect, it } from 'vitest';
import { planReload } from '../../../src/config/reload.js';
import type { Config } from '../../../src/config/types.js';
import { baseRaw, check, edit, type RawConfig } from './helpers.js';

function config(raw: RawConfig): Config {
  const r = check(raw);
  if (!r.ok) throw new Error(`fixture rejected: ${JSON.stringify(r.problems)}`);
  return r.config;
}

describe('planReload', () => {
  it('an unchanged file changes nothing and names nothing', () => {
    const running = config(baseRaw());
    const plan = planReload(running, config(baseRaw()));
    expect(plan.needRestart).toEqual([]);
    expect(plan.config).toEqual(running);
  });

  it('applies the REST access settings, tags, callbacks and bootstrap', () => {
    const next = config(edit(
      ['restapi.authentication', { username: 'admin', password: 'reload-pass' }],
      ['tags', { nofailover: true, failover_priority: 3 }],
      ['postgresql.callbacks', { on_role_change: '/usr/local/bin/role-changed' }],
      ['bootstrap.initdb', ['data-checksums']],
    ));
    const plan = planReload(config(baseRaw()), next);
    expect(plan.needRestart).toEqual([]);
    expect(plan.config.restapi.authentication).toEqual({ username: 'admin', password: 'reload-pass' });
    expect(plan.config.tags).toEqual(next.tags);
    expect(plan.config.postgresql.callbacks).toEqual({ on_role_change: '/usr/local/bin/role-changed' });
    expect(plan.config.bootstrap).toEqual(next.bootstrap);
  });

  it('keeps the name, etcd, the PostgreSQL settings and the REST listen address, and names each', () => {
    const running = config(baseRaw());
    const next = config(edit(
      ['name', 'renamed'],
      ['etcd3.hosts', ['127.0.0.1:2479']],
      ['postgresql.parameters', { work_mem: '7MB' }],
      ['restapi.listen', '127.0.0.1:8010'],
      ['tags', { nosync: true }],
    ));
    const plan = planReload(running, next);
    // postgresql.pgpass is derived from the name.
    expect(plan.needRestart).toEqual(['etcd3.hosts', 'name', 'postgresql.parameters.work_mem', 'postgresql.pgpass', 'restapi.listen.port']);
    expect(plan.config.name).toBe('node1');
    expect(plan.config.etcd3).toEqual(running.etcd3);
    expect(plan.config.postgresql.parameters).toEqual(running.postgresql.parameters);
    expect(plan.config.restapi.listen).toBe(running.restapi.listen);
    // The part a reload can apply is applied beside the refused part.
    expect(plan.config.tags).toEqual(next.tags);
  });
});
