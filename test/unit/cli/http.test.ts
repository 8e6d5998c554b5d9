import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerMessage, apiBase, createRestClient, RestError } from '../../../src/cli/http.js';
import { WriteWindowMonitor } from '../../../src/cli/write-probe.js';
import { FakeWorld, makeCtx } from './fakes.js';

let server: Server;
let base: string;
const seen: { method: string; url: string; auth: string | undefined; body: string }[] = [];

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => { s += c.toString(); });
    req.on('end', () => resolve(s));
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void body(req).then((b) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body: b });
      if (req.url === '/slow') return;
      if (req.headers.authorization !== `Basic ${Buffer.from('ops:pw').toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"authentication required"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('Successfully switched over to "b"');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('the REST client', () => {
  it('sends JSON bodies with basic auth and returns any status as a value', async () => {
    const client = createRestClient({ auth: { username: 'ops', password: 'pw' }, insecure: false });
    const a = await client.call({ method: 'POST', url: `${base}/switchover`, body: { leader: 'a' }, timeoutMs: 2000 });
    expect(a).toEqual({ status: 200, text: 'Successfully switched over to "b"', json: undefined });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/switchover', body: '{"leader":"a"}' });
    const denied = await createRestClient({ insecure: false }).call({ method: 'PATCH', url: `${base}/config`, body: {}, timeoutMs: 2000 });
    expect(denied.status).toBe(401);
    expect(answerMessage(denied)).toBe('authentication required');
  });

  it('turns transport failures into RestError sentences', async () => {
    const client = createRestClient({ insecure: false });
    await expect(client.call({ method: 'GET', url: `${base}/slow`, timeoutMs: 100 })).rejects.toThrow(`no answer from ${base}/slow within 100 ms`);
    await expect(client.call({ method: 'GET', url: 'http://127.0.0.1:1/patroni', timeoutMs: 1000 })).rejects.toBeInstanceOf(RestError);
  });

  it('derives the API base from api_url', () => {
    expect(apiBase('https://10.0.0.1:8008/patroni')).toBe('https://10.0.0.1:8008');
    expect(apiBase('http://[::1]:8008/patroni')).toBe('http://[::1]:8008');
  });
});

describe('the write-unavailability window', () => {
  it('runs from the last moment the old leader was writable to the first moment another member was', async () => {
    const w = new FakeWorld();
    const real = { monoMs: () => performance.now(), wallNowMs: () => Date.now() };
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const writable = new Map([['a', true], ['b', false], ['c', false]]);
    const ctx = {
      ...makeCtx(w), clock: real, sleep,
      pgProbe: (m: { name: string }) => ({ check: async () => writable.get(m.name) ?? false, close: async () => undefined }),
    };
    const mon = new WriteWindowMonitor(ctx, 'a', [...w.members.values()].map((m) => m.view), 5);
    mon.start();
    await sleep(100);
    writable.set('a', false);
    const stoppedAt = performance.now();
    await sleep(200);
    writable.set('c', true);
    const backAt = performance.now();
    await sleep(100);
    await mon.stop();
    const r = mon.result();
    expect(r?.source).toBe('postgresql');
    expect(mon.newWriter()).toBe('c');
    expect(r?.lastOldMs).toBeLessThanOrEqual(stoppedAt);
    expect(r?.firstNewMs).toBeGreaterThanOrEqual(backAt);
    // Probed every 5 ms: the window is the real one within a few probe intervals.
    expect(r?.gapMs).toBeGreaterThanOrEqual(backAt - stoppedAt);
    expect(r?.gapMs).toBeLessThan(backAt - stoppedAt + 100);
  });
});
