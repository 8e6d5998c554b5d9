import { describe, expect, it } from 'vitest';
import { defaultHba, hbaLines, renderPgHba } from '../../../src/postgres/pg-hba.js';
import { testConfig, testDynamicConfig } from './fixtures.js';

describe('pg_hba', () => {
  it('prefers postgresql.pg_hba, then the cluster config, then bootstrap, then the default', () => {
    const dyn = testDynamicConfig({ pg_hba: ['host all all 10.0.0.0/8 md5'] });
    expect(hbaLines(testConfig({ postgresql: { pg_hba: ['local all all trust'] } }), dyn)).toEqual(['local all all trust']);
    expect(hbaLines(testConfig(), dyn)).toEqual(['host all all 10.0.0.0/8 md5']);
    const boot = { ...testConfig(), bootstrap: { ...testConfig().bootstrap, pg_hba: ['host all all 0.0.0.0/0 md5'] } };
    expect(hbaLines(boot, null)).toEqual(['host all all 0.0.0.0/0 md5']);
    expect(hbaLines(testConfig(), null)).toEqual(defaultHba(testConfig()));
  });

  it('allows replication for the replication user by default, with passwords', () => {
    expect(defaultHba(testConfig()).some((l) => /^host\s+replication\s+replicator\s+all\s+scram-sha-256$/.test(l))).toBe(true);
  });

  it('refuses an entry with a line break', () => {
    expect(() => renderPgHba(['host all all all trust\nlocal all all trust'])).toThrow(/line break/);
  });
});
