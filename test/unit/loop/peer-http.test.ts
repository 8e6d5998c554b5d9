import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestApiConfig } from '../../../src/config/types.js';
import { createPeerHttp } from '../../../src/loop/peer-http.js';
import { probePeer } from '../../../src/loop/peers.js';
import { member } from '../core/builders.js';

const TLS = resolve(import.meta.dirname, '../../fixtures/tls');
const file = (name: string): string => resolve(TLS, name);

// A member's REST API as Patroni's behave suite configures it: https with one self-signed
// certificate as CA, server and client certificate, and verify_client: required. The
// certificate names batman.patroni; the api_url names 127.0.0.1 (Patroni does not check that).
let server: Server;
let url: string;
const seenAuth: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer({
    cert: readFileSync(file('member.crt')), key: readFileSync(file('member.key')), ca: readFileSync(file('member.crt')),
    requestCert: true, rejectUnauthorized: true,
  }, (req, res) => {
    seenAuth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ state: 'running', role: 'replica', timeline: 1, xlog: { received_location: 4096, replayed_location: 4000 }, replication_state: 'streaming' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/patroni`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const restapi = (over: Partial<RestApiConfig> = {}): RestApiConfig => ({
  listen: { host: '127.0.0.1', port: 8008 }, connect_address: { host: '127.0.0.1', port: 8008 }, allowlist: [],
  certfile: file('member.crt'), keyfile: file('member.key'), cafile: file('member.crt'), verify_client: 'required', ...over,
});

describe("the agent's requests to other members' REST APIs", () => {
  it('probe a TLS API that requires client certificates with the restapi certificate and CA (a plain fetch found the candidate unreachable)', async () => {
    const http = createPeerHttp(() => restapi({ authentication: { username: 'u', password: 'p' } }));
    const probe = await probePeer(member('pg2', { apiUrl: url }), { timeoutMs: 2000, http });
    expect(probe).toMatchObject({ name: 'pg2', reachable: true, role: 'replica', walPosition: 4096, streaming: true });
    expect(seenAuth.at(-1)).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('still verify the member against the CA: a certificate the CA did not sign is refused', async () => {
    const http = createPeerHttp(() => restapi({ cafile: file('stranger.crt') }));
    const probe = await probePeer(member('pg2', { apiUrl: url }), { timeoutMs: 2000, http });
    expect(probe).toMatchObject({ reachable: false });
  });

  it('without a client certificate the member refuses the handshake (what the probe did before)', async () => {
    const { certfile: _c, keyfile: _k, ...noClientCert } = restapi();
    const http = createPeerHttp(() => noClientCert);
    await expect(http.getJson(url, { timeoutMs: 2000 })).rejects.toThrow();
  });

  it('a missing file is an error naming the key', async () => {
    const http = createPeerHttp(() => restapi({ cafile: '/nonexistent/ca.pem' }));
    await expect(http.getJson(url, { timeoutMs: 2000 })).rejects.toThrow(/restapi\.cafile: cannot read '\/nonexistent\/ca\.pem'/);
  });
});
