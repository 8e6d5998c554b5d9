// Access control: basic auth on every mutating route, the allowlist, and TLS (served for real on
// loopback with certificates made by openssl for this run).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../../src/api/server.js';
import { buildHttpsOptions, reloadTls } from '../../../src/api/tls.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { captureLogger, primaryPg, scenario, snapshot, testApi, testConfig } from './fixtures.js';

const MUTATING = [
  ['PATCH', '/config'], ['PUT', '/config'], ['POST', '/switchover'], ['POST', '/failover'], ['DELETE', '/switchover'],
  ['POST', '/restart'], ['DELETE', '/restart'], ['POST', '/reinitialize'], ['POST', '/reload'],
] as const;
const READS = ['/', '/replica', '/health', '/patroni', '/metrics', '/cluster', '/history', '/config'];

const clock = new FakeClock();
const dcs = createFakeDcs({ scope: 'demo', name: 'a', ttlSec: 30, clock });
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('basic auth', () => {
  const api = testApi({ config: testConfig('a', { authentication: { username: 'u', password: 'p:w' } }), clock, dcs,
    status: scenario('leader', clock), requestReload: async () => undefined });
  afterAll(() => api.app.close());

  it.each(MUTATING)('%s %s needs credentials (401 with the Patroni challenge)', async (method, url) => {
    const res = await api.app.inject({ method, url, payload: { x: 1 } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    expect(res.json()).toEqual({ error: 'no auth header received' });
  });

  it.each(READS)('GET %s needs none', async (url) => {
    expect((await api.app.inject({ url })).statusCode).not.toBe(401);
  });

  it('a password containing ":" works; a prefix of it does not', async () => {
    const ok = await api.app.inject({ method: 'POST', url: '/reload', headers: { authorization: basic('u', 'p:w') } });
    expect(ok.statusCode).toBe(202);
    const prefix = await api.app.inject({ method: 'POST', url: '/reload', headers: { authorization: basic('u', 'p') } });
    expect(prefix.statusCode).toBe(401);
  });
});

describe('allowlist', () => {
  const api = testApi({ config: testConfig('a', { allowlist: ['127.0.0.0/8', '::1', '10.1.0.0/16'] }), clock, dcs,
    status: scenario('leader', clock), requestReload: async () => undefined });
  afterAll(() => api.app.close());

  it.each([
    ['127.0.0.1', 202], ['::ffff:127.0.0.1', 202], ['::1', 202], ['10.1.200.3', 202], ['10.2.0.1', 403], ['192.168.1.1', 403],
  ] as const)('POST /reload from %s -> %d', async (remoteAddress, status) => {
    const res = await api.app.inject({ method: 'POST', url: '/reload', remoteAddress });
    expect(res.statusCode).toBe(status);
    if (status === 403) expect(res.json().error).toMatch(/^Access is denied/);
  });

  it('health checks are not subject to it (HAProxy may sit anywhere)', async () => {
    expect((await api.app.inject({ method: 'OPTIONS', url: '/primary', remoteAddress: '192.168.1.1' })).statusCode).toBe(200);
  });

  it('an entry that is not an address or a CIDR is a start-up error naming it', () => {
    const { logger } = captureLogger();
    expect(() => buildServer({ config: testConfig('a', { allowlist: ['10.0.0.0/8', 'db.example.com'] }), clock, dcs, logger,
      getStatus: () => scenario('leader', clock) })).toThrow(/restapi\.allowlist: 'db\.example\.com' is not an IP address or a CIDR/);
    expect(() => buildServer({ config: testConfig('a', { allowlist: ['10.0.0.0/33'] }), clock, dcs, logger,
      getStatus: () => scenario('leader', clock) })).toThrow(/'10\.0\.0\.0\/33'/);
  });
});

describe('TLS', () => {
  let dir: string;
  const file = (name: string): string => join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-api-tls-'));
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    const key = (name: string): void => ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', name);
    key('ca.key');
    ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pg-ha-agent test CA');
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const who of ['server', 'client']) {
      key(`${who}.key`);
      ssl('req', '-new', '-key', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`,
        '-days', '2', ...(who === 'server' ? ['-extfile', 'server.ext'] : []));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function serve(verify: 'required' | 'optional') {
    return testApi({
      config: testConfig('a', { certfile: file('server.crt'), keyfile: file('server.key'), cafile: file('ca.crt'), verify_client: verify }),
      clock, dcs, status: snapshot(clock, { local: primaryPg(), holdsLeader: true, leaseValidUntilMs: Number.POSITIVE_INFINITY }),
      requestReload: async () => undefined,
    });
  }

  function call(port: number, method: string, path: string, withCert: boolean): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port, method, path, ca: readFileSync(file('ca.crt')),
        ...(withCert ? { cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) } : {}),
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('verify_client required: the handshake refuses a client without a certificate; the server keeps serving', async () => {
    const api = serve('required');
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (api.app.server.address() as AddressInfo).port;
      await expect(call(port, 'GET', '/primary', false)).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
      expect(await call(port, 'GET', '/primary', true)).toMatchObject({ status: 200 });
      expect(await call(port, 'POST', '/reload', true)).toEqual({ status: 202, body: 'reload scheduled' });
    } finally {
      await api.app.close();
    }
  });

  it('verify_client optional: reads work without a certificate, mutating requests need one (403)', async () => {
    const api = serve('optional');
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (api.app.server.address() as AddressInfo).port;
      expect((await call(port, 'GET', '/health', false)).status).toBe(200);
      const denied = await call(port, 'POST', '/reload', false);
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.body)).toEqual({ error: 'client certificate required' });
      expect((await call(port, 'POST', '/reload', true)).status).toBe(202);
    } finally {
      await api.app.close();
    }
  });

  it('a reload swaps in rotated certificate files for new connections; TLS on/off or verify_client needs a restart (issue 13)', async () => {
    const api = serve('optional');
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (api.app.server.address() as AddressInfo).port;
      const serial = (): Promise<string> => new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/health', ca: readFileSync(file('ca.crt')), agent: false }, (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate();
          res.resume();
          res.on('end', () => resolve(cert.serialNumber));
        });
        req.on('error', reject);
        req.end();
      });
      const before = await serial();
      // The rotated certificate: same paths, new content (a new serial from the same CA).
      execFileSync('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
        '-days', '2', '-extfile', 'server.ext'], { cwd: dir, stdio: 'ignore' });
      const restapi = testConfig('a', { certfile: file('server.crt'), keyfile: file('server.key'), cafile: file('ca.crt'), verify_client: 'optional' }).restapi;
      expect(reloadTls(api.app.server as never, restapi, { ...restapi })).toEqual({ kind: 'applied' });
      const after = await serial();
      expect(after).not.toBe(before);
      expect(reloadTls(api.app.server as never, restapi, { ...restapi, verify_client: 'required' })).toMatchObject({ kind: 'restart', reason: 'restapi.verify_client changed' });
      expect(reloadTls(api.app.server as never, restapi, testConfig('a').restapi)).toMatchObject({ kind: 'restart', reason: 'restapi.certfile was removed' });
      expect(() => reloadTls(api.app.server as never, restapi, { ...restapi, keyfile: file('missing.key') })).toThrow(/restapi\.keyfile: cannot read/);
      expect(await serial()).toBe(after);
    } finally {
      await api.app.close();
    }
  });

  it('buildHttpsOptions maps verify_client and names an unreadable file', () => {
    const restapi = testConfig('a', { certfile: file('server.crt'), keyfile: file('server.key'), cafile: file('ca.crt') }).restapi;
    expect(buildHttpsOptions({ ...restapi, verify_client: 'required' })).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(buildHttpsOptions({ ...restapi, verify_client: 'optional' })).toMatchObject({ requestCert: true, rejectUnauthorized: false });
    expect(buildHttpsOptions(restapi)).toMatchObject({ requestCert: false, rejectUnauthorized: false });
    expect(buildHttpsOptions(testConfig().restapi)).toBeNull();
    // keyfile_password decrypts an encrypted keyfile (it used to be read and then dropped).
    expect(buildHttpsOptions({ ...restapi, keyfile_password: 'key-pass' })).toMatchObject({ passphrase: 'key-pass' });
    expect(buildHttpsOptions(restapi)).not.toHaveProperty('passphrase');
    expect(() => buildHttpsOptions({ ...restapi, keyfile: file('missing.key') }))
      .toThrow(`restapi.keyfile: cannot read '${file('missing.key')}' (ENOENT)`);
  });
});
