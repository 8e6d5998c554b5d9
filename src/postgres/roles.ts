// SQL for the roles bootstrap creates. Passwords go in as SCRAM verifiers (scram.ts), so no
// statement ever carries a cleartext password.
import type { Config, Credentials } from '../config/types.js';
import { scramVerifier } from './scram.js';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function passwordClause(c: Credentials, verifier: (password: string) => string): string {
  if (c.password === undefined) return '';
  const v = verifier(c.password);
  // A verifier is base64, digits, '$' and ':' only; refuse anything else rather than quote it.
  if (!/^[A-Za-z0-9+/=$:-]+$/.test(v)) throw new Error('unexpected characters in a password verifier');
  return ` PASSWORD '${v}'`;
}

/** Functions pg_rewind calls on its source, granted to a non-superuser rewind role. */
export const REWIND_FUNCTIONS = [
  'pg_catalog.pg_ls_dir(text, boolean, boolean)',
  'pg_catalog.pg_stat_file(text, boolean)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
] as const;

export interface RoleStatement {
  readonly role: string;
  /** Run when the role does not exist yet. */
  readonly create: string;
  /** Run when it exists (password and attributes brought in line). */
  readonly alter: string;
  readonly grants: readonly string[];
}

/** Replication and rewind roles (the superuser is made by initdb, its password by --pwfile). */
export function roleStatements(config: Config, verifier: (password: string) => string = scramVerifier): RoleStatement[] {
  const auth = config.postgresql.authentication;
  const su = auth.superuser.username;
  const out: RoleStatement[] = [];
  const repl = auth.replication;
  if (repl.username !== su) {
    const attrs = `LOGIN REPLICATION${passwordClause(repl, verifier)}`;
    out.push({
      role: repl.username,
      create: `CREATE ROLE ${quoteIdent(repl.username)} WITH ${attrs}`,
      alter: `ALTER ROLE ${quoteIdent(repl.username)} WITH ${attrs}`,
      grants: [],
    });
  }
  const rw = auth.rewind;
  if (rw && rw.username !== su) {
    const attrs = `LOGIN${passwordClause(rw, verifier)}`;
    const grants = REWIND_FUNCTIONS.map((f) => `GRANT EXECUTE ON FUNCTION ${f} TO ${quoteIdent(rw.username)}`);
    if (rw.username === repl.username) {
      const first = out[0];
      if (first) out[0] = { ...first, grants };
    } else {
      out.push({
        role: rw.username,
        create: `CREATE ROLE ${quoteIdent(rw.username)} WITH ${attrs}`,
        alter: `ALTER ROLE ${quoteIdent(rw.username)} WITH ${attrs}`,
        grants,
      });
    }
  }
  return out;
}
