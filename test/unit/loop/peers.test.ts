// Peer probes read a URL from etcd (a member's api_url): http(s) only, no redirects, a bounded
// body (issue 13). A real HTTP server on loopback plays the member.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberView } from '../../../src/core/cluster.js';
import { createPeerHttp, MAX_STATUS_BYTES } from '../../../src/loop/peer-http.js';
import { probePeer } from '../../../src/loop/peers.js';

let server: Server;
let base = '';
let redirectedTo = 0;
const STATUS = JSON.stringify({ state: 'running', role: 'replica', xlog: { received_location: 100, replayed_location: 90 }, timeline: 1 });

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/patroni') return res.writeHead(200, { 'content-type': 'application/json' }).end(STATUS);
    if (req.url === '/redirect') return res.writeHead(302, { location: '/elsewhere' }).end();
    if (req.url === '/elsewhere') {
      redirectedTo++;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(STATUS);
    }
    if (req.url === '/huge') {
      // Chunked, no Content-Length: the cap must hold while reading.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"pad": "');
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < (MAX_STATUS_BYTES / chunk.length) + 4; i++) res.write(chunk);
      return res.end('"}');
    }
    return res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const http = createPeerHttp(() => ({}) as never);
const member = (apiUrl: string): MemberView => ({ name: 'b', apiUrl } as unknown as MemberView);

describe('probePeer', () => {
  it('reads a member status', async () => {
    expect(await probePeer(member(`${base}/patroni`), { timeoutMs: 2000, http })).toMatchObject({ reachable: true, walPosition: 100 });
  });

  it('refuses a data: URL (fetch would "read" it without any network)', async () => {
    const url = `data:application/json,${encodeURIComponent(JSON.stringify({ state: 'running', role: 'primary', xlog: { location: 1e15 } }))}`;
    const p = await probePeer(member(url), { timeoutMs: 2000, http });
    expect(p).toMatchObject({ reachable: false, error: expect.stringMatching(/scheme data: is not http or https/) });
  });

  it('does not follow a redirect', async () => {
    const p = await probePeer(member(`${base}/redirect`), { timeoutMs: 2000, http: createPeerHttp(() => ({ authentication: { username: 'u', password: 'secret' } }) as never) });
    expect(p).toMatchObject({ reachable: false, error: expect.stringMatching(/redirect \(HTTP 302\); not followed/) });
    expect(redirectedTo).toBe(0);
  });

  it('stops reading a body larger than the cap', async () => {
    const p = await probePeer(member(`${base}/huge`), { timeoutMs: 5000, http });
    expect(p).toMatchObject({ reachable: false, error: expect.stringMatching(/larger than 262144 bytes/) });
  });
});
