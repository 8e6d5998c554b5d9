import { describe, expect, it } from 'vitest';
import { setSyncStandbyNames, sqlLiteral } from '../../../src/postgres/sync-standby-names.js';
import type { SqlConnection } from '../../../src/postgres/sql.js';

/** A connection that records statements and reports the setting as `reported` once set. */
function fakeSql(reported: { setting: string; sourcefile: string | null }): SqlConnection & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    query: async <T>(text: string): Promise<T[]> => {
      statements.push(text.split('\n')[0] ?? '');
      return (text.includes('FROM pg_catalog.pg_settings') ? [reported] : []) as T[];
    },
    close: async () => undefined,
  } as unknown as SqlConnection & { statements: string[] };
}

describe('synchronous_standby_names through ALTER SYSTEM', () => {
  it('quotes the value as a string literal', () => {
    expect(sqlLiteral('2 ("a\'b",c)')).toBe("'2 (\"a''b\",c)'");
    expect(() => sqlLiteral('a\0b')).toThrow(/NUL/);
  });

  it('sets, reloads, waits until the server reports the value, then nudges the standbys with a little WAL', async () => {
    const sql = fakeSql({ setting: 'pg2', sourcefile: '/data/postgresql.auto.conf' });
    await setSyncStandbyNames(sql, 'pg2');
    expect(sql.statements).toEqual([
      "ALTER SYSTEM SET synchronous_standby_names = 'pg2'",
      'SELECT pg_catalog.pg_reload_conf()',
      "SELECT setting, sourcefile FROM pg_catalog.pg_settings WHERE name = 'synchronous_standby_names'",
      'DO $$',
    ]);
  });

  it('RESET gives the value back to the configuration; a value never reported is an error', async () => {
    const reset = fakeSql({ setting: '', sourcefile: null });
    await setSyncStandbyNames(reset, null);
    expect(reset.statements[0]).toBe('ALTER SYSTEM RESET synchronous_standby_names');
    const stuck = fakeSql({ setting: 'old', sourcefile: '/data/postgresql.auto.conf' });
    await expect(setSyncStandbyNames(stuck, 'pg3', { waitMs: 100 })).rejects.toThrow(/synchronous_standby_names still "old" after reload/);
  });
});
