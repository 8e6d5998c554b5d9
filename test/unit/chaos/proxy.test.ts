// The fault suite's TCP proxy against a local echo server: it forwards, a blackhole stalls open
// connections and delivers their bytes after restore, a reset variant resets them.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from '../../chaos/proxy.js';
import { freePort, waitFor } from '../../harness/index.js';

let echo: net.Server;
let echoPort: number;

beforeAll(async () => {
  echoPort = await freePort();
  echo = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(echoPort, '127.0.0.1', () => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => echo.close(() => r()));
});

function connect(port: number): Promise<{ sock: net.Socket; got: () => string; closed: () => string | null }> {
  return new Promise((resolve, reject) => {
    let data = '';
    let closed: string | null = null;
    const sock = net.connect(port, '127.0.0.1', () => resolve({ sock, got: () => data, closed: () => closed }));
    sock.on('data', (c: Buffer) => { data += c.toString(); });
    sock.on('error', (e: NodeJS.ErrnoException) => { closed = e.code ?? 'error'; reject(e); });
    sock.on('close', () => { closed ??= 'closed'; });
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TcpProxy', () => {
  it('forwards both ways and counts open connections', async () => {
    const p = await TcpProxy.start('t', echoPort);
    const c = await connect(p.port);
    c.sock.write('hello');
    await waitFor('echo', () => c.got() === 'hello');
    expect(p.openConnections()).toBe(1);
    c.sock.destroy();
    await p.close();
  });

  it('blackhole stalls an open connection and delivers its bytes after restore; new connections get nothing', async () => {
    const p = await TcpProxy.start('t', echoPort);
    const c = await connect(p.port);
    p.cut('blackhole');
    c.sock.write('during');
    const fresh = await connect(p.port);
    fresh.sock.write('x');
    await settle(300);
    expect(c.got()).toBe('');
    expect(fresh.got()).toBe('');
    p.restore();
    await waitFor('bytes after restore', () => c.got() === 'during');
    c.sock.destroy();
    fresh.sock.destroy();
    await p.close();
  });

  it('reset resets open connections and refuses new ones until restore', async () => {
    const p = await TcpProxy.start('t', echoPort);
    const c = await connect(p.port).then((x) => { x.sock.on('error', () => undefined); return x; });
    p.cut('reset');
    await waitFor('open connection reset', () => c.closed());
    const fresh = await connect(p.port).then((x) => { x.sock.on('error', () => undefined); return x; }).catch(() => null);
    if (fresh) await waitFor('new connection reset', () => fresh.closed());
    p.restore();
    const after = await connect(p.port);
    after.sock.write('ok');
    await waitFor('echo after restore', () => after.got() === 'ok');
    after.sock.destroy();
    await p.close();
  });
});
