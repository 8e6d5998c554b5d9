import { describe, expect, it } from 'vitest';
import { formatHostPort, parseCidr, parseHostPort, parseListen } from '../../../src/config/address.js';

describe('addresses', () => {
  it('parses host:port, bracketed IPv6 and default ports', () => {
    expect(parseHostPort('db1.example.com:5432')).toEqual({ ok: true, value: { host: 'db1.example.com', port: 5432 } });
    expect(parseHostPort('[::1]:8008')).toEqual({ ok: true, value: { host: '::1', port: 8008 } });
    expect(parseHostPort('etcd1', { defaultPort: 2379 })).toEqual({ ok: true, value: { host: 'etcd1', port: 2379 } });
    expect(parseHostPort('[fe80::1]', { defaultPort: 2379 })).toEqual({ ok: true, value: { host: 'fe80::1', port: 2379 } });
  });

  it('rejects malformed addresses with a reason', () => {
    expect(parseHostPort('[::1:8008')).toMatchObject({ ok: false, message: expect.stringContaining('bracketed IPv6') });
    expect(parseHostPort('a,b:1')).toMatchObject({ ok: false, message: expect.stringContaining('single host:port') });
    expect(parseHostPort('bad_host!:1')).toMatchObject({ ok: false, message: expect.stringContaining('not a valid host name') });
    expect(parseHostPort('*:5432')).toMatchObject({ ok: false });
  });

  it('parses listen lists as Patroni does', () => {
    expect(parseListen('127.0.0.1,[::1]:5432')).toEqual({ ok: true, value: { addresses: ['127.0.0.1', '::1'], port: 5432 } });
    expect(parseListen('*:5432')).toEqual({ ok: true, value: { addresses: ['*'], port: 5432 } });
    expect(parseListen('*,127.0.0.1:5432')).toMatchObject({ ok: false, message: expect.stringContaining('only address') });
  });

  it('formats IPv6 with brackets', () => {
    expect(formatHostPort({ host: '::1', port: 5432 })).toBe('[::1]:5432');
    expect(formatHostPort({ host: '10.0.0.1', port: 5432 })).toBe('10.0.0.1:5432');
  });

  it('normalizes allowlist entries to CIDR', () => {
    expect(parseCidr('10.0.0.1')).toEqual({ ok: true, value: '10.0.0.1/32' });
    expect(parseCidr('fd00::/8')).toEqual({ ok: true, value: 'fd00::/8' });
    expect(parseCidr('10.0.0.0/x')).toMatchObject({ ok: false });
  });
});
