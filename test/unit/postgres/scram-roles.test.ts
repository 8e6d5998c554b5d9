import { describe, expect, it } from 'vitest';
import { REWIND_FUNCTIONS, quoteIdent, roleStatements } from '../../../src/postgres/roles.js';
import { scramVerifier } from '../../../src/postgres/scram.js';
import { testConfig } from './fixtures.js';

describe('scramVerifier', () => {
  it('matches what PostgreSQL 15 stores for the same password and salt', () => {
    // CREATE ROLE x PASSWORD 'pencil' on PostgreSQL 15, then pg_authid.rolpassword.
    const pg = 'SCRAM-SHA-256$4096:VC4GywGxHaFJY2yTaX7UIg==$RZbTgNNaA9c9OFuHeKY8Z0srw2kR9g1T/dgg0RE+TbE=:wo5DCxJ3FhNy4hralYVog0dYdTLkgz8KVRL+C+TI4j4=';
    expect(scramVerifier('pencil', Buffer.from('VC4GywGxHaFJY2yTaX7UIg==', 'base64'))).toBe(pg);
  });

  it('uses a fresh salt each time', () => {
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil'));
  });
});

describe('roleStatements', () => {
  const fakeVerifier = (p: string): string => `SCRAM-SHA-256$4096:salt$${p.length}:key`;

  it('creates the replication and rewind roles with verifiers, never cleartext', () => {
    const stmts = roleStatements(testConfig(), fakeVerifier);
    expect(stmts.map((s) => s.role)).toEqual(['replicator', 'rewind_user']);
    expect(stmts[0]?.create).toBe(`CREATE ROLE "replicator" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256$4096:salt$8:key'`);
    expect(stmts[1]?.grants).toHaveLength(REWIND_FUNCTIONS.length);
    expect(stmts[1]?.grants[0]).toBe('GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO "rewind_user"');
    const all = JSON.stringify(stmts);
    for (const secret of ['rep-pass', 'rw-secret', 'su-secret']) expect(all).not.toContain(secret);
  });

  it('skips roles that are the superuser and merges a shared replication/rewind role', () => {
    const config = testConfig({
      postgresql: {
        authentication: {
          superuser: { username: 'postgres', password: 'x' },
          replication: { username: 'repl' },
          rewind: { username: 'repl' },
        },
      },
    });
    const stmts = roleStatements(config, fakeVerifier);
    expect(stmts).toHaveLength(1);
    expect(stmts[0]?.create).toBe('CREATE ROLE "repl" WITH LOGIN REPLICATION');
    expect(stmts[0]?.grants).toHaveLength(4);
    const su = testConfig({ postgresql: { authentication: { superuser: { username: 'postgres' }, replication: { username: 'postgres' } } } });
    expect(roleStatements(su, fakeVerifier)).toEqual([]);
  });

  it('quotes identifiers', () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
  });
});
