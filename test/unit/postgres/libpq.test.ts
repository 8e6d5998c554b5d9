import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libpqOptions } from '../../../src/postgres/conninfo.js';
import { primaryConninfo } from '../../../src/postgres/replica-conf.js';
import { localTarget, pgSsl } from '../../../src/postgres/sql.js';
import { testConfig } from './fixtures.js';

describe('libpq options from credentials', () => {
  it('defaults to sslmode=prefer and no GSS negotiation', () => {
    expect(libpqOptions({ username: 'u' }, 'argv')).toEqual({ sslmode: 'prefer', gssencmode: 'disable' });
  });

  it('passes TLS options through, keeping sslpassword out of command lines', () => {
    const c = { username: 'u', sslmode: 'verify-full', sslrootcert: '/ca.pem', sslpassword: 'kp', gssencmode: 'prefer' };
    expect(libpqOptions(c, 'argv')).toEqual({ sslmode: 'verify-full', sslrootcert: '/ca.pem', gssencmode: 'prefer' });
    expect(libpqOptions(c, 'file')).toMatchObject({ sslpassword: 'kp' });
  });

  it('puts the replication credentials options into primary_conninfo', () => {
    const config = testConfig({
      postgresql: {
        authentication: {
          superuser: { username: 'postgres' },
          replication: { username: 'rep', password: 'secret', sslmode: 'require' },
        },
      },
    });
    const ci = primaryConninfo({ upstream: { host: 'h', port: 1, name: 'n' }, applicationName: 'me', slotName: null }, config);
    expect(ci).toContain('sslmode=require');
    expect(ci).not.toContain('secret');
  });
});

describe('pgSsl', () => {
  it('connects in clear below require, encrypts without verification at require', () => {
    expect(pgSsl({ username: 'u' })).toBe(false);
    expect(pgSsl({ username: 'u', sslmode: 'prefer' })).toBe(false);
    expect(pgSsl({ username: 'u', sslmode: 'require' })).toEqual({ rejectUnauthorized: false });
  });

  it('verifies against sslrootcert, and names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-ssl-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    const full = pgSsl({ username: 'u', sslmode: 'verify-full', sslrootcert: join(dir, 'ca.pem') });
    expect(full).toMatchObject({ rejectUnauthorized: true });
    expect(full && full.ca?.toString()).toBe('CA');
    const ca = pgSsl({ username: 'u', sslmode: 'verify-ca', sslrootcert: join(dir, 'ca.pem') });
    expect(ca && typeof ca.checkServerIdentity).toBe('function');
    expect(() => pgSsl({ username: 'u', sslmode: 'verify-full', sslrootcert: '/nonexistent/ca.pem' })).toThrow(/\/nonexistent\/ca\.pem/);
  });

  it('reaches the local server on loopback when listening on a wildcard', () => {
    const c = testConfig();
    expect(localTarget({ ...c, postgresql: { ...c.postgresql, listen: { addresses: '*', port: 5 } } })).toMatchObject({ host: '127.0.0.1', port: 5, user: 'postgres', password: 'su-secret' });
    expect(localTarget({ ...c, postgresql: { ...c.postgresql, listen: { addresses: '::,10.0.0.1', port: 5 } } }).host).toBe('::1');
    expect(localTarget({ ...c, postgresql: { ...c.postgresql, listen: { addresses: '10.0.0.1, 127.0.0.1', port: 5 } } }).host).toBe('10.0.0.1');
  });
});
